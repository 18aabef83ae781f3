"""The pure planner: declared stores and live stores in, an ordered ``Plan`` out, no I/O.

``build_plan`` matches declared stores to live ones by address (SPEC §2), compares the
normalised fields of each pair (``normalise.py``), and emits one ``Change`` per store: a
create, an RFC 6902 update patch guarded by a ``test`` of ``/version``, a delete for an owned
store that left the manifests (or any undeclared store of a ``prune: true`` project), or a
no-op. Undeclared stores it does not own are reported as ``unmanaged``. Ignore rules that have
not expired turn a difference into a note; expired ones say so and count again.
``protect: true`` is remembered on the live store as a tag. Secrets are compared three ways
against the API's masks (``SecretCheck``), are never copied from live values into a patch, and
stay wrapped in ``Secret`` inside patches until the executor resolves them. Changes are sorted
once, by address. The values it returns are defined in ``changes``; presentation lives in
``render/``, safety limits in ``safety``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date
from functools import cache
from typing import cast

from reconciler.errors import PlanError
from reconciler.integrations import fields_by_key, mask_consistent
from reconciler.model import (
    DEFAULT_OWNER_TAG,
    SENSITIVE,
    Address,
    ConfigValue,
    DesiredState,
    DesiredStore,
    IgnoreRule,
    LiveStore,
    Secret,
)
from reconciler.plan.changes import (
    PENDING_PREFIX,
    PROTECT_TAG,
    Change,
    Plan,
    SecretCheck,
    SecretState,
    Unmanaged,
    is_pending,
)
from reconciler.plan.normalise import desired_config, live_config, tag_set, with_owner


def build_plan(
    desired: DesiredState,
    live: Sequence[LiveStore],
    *,
    owner_tag: str = DEFAULT_OWNER_TAG,
    today: date | None = None,
) -> Plan:
    """Compare declared with live stores and return the plan. Raises ``PlanError`` when a
    declared store could match more than one live store. ``today`` decides which ignore
    rules have expired (default: the current date)."""
    day = today or date.today()
    scope = set(desired.projects)
    declared: dict[tuple[str, str, str], list[DesiredStore]] = defaultdict(list)
    for store in desired.stores:
        declared[store.slot].append(store)
    existing: dict[tuple[str, str, str], list[LiveStore]] = defaultdict(list)
    by_project: dict[str, int] = dict.fromkeys(scope, 0)
    for live_store in live:
        if live_store.project in scope:
            existing[live_store.slot].append(live_store)
            by_project[live_store.project] += 1

    changes: list[Change] = []
    unmanaged: list[Unmanaged] = []
    problems: list[str] = []
    for slot in sorted(set(declared) | set(existing)):
        # slots come in order, so sorting each slot's entries sorts the whole plan by address
        slot_changes, slot_unmanaged = _plan_slot(
            slot, declared.get(slot, []), existing.get(slot, []), desired, owner_tag, day, problems
        )
        if len(slot_changes) > 1:
            slot_changes.sort(key=lambda c: (c.address.name or "", c.id or ""))
        if len(slot_unmanaged) > 1:
            slot_unmanaged.sort(key=lambda u: (u.address.name or "", u.id))
        changes += slot_changes
        unmanaged += slot_unmanaged
    if problems:
        raise PlanError("\n".join(problems))
    return Plan(
        changes=tuple(changes),
        unmanaged=tuple(unmanaged),
        projects=tuple(sorted(scope)),
        live_in_scope=sum(by_project.values()),
        owner_tag=owner_tag,
        live_by_project=by_project,
        safety=dict(desired.projects),
    )


def _plan_slot(
    slot: tuple[str, str, str],
    wanted: list[DesiredStore],
    existing: list[LiveStore],
    desired: DesiredState,
    owner_tag: str,
    day: date,
    problems: list[str],
) -> tuple[list[Change], list[Unmanaged]]:
    """The changes and unmanaged stores of one slot, unsorted; ambiguities go to ``problems``."""
    found, resolving = _settled(existing)
    changes: list[Change] = []
    unmanaged = [Unmanaged(Address(*slot, t.name), t.id, t) for t in resolving]
    named = len(wanted) > 1 or len(found) > 1
    pairs, extra_live = _match(wanted, found, problems)
    for want, have in pairs:
        address = Address(*slot, want.name if named else None)
        changes.append(_diff(address, want, have, owner_tag, day))
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
    return changes, unmanaged


def _settled(found: list[LiveStore]) -> tuple[list[LiveStore], list[LiveStore]]:
    """The stores of one slot, and apart the twins a concurrent ``apply`` is resolving right
    now (or a dead one left behind): of several stores sharing a name, the pending ones
    (``PENDING_PREFIX``) when a settled one exists, else all but the lowest id. They are
    neither matched nor deleted, only shown as unmanaged."""
    if len(found) < 2:
        return found, []
    by_name: dict[str, list[LiveStore]] = defaultdict(list)
    for have in found:
        by_name[have.name].append(have)
    drop: set[str] = set()
    for group in by_name.values():
        pending = [s for s in group if is_pending(s.tags)]
        if len(group) < 2 or not pending:
            continue
        settled = [s for s in group if not is_pending(s.tags)]
        keep = {s.id for s in settled} if settled else {min(s.id for s in pending)}
        drop |= {s.id for s in pending if s.id not in keep}
    return [s for s in found if s.id not in drop], [s for s in found if s.id in drop]


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


@cache
def _secret_keys(integration_key: str) -> frozenset[str]:
    return frozenset(k for k, f in fields_by_key(integration_key).items() if f.secret)


def _live_view(have: LiveStore, declared_secret: frozenset[str] = frozenset()) -> dict[str, object]:
    """The live store as shown: secret fields of its kind, and any key whose declared value is
    a secret (it came from ``${...}``), are masked, since the API returns those in clear."""
    secret_keys = _secret_keys(have.integration_key)
    if not declared_secret <= secret_keys:
        secret_keys = secret_keys | declared_secret
    raw = have.config or {}
    config = {key: SENSITIVE if key in secret_keys else raw[key] for key in sorted(raw)}
    return {"name": have.name, "on": have.on, "tags": list(have.tags), "config": config}


def _desired_view(
    name: str, on: bool, tags: Sequence[str], config: Mapping[str, ConfigValue]
) -> dict[str, object]:
    shown = {}
    for key in sorted(config):
        value = config[key]
        shown[key] = SENSITIVE if isinstance(value, Secret) else value
    return {"name": name, "on": on, "tags": list(tags), "config": shown}


def _secret_state(masked: bool, plain: str, live_value: object) -> SecretState:
    """How a declared secret ``plain`` compares with the API's value for it; ``masked``: the
    field is one the API masks."""
    if live_value == plain:
        return "verified"
    if (
        masked
        and isinstance(live_value, str)
        and "*" in live_value
        and mask_consistent(live_value, plain)
    ):
        return "unverifiable"
    return "changed"


def _compare_config(
    integration_key: str, want: Mapping[str, ConfigValue], have: Mapping[str, object]
) -> tuple[list[str], tuple[SecretCheck, ...]]:
    """The config keys that differ, and how each declared secret compares with its mask."""
    masked_keys = _secret_keys(integration_key)  # only secret fields come back masked
    changed = sorted(set(have) - set(want))
    checks: list[SecretCheck] = []
    for key, value in want.items():
        live_value = have.get(key)
        if not isinstance(value, Secret):
            if value != live_value:
                changed.append(key)
            continue
        plain = value.value
        masked = key in masked_keys
        state = _secret_state(masked, plain, live_value)
        if state == "changed":
            changed.append(key)
        if (masked and plain) or state == "changed":
            checks.append(SecretCheck(key, state))
    return changed, tuple(checks)


def _unchanged(
    address: Address,
    want: DesiredStore,
    have: LiveStore,
    config: Mapping[str, ConfigValue],
    tags: tuple[str, ...],
) -> Change | None:
    """The no-op change of a store whose name, ``on``, tags and normalised config all match,
    built directly; ``None`` when any of that does not hold (the full comparison in
    ``_compare`` then decides). Ignore rules play no part: they are only consulted on a
    difference. ``tests/test_plan_fastpath.py`` holds it equal to the full comparison."""
    if want.name != have.name or want.on != have.on:
        return None
    if set(tags) != set(have.tags) or is_pending(have.tags):
        return None
    live_cfg = live_config(want.integration_key, have.config or {})
    if config.keys() != live_cfg.keys():
        return None
    changed, checks = _compare_config(want.integration_key, config, live_cfg)
    if changed:
        return None
    before = _live_view(have, frozenset(k for k, v in config.items() if isinstance(v, Secret)))
    after = _desired_view(want.name, want.on, tags, config)
    return Change(
        address, "no-op", have.id, have.version, before, after,
        secrets=checks, desired=want, live=have,
    )  # fmt: skip


class _Rules:
    """The ignore rules of one store, evaluated on one day; collects the notes they cause."""

    def __init__(self, rules: Sequence[IgnoreRule], today: date) -> None:
        self.rules = {rule.field: rule for rule in rules}
        self.today = today
        self.notes: list[str] = []

    def ignores(self, field: str) -> bool:
        """Whether a difference on ``field`` is accepted drift (and say so either way)."""
        rule = self.rules.get(field)
        if rule is None:
            return False
        if self.today <= rule.expires:
            self.notes.append(f"ignored difference on {field} until {rule.expires}: {rule.reason}")
            return True
        self.notes.append(
            f"the ignore rule on {field} ({rule.location}) expired on {rule.expires}:"
            " the difference counts again"
        )
        return False


def _diff(
    address: Address, want: DesiredStore, have: LiveStore | None, owner: str, today: date
) -> Change:
    config = desired_config(want.integration_key, want.config)
    tags = _desired_tags(want, owner)
    if have is None:
        after = _desired_view(want.name, want.on, tags, config)
        body = {"name": want.name, "on": want.on, "tags": list(tags), "config": dict(config)}
        return Change(address, "create", None, None, None, after, body=body, desired=want)
    same = _unchanged(address, want, have, config, tags)
    if same is not None:
        return same
    return _compare(address, want, have, owner, today, config, tags)


def _compare(
    address: Address,
    want: DesiredStore,
    have: LiveStore,
    owner: str,
    today: date,
    config: dict[str, ConfigValue],
    tags: tuple[str, ...],
) -> Change:
    """The full comparison of a declared store with its live one: ignore rules, tags, config
    and secrets, into an update or a no-op."""
    before = _live_view(have, frozenset(k for k, v in config.items() if isinstance(v, Secret)))
    rules = _Rules(want.ignore, today)
    name = want.name if want.name == have.name or not rules.ignores("name") else have.name
    on = want.on if want.on == have.on or not rules.ignores("on") else have.on
    have_tags = tuple(t for t in have.tags if not t.startswith(PENDING_PREFIX))
    if _user_tags(tags, owner) != _user_tags(have_tags, owner) and rules.ignores("tags"):
        # an ignore rule accepts drift in the user's tags only: the reserved tags still count
        tags = (*(t for t in have_tags if t not in (owner, PROTECT_TAG)), *_reserved(want, owner))
    tags_differ = tag_set(tags) != tag_set(have_tags)
    live_cfg = live_config(want.integration_key, have.config or {})
    changed_keys, secrets = _compare_config(want.integration_key, config, live_cfg)
    accepted = {
        key
        for key in changed_keys
        if key in live_cfg and not _is_secret(want, key) and rules.ignores(f"config.{key}")
    }
    for key in accepted:  # an accepted difference keeps its live value in the sent config
        config[key] = cast(ConfigValue, live_cfg[key])
    changed_keys = [key for key in changed_keys if key not in accepted]
    ops: list[Mapping[str, object]] = []
    if name != have.name:
        ops.append({"op": "replace", "path": "/name", "value": name})
    if on != have.on:
        ops.append({"op": "replace", "path": "/on", "value": on})
    if tags_differ:
        ops.append({"op": "replace", "path": "/tags", "value": list(tags)})
    if changed_keys:
        ops.append({"op": "replace", "path": "/config", "value": dict(config)})
    after = _desired_view(name, on, tags, config)
    adopt = owner not in have.tags
    notes = tuple(rules.notes)
    if not ops:
        return Change(
            address, "no-op", have.id, have.version, before, after,
            secrets=secrets, notes=notes, desired=want, live=have,
        )  # fmt: skip
    patch = ({"op": "test", "path": "/version", "value": have.version}, *ops)
    return Change(
        address, "update", have.id, have.version, before, after, patch, secrets=secrets,
        reason="adopt: add the ownership tag" if adopt else "", adopt=adopt, notes=notes,
        desired=want, live=have,
    )  # fmt: skip


def _reserved(want: DesiredStore, owner: str) -> tuple[str, ...]:
    """The reserved tags a declared store must carry: the ownership tag, and the protection
    marker when it is protected. No ignore rule, default or declared tag changes them."""
    return (PROTECT_TAG, owner) if want.protect else (owner,)


def _desired_tags(want: DesiredStore, owner: str) -> tuple[str, ...]:
    user = [t for t in want.tags if t != owner and t != PROTECT_TAG]
    return with_owner((*user, *_reserved(want, owner)), owner)


def _user_tags(tags: Sequence[str], owner: str) -> tuple[str, ...]:
    return tag_set(t for t in tags if t not in (owner, PROTECT_TAG))


def _is_secret(want: DesiredStore, key: str) -> bool:
    spec = fields_by_key(want.integration_key).get(key)
    return isinstance(want.config.get(key), Secret) or (spec is not None and spec.secret)


def _delete(address: Address, have: LiveStore, reason: str) -> Change:
    protected = PROTECT_TAG in have.tags
    if protected:
        reason += f"; it is protected (tag {PROTECT_TAG}), so apply will refuse to delete it"
    return Change(
        address, "delete", have.id, have.version, _live_view(have), None,
        reason=reason, protected=protected, live=have,
    )  # fmt: skip
