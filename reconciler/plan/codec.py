"""The one codec between ``Plan``/``Change`` and JSON-able dicts, used by renderers and saved plans.

``plan_to_dict`` writes every compared field of a plan (changes with their bodies, patches,
secret checks, notes, ``protected`` and ``adopt``; unmanaged stores; projects, counts and
safety settings); ``plan_from_dict`` reads it back, so ``plan_from_dict(plan_to_dict(p, enc),
dec) == p`` for any plan. Secrets are never written by the codec itself: each ``Secret`` found
in a create body or a ``/config`` patch value is handed, with its reference
(``project/env/key/name#config.KEY``), to the caller's ``SecretEncoder``; the JSON renderer
masks it, a saved plan writes a reference and a keyed fingerprint. On reading, a value marked
``{"$secret": ...}`` goes to the caller's ``SecretDecoder``. The stores a change was computed
from (``desired``, ``live``) are inputs, not part of the plan's value: ``desired`` is not
written, and ``live`` only as its list-call view (no config: it holds the API's partial masks),
so that a plan read back still shows each store's health; an unmanaged store keeps the same
view. Malformed input raises ``PlanError`` naming the field; no I/O here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast, get_args

from reconciler.errors import PlanError
from reconciler.model import (
    Address,
    LiveStore,
    Location,
    ProjectSettings,
    Secret,
    StoreError,
    StoreStatus,
)
from reconciler.plan.changes import Action, Change, Plan, SecretCheck, SecretState, Unmanaged

SECRET_MARK = "$secret"

SecretEncoder = Callable[[str, Secret], object]
"""``(reference, secret) -> JSON value`` written in place of the secret."""
SecretDecoder = Callable[[str, Mapping[str, Any]], Secret]
"""``(reference, the mapping under "$secret") -> Secret`` read back."""


class MalformedPlanError(PlanError):
    """A plan document does not have the shape ``plan_to_dict`` writes."""


def change_name(change: Change) -> str:
    """The store's name: declared, live, or from the address."""
    if change.desired is not None:
        return change.desired.name
    if change.live is not None:
        return change.live.name
    if change.body is not None and isinstance(change.body.get("name"), str):
        return str(change.body["name"])
    return change.address.name or ""


def secret_reference(address: Address, name: str, config_key: str) -> str:
    return "/".join((*address.slot, name)) + f"#config.{config_key}"


# -- writing ----------------------------------------------------------------------------------


def _map_config(
    item: Mapping[str, object], fn: Callable[[str, object], object]
) -> dict[str, object]:
    """A copy of a create body or patch op with ``fn(key, value)`` applied to config values."""
    out: dict[str, object] = dict(item)
    key = "config" if "config" in item else "value" if item.get("path") == "/config" else None
    if key is not None:
        config = item[key]
        if isinstance(config, Mapping):
            out[key] = {str(k): fn(str(k), v) for k, v in config.items()}
    return out


def mask_config(item: Mapping[str, object], shown: object) -> Mapping[str, object]:
    """A create body or patch op as ``change_to_dict`` writes it (before ``_plain``) with an
    encoder that shows every config secret as ``shown``: ``item`` itself when it holds no
    config."""
    if "config" not in item and item.get("path") != "/config":
        return item
    return _map_config(item, lambda _, value: shown if isinstance(value, Secret) else value)


def change_to_dict(change: Change, secrets: SecretEncoder) -> dict[str, Any]:
    """One change as a JSON-able dict; secrets go through ``secrets``."""
    name = change_name(change)

    def encode(config_key: str, value: object) -> object:
        if isinstance(value, Secret):
            return secrets(secret_reference(change.address, name, config_key), value)
        return value

    a = change.address
    return {
        "address": [a.project, a.environment, a.integration_key, a.name],
        "name": name,
        "action": change.action,
        "id": change.id,
        "version": change.version,
        "before": _plain(change.before),
        "after": _plain(change.after),
        "patch": [_plain(_map_config(op, encode)) for op in change.patch],
        "body": _plain(_map_config(change.body, encode)) if change.body is not None else None,
        "secrets": [[s.key, s.state] for s in change.secrets],
        "reason": change.reason,
        "adopt": change.adopt,
        "notes": list(change.notes),
        "protected": change.protected,
        "live": _live_to_dict(change.live) if change.live is not None else None,
        "critical": change.critical,
    }


def _plain(value: object) -> Any:
    """Tuples to lists, mappings to dicts: the JSON shape of a value (secrets already encoded)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Secret):  # only reached when a caller left a secret outside config
        raise PlanError("a secret outside a store's config cannot be written")
    return value


def _live_to_dict(live: LiveStore) -> dict[str, Any]:
    s = live.status
    return {
        "id": live.id,
        "address": [live.project, live.environment, live.integration_key],
        "name": live.name,
        "on": live.on,
        "tags": list(live.tags),
        "version": live.version,
        "status": {
            "available": s.available,
            "potentiallyStale": s.potentially_stale,
            "lastSync": s.last_sync,
            "lastError": s.last_error,
            "errors": [[e.status_code, e.message, e.timestamp] for e in s.errors],
        },
    }


def _settings_to_dict(p: ProjectSettings) -> dict[str, Any]:
    where = p.location
    return {
        "prune": p.prune,
        "location": [where.file, where.line, where.column] if where is not None else None,
        "changeThreshold": p.change_threshold,
        "minStores": p.min_stores,
    }


def plan_to_dict(plan: Plan, secrets: SecretEncoder) -> dict[str, Any]:
    """The whole plan as a JSON-able dict; secrets go through ``secrets``."""
    return {
        "changes": [change_to_dict(c, secrets) for c in plan.changes],
        "unmanaged": [
            {"address": _address_list(u.address), "id": u.id, "live": _live_to_dict(u.live)}
            for u in plan.unmanaged
        ],
        "projects": list(plan.projects),
        "live_in_scope": plan.live_in_scope,
        "owner_tag": plan.owner_tag,
        "live_by_project": dict(plan.live_by_project),
        "safety": {key: _settings_to_dict(p) for key, p in plan.safety.items()},
        "targets": list(plan.targets),
    }


def _address_list(a: Address) -> list[str | None]:
    return [a.project, a.environment, a.integration_key, a.name]


# -- reading ----------------------------------------------------------------------------------


class _Reader:
    """Typed access to one JSON object; every mistake names ``where`` and the key."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise MalformedPlanError(f"{where}: expected an object")
        self.data: Mapping[str, Any] = data
        self.where = where

    def _get(self, key: str, kinds: tuple[type, ...], optional: bool = False) -> Any:
        value = self.data.get(key)
        if value is None and optional:
            return None
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if not ok:
            names = " or ".join(k.__name__ for k in kinds)
            raise MalformedPlanError(f"{self.where}: '{key}' must be {names}")
        return value

    def text(self, key: str) -> str:
        return cast(str, self._get(key, (str,)))

    def maybe_text(self, key: str) -> str | None:
        return cast("str | None", self._get(key, (str,), optional=True))

    def flag(self, key: str) -> bool:
        return cast(bool, self._get(key, (bool,)))

    def maybe_flag(self, key: str) -> bool | None:
        return cast("bool | None", self._get(key, (bool,), optional=True))

    def number(self, key: str) -> int:
        return cast(int, self._get(key, (int,)))

    def maybe_number(self, key: str) -> int | None:
        return cast("int | None", self._get(key, (int,), optional=True))

    def maybe_real(self, key: str) -> float | None:
        return cast("float | int | None", self._get(key, (int, float), optional=True))

    def items(self, key: str) -> list[Any]:
        return cast(list[Any], self._get(key, (list,)))

    def mapping(self, key: str, optional: bool = False) -> Mapping[str, Any] | None:
        return cast("Mapping[str, Any] | None", self._get(key, (dict,), optional=optional))

    def texts(self, key: str) -> tuple[str, ...]:
        values = self.items(key)
        if not all(isinstance(v, str) for v in values):
            raise MalformedPlanError(f"{self.where}: '{key}' must be a list of strings")
        return tuple(values)


def _address(value: object, where: str, size: int = 4) -> Address:
    parts = value if isinstance(value, list) else []
    fixed, rest = parts[:3], parts[3:]
    if (
        len(parts) != size
        or not all(isinstance(p, str) for p in fixed)
        or not all(p is None or isinstance(p, str) for p in rest)
    ):
        raise MalformedPlanError(f"{where}: 'address' must be [project, environment, key, name]")
    return Address(*fixed, *rest)


def change_from_dict(data: object, secrets: SecretDecoder, where: str = "change") -> Change:
    """The change ``change_to_dict`` wrote; secret markers go through ``secrets``."""
    r = _Reader(data, where)
    address = _address(r.data.get("address"), where)
    name = r.text("name")
    action = r.text("action")
    if action not in get_args(Action):
        raise MalformedPlanError(f"{where}: unknown action {action!r}")

    def decode(config_key: str, value: object) -> object:
        if isinstance(value, Mapping) and SECRET_MARK in value:
            meta = value[SECRET_MARK]
            if not isinstance(meta, Mapping):
                raise MalformedPlanError(f"{where}: a secret marker must hold an object")
            return secrets(secret_reference(address, name, config_key), meta)
        return value

    patch = tuple(_map_config(_Reader(op, where).data, decode) for op in r.items("patch"))
    body = r.mapping("body", optional=True)
    live = r.data.get("live")
    return Change(
        address=address,
        action=cast(Action, action),
        id=r.maybe_text("id"),
        version=r.maybe_number("version"),
        before=r.mapping("before", optional=True),
        after=r.mapping("after", optional=True),
        patch=patch,
        body=_map_config(body, decode) if body is not None else None,
        secrets=tuple(_secret_check(item, where) for item in r.items("secrets")),
        reason=r.text("reason"),
        adopt=r.flag("adopt"),
        notes=r.texts("notes"),
        protected=r.flag("protected"),
        live=_live_from_dict(live, f"{where} live") if live is not None else None,
        critical=bool(r.maybe_flag("critical")),
    )


def _secret_check(item: object, where: str) -> SecretCheck:
    states = get_args(SecretState)
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
        raise MalformedPlanError(f"{where}: 'secrets' entries must be [key, state]")
    if item[1] not in states:
        raise MalformedPlanError(f"{where}: unknown secret state {item[1]!r}")
    return SecretCheck(item[0], cast(SecretState, item[1]))


def _live_from_dict(data: object, where: str) -> LiveStore:
    r = _Reader(data, where)
    slot = _address([*r.items("address"), None], where)
    s = _Reader(r.mapping("status"), f"{where} status")
    errors = []
    for entry in s.items("errors"):
        e = _Reader({"code": entry[0], "message": entry[1], "at": entry[2]}, f"{where} error")
        errors.append(StoreError(e.maybe_number("code"), e.text("message"), e.maybe_number("at")))
    status = StoreStatus(
        s.maybe_flag("available"), s.maybe_flag("potentiallyStale"),
        s.maybe_number("lastSync"), s.maybe_number("lastError"), tuple(errors),
    )  # fmt: skip
    return LiveStore(
        r.text("id"), slot.project, slot.environment, slot.integration_key, r.text("name"),
        r.flag("on"),
        r.texts("tags"), r.number("version"), None, status,
    )  # fmt: skip


def _settings_from_dict(key: str, data: object) -> ProjectSettings:
    r = _Reader(data, f"safety of {key}")
    where = r.data.get("location")
    location = None
    if where is not None:
        w = _Reader(dict(zip(("file", "line", "column"), where, strict=False)), "location")
        location = Location(w.text("file"), w.number("line"), w.number("column"))
    return ProjectSettings(
        key, prune=r.flag("prune"), location=location,
        change_threshold=r.maybe_real("changeThreshold"), min_stores=r.maybe_number("minStores"),
    )  # fmt: skip


def plan_from_dict(data: object, secrets: SecretDecoder) -> Plan:
    """The plan ``plan_to_dict`` wrote. Raises ``MalformedPlanError`` naming what is wrong."""
    r = _Reader(data, "plan")
    unmanaged = []
    for number, item in enumerate(r.items("unmanaged"), start=1):
        u = _Reader(item, f"unmanaged #{number}")
        address = _address(u.data.get("address"), u.where)
        unmanaged.append(Unmanaged(address, u.text("id"), _live_from_dict(u.data.get("live"), "")))
    by_project = r.mapping("live_by_project") or {}
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in by_project.values()):
        raise MalformedPlanError("plan: 'live_by_project' must map projects to counts")
    return Plan(
        changes=tuple(
            change_from_dict(c, secrets, f"change #{n}")
            for n, c in enumerate(r.items("changes"), start=1)
        ),
        unmanaged=tuple(unmanaged),
        projects=r.texts("projects"),
        live_in_scope=r.number("live_in_scope"),
        owner_tag=r.text("owner_tag"),
        live_by_project=dict(by_project),
        safety={k: _settings_from_dict(k, v) for k, v in (r.mapping("safety") or {}).items()},
        targets=r.texts("targets") if "targets" in r.data else (),
    )
