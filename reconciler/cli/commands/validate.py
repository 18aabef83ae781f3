"""``reconciler validate``: parse and validate manifests, offline: no network, no secrets.

An unset ``${VAR}`` is a note on stderr (CI on forks and pre-commit hooks have no secrets);
``--require-env`` makes it an error, as it always is for ``plan``, ``apply`` and ``drift``.
"""

from __future__ import annotations

import argparse

from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import limits_of
from reconciler.errors import EXIT_OK
from reconciler.manifest.load import load_manifests


def main(args: argparse.Namespace, io: IO) -> int:
    result = load_manifests(
        args.paths, env=io.env, require_env=args.require_env, limits=limits_of(args)
    )
    for warning in result.warnings:
        io.stderr.write(f"warning: {warning}\n")
    for note in result.notes:
        io.stderr.write(f"note: {note}\n")
    stores = len(result.state.stores)
    io.stdout.write(
        f"{len(result.files)} manifest file(s) valid: {stores} store(s) in "
        f"{len(result.state.projects)} project(s).\n"
    )
    return EXIT_OK
