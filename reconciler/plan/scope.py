"""Narrowing and annotating a plan: ``--target`` prefixes and critical environments; pure.

A target is an address prefix of whole segments: ``payments``, ``payments/production``,
``payments/production/redis`` or ``payments/production/redis/<name>`` (``pay`` does not match
``payments``). ``restrict`` keeps only the changes and unmanaged stores whose address matches
some target, the projects the targets name, and recounts the live stores per project from
the stores kept, so the change threshold compares in-target changes with in-target live
stores. ``mark_critical`` labels each change in an environment LaunchDarkly marks critical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from reconciler.errors import UsageError
from reconciler.model import Address, ProjectEnvironments
from reconciler.plan.changes import Change, Plan

MAX_SEGMENTS = 4  # project, environment, integrationKey, name (which may contain "/")


def parse_targets(texts: Sequence[str]) -> tuple[str, ...]:
    """The ``--target`` values, checked: no empty segment; a fourth segment is the whole
    name. Duplicates are dropped, order kept."""
    out: list[str] = []
    for text in texts:
        parts = text.split("/", MAX_SEGMENTS - 1)
        if any(not p.strip() for p in parts):
            raise UsageError(
                f"--target {text!r} is not an address prefix: use PROJECT, PROJECT/ENVIRONMENT,"
                " PROJECT/ENVIRONMENT/KIND or PROJECT/ENVIRONMENT/KIND/NAME"
            )
        if text not in out:
            out.append(text)
    return tuple(out)


def matches(address: Address, name: str, targets: Sequence[str]) -> bool:
    """Whether the store at ``address`` named ``name`` lies under one of ``targets``."""
    segments = (*address.slot, address.name if address.name is not None else name)
    for target in targets:
        parts = tuple(target.split("/", MAX_SEGMENTS - 1))
        if segments[: len(parts)] == parts:
            return True
    return False


def _name(change: Change) -> str:
    if change.desired is not None:
        return change.desired.name
    if change.live is not None:
        return change.live.name
    return change.address.name or ""


def unmatched(plan: Plan, targets: Sequence[str]) -> list[str]:
    """The targets that match no change and no unmanaged store of ``plan``."""
    names = [(c.address, _name(c)) for c in plan.changes]
    names += [(u.address, u.live.name) for u in plan.unmanaged]
    return [t for t in targets if not any(matches(a, n, [t]) for a, n in names)]


def restrict(plan: Plan, targets: Sequence[str]) -> Plan:
    """The part of ``plan`` under ``targets`` (the whole plan when there are none)."""
    if not targets:
        return plan
    changes = tuple(c for c in plan.changes if matches(c.address, _name(c), targets))
    unmanaged = tuple(u for u in plan.unmanaged if matches(u.address, u.live.name, targets))
    projects = tuple(p for p in plan.projects if any(t.split("/")[0] == p for t in targets))
    live = dict.fromkeys(projects, 0)
    for project in [c.address.project for c in changes if c.id is not None] + [
        u.address.project for u in unmanaged
    ]:
        live[project] = live.get(project, 0) + 1
    return dataclasses.replace(
        plan,
        changes=changes,
        unmanaged=unmanaged,
        projects=projects,
        live_in_scope=sum(live.values()),
        live_by_project=live,
        targets=tuple(targets),
    )


def mark_critical(plan: Plan, environments: Mapping[str, ProjectEnvironments]) -> Plan:
    """``plan`` with ``critical`` set on every change in a critical environment."""
    critical = {
        (project, e.key)
        for project, known in environments.items()
        for e in known.environments
        if e.critical
    }
    changes = tuple(
        c if c.critical is flag else dataclasses.replace(c, critical=flag)
        for c in plan.changes
        for flag in ((c.address.project, c.address.environment) in critical,)
    )  # a change whose flag is already right is kept as it is (most are, and are many)
    return dataclasses.replace(plan, changes=changes)
