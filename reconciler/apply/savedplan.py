"""Saved plans: ``plan --out FILE`` writes one, ``apply --plan FILE`` executes it or refuses.

The file is the JSON plan of SPEC §6 plus what execution needs: each change's request body or
patch, with every secret replaced by a reference (``project/env/key/name#config.KEY``), its
source, and a keyed fingerprint (HMAC-SHA256 keyed by ``RECONCILER_FINGERPRINT_KEY``; without a
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
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import PlanError
from reconciler.model import Address, DesiredState, LiveStore, ProjectSettings, Secret
from reconciler.plan.planner import Change, Plan
from reconciler.render.plan import plan_to_dict

KIND = "reconciler-plan"
FORMAT_VERSION = "1"
FINGERPRINT_KEY_VAR = "RECONCILER_FINGERPRINT_KEY"
SECRET_MARK = "$secret"


class StalePlanError(PlanError):
    """The saved plan may not be applied any more; the message names every reason."""


def _fingerprint(key: str, ref: str, value: str) -> str:
    digest = hmac.new(key.encode(), f"{ref}\0{value}".encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest}"


def _checksum(document: Mapping[str, Any]) -> str:
    body = {k: v for k, v in document.items() if k != "checksum"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _map_config(item: Mapping[str, object], fn: Callable[[str, object], object]) -> dict[str, Any]:
    """A copy of a create body or patch op with ``fn(key, value)`` applied to config values."""
    out: dict[str, Any] = dict(item)
    field = "config" if "config" in item else "value" if item.get("path") == "/config" else None
    if field is not None and isinstance(item[field], Mapping):
        config = item[field]
        assert isinstance(config, Mapping)
        out[field] = {str(k): fn(str(k), v) for k, v in config.items()}
    return out


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
    execution = []
    for change in plan.changes:
        if not change.is_change:
            continue
        name = change.desired.name if change.desired else change.live.name if change.live else ""
        base = "/".join((*change.address.slot, name))

        def encode(config_key: str, value: object, base: str = base) -> object:
            if not isinstance(value, Secret):
                return value
            ref = f"{base}#config.{config_key}"
            print_ = _fingerprint(key, ref, value.value) if key else None
            return {SECRET_MARK: {"ref": ref, "source": value.source, "fingerprint": print_}}

        execution.append(
            {
                "address": [*change.address.slot, change.address.name],
                "name": name,
                "action": change.action,
                "id": change.id,
                "version": change.version,
                "body": _map_config(change.body, encode) if change.body else None,
                "patch": [_map_config(op, encode) for op in change.patch],
            }
        )
    document: dict[str, Any] = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "created_at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
        "api_host": api_host,
        "manifests": list(manifests),
        "owner_tag": plan.owner_tag,
        "live_in_scope": plan.live_in_scope,
        "live_by_project": dict(plan.live_by_project),
        "safety": {
            key: {"changeThreshold": p.change_threshold, "minStores": p.min_stores}
            for key, p in plan.safety.items()
        },
        "projects": list(plan.projects),
        "secrets_pinned": key is not None,
        "plan": plan_to_dict(plan, api_host=api_host),
        "execution": execution,
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
    key = env.get(FINGERPRINT_KEY_VAR) or None
    if not document.get("secrets_pinned"):
        warnings.append(
            f"{path}: secrets were not pinned (no {FINGERPRINT_KEY_VAR} at plan time); "
            "they are re-read from the manifests as they are now"
        )
    declared = {
        f"{s.project}/{s.environment}/{s.integration_key}/{s.name}": s for s in desired.stores
    }

    def resolve(config_key: str, value: object) -> object:
        if not (isinstance(value, Mapping) and SECRET_MARK in value):
            return value
        meta = value[SECRET_MARK]
        ref = str(meta.get("ref", ""))
        base, _, _ = ref.partition("#")
        store = declared.get(base)
        current = store.config.get(config_key) if store is not None else None
        if current is None:
            reasons.append(f"the secret {ref} is no longer declared in the manifests")
            return Secret("", str(meta.get("source", "")))
        secret = current if isinstance(current, Secret) else Secret(str(current), "inline")
        expected = meta.get("fingerprint")
        if expected and not key:
            reasons.append(
                f"{FINGERPRINT_KEY_VAR} is not set, so the pinned secret {ref} cannot be checked"
            )
        elif (
            expected
            and key
            and not hmac.compare_digest(str(expected), _fingerprint(key, ref, secret.value))
        ):
            reasons.append(f"the secret {ref} no longer matches the value the plan was made with")
        return secret

    by_id = {s.id: s for s in live}
    changes: list[Change] = []
    for number, entry in enumerate(document.get("execution", []), start=1):
        try:
            changes.append(_entry_change(entry, by_id, live, resolve, reasons))
        except (KeyError, TypeError, ValueError, AttributeError):
            reasons.append(f"change #{number} of the plan file is malformed")
    if reasons:
        raise StalePlanError(
            f"refusing to apply {path}: it is stale, nothing was changed:\n"
            + "\n".join(f"  - {r}" for r in reasons)
            + "\nre-run 'reconciler plan --out' and review the new plan"
        )
    plan = Plan(
        changes=tuple(changes),
        unmanaged=(),
        projects=tuple(document.get("projects", ())),
        live_in_scope=int(document.get("live_in_scope", 0)),
        owner_tag=str(document.get("owner_tag", "")),
        live_by_project={str(k): int(v) for k, v in document.get("live_by_project", {}).items()},
        safety={
            str(k): ProjectSettings(
                str(k), change_threshold=v.get("changeThreshold"), min_stores=v.get("minStores")
            )
            for k, v in document.get("safety", {}).items()
        },
    )
    return plan, warnings


def _entry_change(
    entry: Mapping[str, Any],
    by_id: Mapping[str, LiveStore],
    live: Sequence[LiveStore],
    resolve: Callable[[str, object], object],
    reasons: list[str],
) -> Change:
    """One change of the file's ``execution`` list, checked against the live stores."""
    project, environment, integration_key, name_part = entry["address"]
    address = Address(project, environment, integration_key, name_part)
    action, store_id, version = entry["action"], entry.get("id"), entry.get("version")
    if action not in ("create", "update", "delete"):
        raise ValueError(action)
    if store_id is not None:
        current = by_id.get(store_id)
        if current is None:
            reasons.append(f"{address} ({store_id}) no longer exists in LaunchDarkly")
        elif current.version != version:
            reasons.append(
                f"{address} changed since the plan was made "
                f"(version {version} then, {current.version} now)"
            )
    elif any(s.slot == address.slot and s.name == entry.get("name") for s in live):
        reasons.append(f"{address} was created by someone else since the plan was made")
    body = entry.get("body")
    return Change(
        address=address,
        action=action,
        id=store_id,
        version=version,
        before=None,
        after=None,
        patch=tuple(_map_config(op, resolve) for op in entry.get("patch", [])),
        body=_map_config(body, resolve) if body else None,
    )
