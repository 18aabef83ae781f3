"""``reconciler show PLANFILE``: print a saved plan as ``plan`` would have, without a request.

The file is read through the one plan codec (``plan_from_dict``) and rendered by the same
renderers as ``plan``. A file that is not a saved plan, is malformed, or whose checksum (or,
with ``RECONCILER_FINGERPRINT_KEY`` set, whose MAC) does not match is an error, exit 1. Secrets
are not resolved: they are shown as ``(sensitive)``, as everywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler.apply import savedplan
from reconciler.apply.integrity import integrity_reasons
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import render
from reconciler.errors import EXIT_OK, ConfigError, PlanError
from reconciler.model import Secret
from reconciler.plan.codec import MalformedPlanError, plan_from_dict


def _unresolved(ref: str, meta: Mapping[str, Any]) -> Secret:
    return Secret("", str(meta.get("source", "")))


def main(args: argparse.Namespace, io: IO) -> int:
    path = args.planfile
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {getattr(error, 'strerror', error)}") from None
    document = savedplan.parse(text, path=path)
    key = savedplan.fingerprint_key(io.env)
    signed = document.get("signed") is True
    reasons = integrity_reasons(document, key if signed else None)
    _, warnings = savedplan.file_problems(document, key if signed else None)
    try:
        plan_ = plan_from_dict(document.get("plan"), _unresolved)
    except MalformedPlanError as error:
        reasons.append(f"the plan file is malformed: {error}")
    if reasons:
        raise PlanError(f"{path} cannot be shown:\n" + "\n".join(f"  - {r}" for r in reasons))
    for warning in warnings:
        io.stderr.write(f"warning: {path}: {warning}\n")
    flags = savedplan.flags_of(document)
    if flags.targets:
        io.stderr.write(f"The plan is targeted: {', '.join(flags.targets)}\n")
    api_host = str(document.get("api_host"))
    io.stdout.write(render(plan_, args, io, api_host, drift=False))
    io.stderr.write(f"Saved plan {path}: made {document.get('created_at')} against {api_host}\n")
    return EXIT_OK
