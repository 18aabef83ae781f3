"""The pure planner: declared stores and live stores in, an ordered ``Plan`` out, no I/O.

``build_plan`` matches declared stores to live ones by address (SPEC §2), compares the
normalised fields of each pair (``normalise.py``), and emits one ``Change`` per store: a
create, an RFC 6902 update patch guarded by a ``test`` of ``/version``, a delete for an owned
store that left the manifests (or any undeclared store of a ``prune: true`` project), or a
no-op. Undeclared stores it does not own are reported as ``unmanaged``. Secrets are compared
three ways against the API's masks (``SecretCheck``), are never copied from live values into a
patch, and stay wrapped in ``Secret`` inside patches until the executor resolves them. Changes
are sorted once, by address. Presentation lives in ``render.py``; safety limits in
``check_safety`` below.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from reconciler.errors import PlanError, UnsafePlanError
from reconciler.integrations import fields_by_key, mask_consistent
from reconciler.model import (
    DEFAULT_OWNER_TAG,
    SENSITIVE,
    Address,
    ConfigValue,
    DesiredState,
    DesiredStore,
    LiveStore,
    Secret,
)
from reconciler.normalise import desired_config, live_config, tag_set, with_owner

Action = Literal["create", "update", "delete", "no-op"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "no-op")
SecretState = Literal["verified", "unverifiable", "changed"]

DEFAULT_THRESHOLD = 0.30
THRESHOLD_MIN_STORES = 10


@dataclass(frozen=True, slots=True)
class SecretCheck:
    """How a declared secret compares with what the API returned for it."""

    key: str
    state: SecretState


@dataclass(frozen=True, slots=True)
class Change:
    """One planned change to one store. ``body`` (the POST body of a create) and ``patch``
    (the JSON Patch of an update) may hold ``Secret`` objects; ``before``/``after`` are the
    display views, secrets already masked."""

    address: Address
    action: Action
    id: str | None
    version: int | None
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    patch: tuple[Mapping[str, object], ...] = ()
    body: Mapping[str, object] | None = None
    secrets: tuple[SecretCheck, ...] = ()
    reason: str = ""
    adopt: bool = False
    desired: DesiredStore | None = field(default=None, compare=False)
    live: LiveStore | None = field(default=None, compare=False)

    @property
    def is_change(self) -> bool:
        return self.action != "no-op"


@dataclass(frozen=True, slots=True)
class Unmanaged:
    """A live store in a scoped project that no manifest declares and reconciler does not own."""

    address: Address
    id: str
    live: LiveStore = field(compare=False)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``apply`` would do, sorted by address; pure data."""

    changes: tuple[Change, ...]
    unmanaged: tuple[Unmanaged, ...]
    projects: tuple[str, ...]
    live_in_scope: int
    owner_tag: str = DEFAULT_OWNER_TAG

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["unmanaged"] = len(self.unmanaged)
        return counts

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    @property
    def in_sync(self) -> bool:
        """No change and no unmanaged store: what ``drift`` calls clean."""
        return not self.has_changes and not self.unmanaged


def build_plan(
    desired: DesiredState,
    live: Sequence[LiveStore],
    *,
    owner_tag: str = DEFAULT_OWNER_TAG,
) -> Plan:
    """Compare declared with live stores and return the plan. Raises ``PlanError`` when a
    declared store could match more than one live store."""
    scope = set(desired.projects)
    declared: dict[tuple[str, str, str], list[DesiredStore]] = defaultdict(list)
    for store in desired.stores:
        declared[store.slot].append(store)
    existing: dict[tuple[str, str, str], list[LiveStore]] = defaultdict(list)
    in_scope = 0
    for live_store in live:
        if live_store.project in scope:
            existing[live_store.slot].append(live_store)
            in_scope += 1

    changes: list[Change] = []
    unmanaged: list[Unmanaged] = []
    problems: list[str] = []
    for slot in sorted(set(declared) | set(existing)):
        wanted, found = declared.get(slot, []), existing.get(slot, [])
        named = len(wanted) > 1 or len(found) > 1
        pairs, extra_live = _match(wanted, found, problems)
        for want, have in pairs:
            address = Address(*slot, want.name if named else None)
            changes.append(_diff(address, want, have, owner_tag))
        for have in extra_live:
            address = Address(*slot, have.name if named else None)
            prune = desired.projects[have.project].prune
            if owner_tag in have.tags or prune:
                reason = (
                    "owned by reconciler and no longer declared"
                    if owner_tag in have.tags
                    else "not declared, and the project sets prune: true"
                )
                changes.append(_delete(address, have, reason))
            else:
                unmanaged.append(Unmanaged(address, have.id, have))
    if problems:
        raise PlanError("\n".join(problems))
    changes.sort(key=lambda c: (c.address.slot, c.address.name or "", c.id or ""))
    unmanaged.sort(key=lambda u: (u.address.slot, u.address.name or "", u.id))
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(unmanaged),
        projects=tuple(sorted(scope)),
        live_in_scope=in_scope,
        owner_tag=owner_tag,
    )


def _match(
    wanted: list[DesiredStore], found: list[LiveStore], problems: list[str]
) -> tuple[list[tuple[DesiredStore, LiveStore | None]], list[LiveStore]]:
    """Pair declared with live stores of one slot: one each pairs directly (a rename is a
    patch); otherwise by name."""
    if len(wanted) == 1 and len(found) == 1:
        return [(wanted[0], found[0])], []
    by_name: dict[str, list[LiveStore]] = defaultdict(list)
    for have in found:
        by_name[have.name].append(have)
    pairs: list[tuple[DesiredStore, LiveStore | None]] = []
    used: set[str] = set()
    for want in wanted:
        candidates = by_name.get(want.name, [])
        if len(candidates) > 1:
            ids = ", ".join(sorted(c.id for c in candidates))
            problems.append(
                f"{want.location}: {want.project}/{want.environment}/{want.integration_key}/"
                f"{want.name} is ambiguous: live stores {ids} all carry that name; "
                "rename or delete all but one in LaunchDarkly"
            )
            continue
        match = candidates[0] if candidates else None
        if match is not None:
            used.add(match.id)
        pairs.append((want, match))
    return pairs, [have for have in found if have.id not in used]


def _live_view(have: LiveStore) -> dict[str, object]:
    secret_keys = {k for k, f in fields_by_key(have.integration_key).items() if f.secret}
    config = {
        key: SENSITIVE if key in secret_keys else value
        for key, value in sorted((have.config or {}).items())
    }
    return {"name": have.name, "on": have.on, "tags": list(have.tags), "config": config}


def _desired_view(
    want: DesiredStore, config: Mapping[str, ConfigValue], tags: Sequence[str]
) -> dict[str, object]:
    shown = {
        key: SENSITIVE if isinstance(value, Secret) else value
        for key, value in sorted(config.items())
    }
    return {"name": want.name, "on": want.on, "tags": list(tags), "config": shown}


def _compare_config(
    integration_key: str, want: Mapping[str, ConfigValue], have: Mapping[str, object]
) -> tuple[bool, tuple[SecretCheck, ...]]:
    """Whether any config key differs, and how each secret compares."""
    specs = fields_by_key(integration_key)
    changed = set(want) != set(have)
    checks: list[SecretCheck] = []
    for key, value in want.items():
        live_value = have.get(key)
        if not isinstance(value, Secret):
            changed = changed or value != live_value
            continue
        plain = value.value
        spec = specs.get(key)
        if live_value == plain:
            state: SecretState = "verified"
        elif (
            isinstance(live_value, str) and "*" in live_value and mask_consistent(live_value, plain)
        ):
            state = "unverifiable"
        else:
            state = "changed"
            changed = True
        if (spec is not None and spec.secret and plain) or state == "changed":
            checks.append(SecretCheck(key, state))
    return changed, tuple(checks)


def _diff(address: Address, want: DesiredStore, have: LiveStore | None, owner: str) -> Change:
    config = desired_config(want.integration_key, want.config)
    tags = with_owner(want.tags, owner)
    after = _desired_view(want, config, tags)
    if have is None:
        body = {"name": want.name, "on": want.on, "tags": list(tags), "config": dict(config)}
        return Change(address, "create", None, None, None, after, body=body, desired=want)
    before = _live_view(have)
    ops: list[Mapping[str, object]] = []
    if want.name != have.name:
        ops.append({"op": "replace", "path": "/name", "value": want.name})
    if want.on != have.on:
        ops.append({"op": "replace", "path": "/on", "value": want.on})
    if tag_set(tags) != tag_set(have.tags):
        ops.append({"op": "replace", "path": "/tags", "value": list(tags)})
    config_changed, secrets = _compare_config(
        want.integration_key, config, live_config(want.integration_key, have.config or {})
    )
    if config_changed:
        ops.append({"op": "replace", "path": "/config", "value": dict(config)})
    adopt = owner not in have.tags
    if not ops:
        return Change(
            address, "no-op", have.id, have.version, before, after,
            secrets=secrets, desired=want, live=have,
        )  # fmt: skip
    patch = ({"op": "test", "path": "/version", "value": have.version}, *ops)
    return Change(
        address, "update", have.id, have.version, before, after, patch, secrets=secrets,
        reason="adopt: add the ownership tag" if adopt else "",
        adopt=adopt, desired=want, live=have,
    )  # fmt: skip


def _delete(address: Address, have: LiveStore, reason: str) -> Change:
    return Change(
        address, "delete", have.id, have.version, _live_view(have), None,
        reason=reason, live=have,
    )  # fmt: skip


def check_safety(
    plan: Plan,
    *,
    allow_delete: bool = False,
    force: bool = False,
    threshold: float = DEFAULT_THRESHOLD,
    min_stores: int = THRESHOLD_MIN_STORES,
) -> None:
    """Raise ``UnsafePlanError`` when the plan deletes without ``--allow-delete`` or changes
    more than ``threshold`` of the live stores in scope without ``--force`` (SPEC §4)."""
    reasons: list[str] = []
    deletes = [c for c in plan.changes if c.action == "delete"]
    if deletes and not allow_delete:
        names = ", ".join(str(c.address) for c in deletes)
        reasons.append(
            f"the plan deletes {len(deletes)} store(s) ({names}); "
            "re-run with --allow-delete to allow it"
        )
    touched = plan.count("update") + len(deletes)
    if not force and plan.live_in_scope >= min_stores and touched > threshold * plan.live_in_scope:
        reasons.append(
            f"the plan updates or deletes {touched} of {plan.live_in_scope} live stores in scope,"
            f" more than the {threshold:.0%} limit; re-run with --force to allow it"
        )
    if reasons:
        raise UnsafePlanError("apply refused: " + "; ".join(reasons))
