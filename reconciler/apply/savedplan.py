"""Saved plans: ``plan --out FILE`` writes one, ``apply --plan FILE`` executes it or refuses.

The file holds the whole plan as ``plan.codec`` writes it (the same codec the JSON renderer
uses, so ``protected``, adoptions, notes and filled-in defaults survive), each change's request
body or patch with every secret replaced by a reference (``project/env/key/name#config.KEY``),
its source, and a keyed fingerprint; the flags it was planned with (``--allow-delete``,
``--force``, targets); and the manifests it was made from, by path relative to the plan file
and digest. It holds no secret. ``integrity`` checks the file itself (checksum; with
``RECONCILER_FINGERPRINT_KEY``, the MAC over the whole file and that every secret is pinned).
``open_saved`` does every check that needs no request (integrity, manifests unchanged, API host,
secrets re-resolved from the manifests against their fingerprints); ``check_live`` then refuses
a plan whose stores changed since planning. Any reason refuses the plan whole, before a write.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.apply.integrity import (
    FINGERPRINT_KEY_VAR,
    check_manifests,
    checksum,
    fingerprint,
    integrity_reasons,
    mac,
    record_manifests,
)
from reconciler.errors import PlanError
from reconciler.model import DesiredState, LiveStore, Secret
from reconciler.plan.changes import Plan
from reconciler.plan.codec import SECRET_MARK, MalformedPlanError, plan_from_dict, plan_to_dict
from reconciler.plan.normalise import desired_config

KIND = "reconciler-plan"
FORMAT_VERSION = "3"


class StalePlanError(PlanError):
    """The saved plan may not be applied any more; the message names every reason."""


@dataclass(frozen=True, slots=True)
class PlanFlags:
    """The flags a plan was made with; ``apply --plan`` checks safety with exactly these."""

    allow_delete: bool = False
    force: bool = False
    targets: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "allow_delete": self.allow_delete,
            "force": self.force,
            "targets": list(self.targets),
        }


def fingerprint_key(env: Mapping[str, str]) -> str | None:
    return env.get(FINGERPRINT_KEY_VAR) or None


def dump(
    plan: Plan,
    *,
    api_host: str,
    manifests: Sequence[str],
    plan_file: str,
    flags: PlanFlags,
    env: Mapping[str, str],
    now: datetime | None = None,
) -> str:
    """The saved-plan file's text. Secrets become references; nothing secret is written.
    ``manifests`` are the files the plan was made from; ``plan_file`` is where it is written."""
    key = fingerprint_key(env)

    def encode(ref: str, secret: Secret) -> object:
        print_ = fingerprint(key, ref, secret.value) if key else None
        return {SECRET_MARK: {"ref": ref, "source": secret.source, "fingerprint": print_}}

    document: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "api_host": api_host,
        "manifests": record_manifests(manifests, plan_file),
        "flags": flags.to_dict(),
        "signed": key is not None,
        "secrets_pinned": key is not None,
        "plan": plan_to_dict(plan, encode),
    }
    document["checksum"] = checksum(document)
    document["mac"] = mac(key, document) if key else None
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def parse(text: str, *, path: str) -> dict[str, Any]:
    """The saved plan's JSON document; a file that is not one is an error."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise PlanError(f"{path}: not a saved plan: invalid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise PlanError(f"{path}: not a saved plan written by 'reconciler plan --out'")
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanError(
            f"{path}: unsupported saved-plan format {document.get('format_version')!r}"
            f" (this version reads {FORMAT_VERSION!r}): run 'reconciler plan --out' again"
        )
    return document


def flags_of(document: Mapping[str, Any]) -> PlanFlags:
    """The flags the plan was made with; a malformed entry is a malformed plan."""
    flags = document.get("flags")
    if not isinstance(flags, dict):
        raise MalformedPlanError("plan file: 'flags' must be an object")
    allow, force, targets = flags.get("allow_delete"), flags.get("force"), flags.get("targets")
    if not (
        isinstance(allow, bool)
        and isinstance(force, bool)
        and isinstance(targets, list)
        and all(isinstance(t, str) for t in targets)
    ):
        raise MalformedPlanError("plan file: 'flags' must hold allow_delete, force and targets")
    return PlanFlags(allow, force, tuple(targets))


def file_problems(document: Mapping[str, Any], key: str | None) -> tuple[list[str], list[str]]:
    """(reasons the file itself may not be trusted, warnings): checksum, MAC, signature."""
    reasons = integrity_reasons(document, key)
    warnings = []
    if key is None and document.get("signed") is True:
        warnings.append(f"the plan is signed, but {FINGERPRINT_KEY_VAR} is not set to check it")
    elif key is None:
        warnings.append(
            f"the plan is unsigned and its secrets are not pinned (no {FINGERPRINT_KEY_VAR}"
            " when it was made): nothing proves it is the plan that was reviewed, and its"
            " secrets are re-read from the manifests as they are now"
        )
    return reasons, warnings


def manifest_paths(document: Mapping[str, Any], *, path: str) -> tuple[list[str], list[str]]:
    """(the plan's manifests as paths from here, reasons they may not be used)."""
    return check_manifests(document.get("manifests"), path)


def refuse(path: str, reasons: Sequence[str]) -> StalePlanError:
    return StalePlanError(
        f"refusing to apply {path}: it is stale or not trustworthy, nothing was changed:\n"
        + "\n".join(f"  - {r}" for r in reasons)
        + "\nre-run 'reconciler plan --out' and review the new plan"
    )


def open_saved(
    document: Mapping[str, Any],
    *,
    path: str,
    api_host: str,
    desired: DesiredState,
    env: Mapping[str, str],
    reasons: list[str],
) -> Plan | None:
    """The executable plan, its secrets re-resolved from ``desired`` and checked; every
    problem that needs no request is appended to ``reasons`` (the plan is ``None`` when the
    file cannot be read as a plan)."""
    if document.get("api_host") != api_host:
        reasons.append(f"the plan was made against {document.get('api_host')}, not {api_host}")
    key = fingerprint_key(env)
    if key is None and document.get("signed") is True:
        reasons.append(
            f"{FINGERPRINT_KEY_VAR} is not set, so the plan's signature and pinned secrets"
            " cannot be checked"
        )
    resolver = _Resolver(desired, key, reasons)
    try:
        return plan_from_dict(document.get("plan"), resolver.resolve)
    except MalformedPlanError as error:
        reasons.append(f"the plan file is malformed: {error}")
        return None


def check_live(plan: Plan, live: Sequence[LiveStore], *, path: str) -> None:
    """Refuse the plan when a store it touches changed, vanished or appeared since planning."""
    reasons = _stale_changes(plan, live)
    if reasons:
        raise refuse(path, reasons)


class _Resolver:
    """Secrets of a saved plan, re-read from the manifests as the planner sees them (defaults
    filled in) and checked against their fingerprints; problems go to ``reasons``."""

    def __init__(self, desired: DesiredState, key: str | None, reasons: list[str]) -> None:
        self.declared = {
            f"{s.project}/{s.environment}/{s.integration_key}/{s.name}": s for s in desired.stores
        }
        self.key = key
        self.reasons = reasons

    def resolve(self, ref: str, meta: Mapping[str, Any]) -> Secret:
        base, _, field = ref.partition("#")
        config_key = field.removeprefix("config.")
        store = self.declared.get(base)
        config = desired_config(store.integration_key, store.config) if store else {}
        current = config.get(config_key)
        if current is None:
            self.reasons.append(f"the secret {ref} is no longer declared in the manifests")
            return Secret("", str(meta.get("source", "")))
        secret = current if isinstance(current, Secret) else Secret(str(current), "inline")
        expected = meta.get("fingerprint")
        if self.key and not expected:
            self.reasons.append(
                f"the secret {ref} is not pinned (no fingerprint), and {FINGERPRINT_KEY_VAR}"
                " is set: every secret of a plan must be pinned"
            )
        elif self.key:
            actual = fingerprint(self.key, ref, secret.value)
            if not hmac.compare_digest(str(expected), actual):
                self.reasons.append(
                    f"the secret {ref} no longer matches the value the plan was made with"
                )
        return secret


def _stale_changes(plan: Plan, live: Sequence[LiveStore]) -> list[str]:
    """Why the plan's changes no longer fit the live stores: changed, gone, or taken."""
    reasons = []
    by_id = {s.id: s for s in live}
    for change in plan.changes:
        if not change.is_change:
            continue
        address, version = change.address, change.version
        if change.id is not None:
            current = by_id.get(change.id)
            if current is None:
                reasons.append(f"{address} ({change.id}) no longer exists in LaunchDarkly")
            elif current.version != version:
                reasons.append(
                    f"{address} changed since the plan was made "
                    f"(version {version} then, {current.version} now)"
                )
            continue
        name = change.body.get("name") if change.body is not None else None
        if any(s.slot == address.slot and s.name == name for s in live):
            reasons.append(f"{address} was created by someone else since the plan was made")
    return reasons
