"""Saved plans: ``plan --out FILE`` writes one, ``apply --plan FILE`` executes it or refuses.

The file holds the whole plan as ``plan.codec`` writes it (the same codec the JSON renderer
uses, so ``protected``, adoptions, notes and filled-in defaults survive), each change's request
body or patch with every secret replaced by a reference (``project/env/key/name#config.KEY``),
its source, and a keyed fingerprint (HMAC-SHA256 keyed by ``RECONCILER_FINGERPRINT_KEY``; without a
key the plan says its secrets are not pinned). It holds no secret. A SHA-256 checksum over the
canonical content detects edits. ``restore`` re-resolves the secrets from the manifests the plan
was made from and, with the live stores, lists every reason the plan may no longer be applied
(edited file, other API host, a secret that no longer matches its fingerprint, a store changed
since planning); any reason refuses the plan whole, before a single write.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import PlanError
from reconciler.model import DesiredState, LiveStore, Secret
from reconciler.plan.changes import Plan
from reconciler.plan.codec import SECRET_MARK, MalformedPlanError, plan_from_dict, plan_to_dict
from reconciler.plan.normalise import desired_config

KIND = "reconciler-plan"
FORMAT_VERSION = "2"
FINGERPRINT_KEY_VAR = "RECONCILER_FINGERPRINT_KEY"


class StalePlanError(PlanError):
    """The saved plan may not be applied any more; the message names every reason."""


def _fingerprint(key: str, ref: str, value: str) -> str:
    digest = hmac.new(key.encode(), f"{ref}\0{value}".encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def _checksum(document: Mapping[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def dump(
    plan: Plan,
    *,
    api_host: str,
    manifests: Sequence[str],
    env: Mapping[str, str],
    now: datetime | None = None,
) -> str:
    """The saved-plan file's text. Secrets become references; nothing secret is written."""
    key = env.get(FINGERPRINT_KEY_VAR) or None

    def encode(ref: str, secret: Secret) -> object:
        print_ = _fingerprint(key, ref, secret.value) if key else None
        return {SECRET_MARK: {"ref": ref, "source": secret.source, "fingerprint": print_}}

    document: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "api_host": api_host,
        "manifests": list(manifests),
        "secrets_pinned": key is not None,
        "plan": plan_to_dict(plan, encode),
    }
    document["checksum"] = _checksum(document)
    return json.dumps(document, sort_keys=True, indent=2) + "\n"


def parse(text: str, *, path: str) -> dict[str, Any]:
    """The saved plan's JSON document; a file that is not one is an error."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(f"{path}: not a saved plan: invalid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise PlanError(f"{path}: not a saved plan written by 'reconciler plan --out'")
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanError(f"{path}: unsupported saved-plan format {document.get('format_version')!r}")
    return document


def manifests_of(document: Mapping[str, Any]) -> list[str]:
    return [str(p) for p in document.get("manifests", [])]


def restore(
    document: Mapping[str, Any],
    *,
    path: str,
    api_host: str,
    desired: DesiredState,
    live: Sequence[LiveStore],
    env: Mapping[str, str],
) -> tuple[Plan, list[str]]:
    """The executable plan, and warnings; raises ``StalePlanError`` naming every reason the
    plan may not be applied."""
    reasons: list[str] = []
    warnings: list[str] = []
    if document.get("checksum") != _checksum(document):
        reasons.append("the plan file was edited after it was written (checksum mismatch)")
    if document.get("api_host") != api_host:
        reasons.append(f"the plan was made against {document.get('api_host')}, not {api_host}")
    if not document.get("secrets_pinned"):
        warnings.append(
            f"{path}: secrets were not pinned (no {FINGERPRINT_KEY_VAR} at plan time); "
            "they are re-read from the manifests as they are now"
        )
    resolver = _Resolver(desired, env.get(FINGERPRINT_KEY_VAR) or None, reasons)
    try:
        plan: Plan | None = plan_from_dict(document.get("plan"), resolver.resolve)
    except MalformedPlanError as error:
        reasons.append(f"the plan file is malformed: {error}")
        plan = None
    if plan is not None:
        reasons.extend(_stale_changes(plan, live))
    if reasons or plan is None:
        raise StalePlanError(
            f"refusing to apply {path}: it is stale, nothing was changed:\n"
            + "\n".join(f"  - {r}" for r in reasons)
            + "\nre-run 'reconciler plan --out' and review the new plan"
        )
    return plan, warnings


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
        if expected and not self.key:
            self.reasons.append(
                f"{FINGERPRINT_KEY_VAR} is not set, so the pinned secret {ref} cannot be checked"
            )
        elif expected and self.key:
            actual = _fingerprint(self.key, ref, secret.value)
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
