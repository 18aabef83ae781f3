"""Safety limits on a plan: the one computation of why ``apply`` would refuse it (SPEC §4, §7).

``refusals`` is pure and is what both ``plan`` (preflight: print the plan, list the reasons,
exit 1) and ``apply`` (refuse before any write) call, so the two cannot disagree. Reasons:

- ``protected-delete``: the plan deletes a store carrying the protection tag; no flag allows it;
- ``delete``: the plan deletes stores and ``--allow-delete`` was not given;
- ``change-threshold``: updates plus deletes exceed a share of the live stores in scope (30% by
  default, checked once at least 10 live stores are in scope; a project may set its own
  ``safety: {changeThreshold, minStores}``, and the projects that do not are checked together
  against the defaults) and ``--force`` was not given; the comparison is exact (fractions);
- ``unknown-project`` / ``unknown-environment``: a change's project or environment does not
  exist in LaunchDarkly (known only when the environment reads were allowed), with the
  environments that do exist and the closest one.

Each ``Refusal`` names its reason code, a sentence, the addresses concerned and the flag that
overrides it (``None`` when none does).
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from reconciler.errors import UnsafePlanError
from reconciler.model import ProjectEnvironments
from reconciler.plan.changes import PROTECT_TAG, Change, Plan

DEFAULT_THRESHOLD = Fraction(3, 10)
THRESHOLD_MIN_STORES = 10
MAX_LISTED = 20  # environment keys named in an unknown-environment message
MAX_NAMED = 10  # addresses a message names (``Refusal.addresses`` holds them all)


@dataclass(frozen=True, slots=True)
class Refusal:
    """One reason ``apply`` refuses a plan, and the flag that would lift it (if any)."""

    reason: str
    message: str
    addresses: tuple[str, ...]
    override: str | None


def refusals(
    plan: Plan,
    *,
    allow_delete: bool = False,
    force: bool = False,
    environments: Mapping[str, ProjectEnvironments] | None = None,
) -> tuple[Refusal, ...]:
    """Every reason ``apply`` with these flags refuses ``plan``, in a fixed order.
    ``environments``: what the environment reads found, per project (a project missing from it
    was not checked)."""
    found: list[Refusal] = []
    deletes = [c for c in plan.changes if c.action == "delete"]
    protected = [str(c.address) for c in deletes if c.protected]
    if protected:
        found.append(Refusal(
            "protected-delete",
            f"the plan deletes protected store(s) ({_named(protected)}); no flag allows that:"
            f" declare the store with 'protect: false' and apply (removing the {PROTECT_TAG}"
            " tag) first",
            tuple(protected), None,
        ))  # fmt: skip
    if deletes and not allow_delete:
        names = tuple(str(c.address) for c in deletes)
        found.append(Refusal(
            "delete",
            f"the plan deletes {len(deletes)} store(s) ({_named(names)}); "
            "re-run with --allow-delete to allow it",
            names, "--allow-delete",
        ))  # fmt: skip
    if not force:
        found.extend(_threshold_refusals(plan))
    found.extend(_existence_refusals(plan, environments or {}))
    return tuple(found)


def check_safety(
    plan: Plan,
    *,
    allow_delete: bool = False,
    force: bool = False,
    environments: Mapping[str, ProjectEnvironments] | None = None,
) -> None:
    """Raise ``UnsafePlanError`` naming every refusal of ``plan`` with these flags."""
    found = refusals(plan, allow_delete=allow_delete, force=force, environments=environments)
    if found:
        raise refused(found)


def refused(found: Sequence[Refusal], head: str = "apply refused") -> UnsafePlanError:
    """The error for ``found`` refusals: ``head``, then every reason."""
    return UnsafePlanError(f"{head}: " + "; ".join(r.message for r in found))


def _named(addresses: Sequence[str]) -> str:
    """The first ``MAX_NAMED`` addresses, then a count of the rest."""
    shown = ", ".join(addresses[:MAX_NAMED])
    rest = len(addresses) - MAX_NAMED
    return f"{shown}, … and {rest} more" if rest > 0 else shown


def _limits(plan: Plan, project: str) -> tuple[str, Fraction, int]:
    """The threshold group of ``project`` ("" for the defaults), its share and minimum."""
    settings = plan.safety.get(project)
    if settings is None or (settings.change_threshold, settings.min_stores) == (None, None):
        return "", DEFAULT_THRESHOLD, THRESHOLD_MIN_STORES
    threshold, minimum = settings.change_threshold, settings.min_stores
    # str() gives the shortest decimal that reads back as the float: the value as written.
    share = DEFAULT_THRESHOLD if threshold is None else Fraction(str(threshold))
    return project, share, THRESHOLD_MIN_STORES if minimum is None else minimum


def _threshold_refusals(plan: Plan) -> list[Refusal]:
    touched = [c for c in plan.changes if c.action in ("update", "delete")]
    per_project = Counter(c.address.project for c in touched)
    groups: dict[str, tuple[Fraction, int, list[str]]] = {}
    for project in plan.live_by_project:
        label, share, minimum = _limits(plan, project)
        groups.setdefault(label, (share, minimum, []))[2].append(project)
    found = []
    for label, (share, minimum, projects) in sorted(groups.items()):
        live = sum(plan.live_by_project[p] for p in projects)
        changed = sum(per_project[p] for p in projects)
        if live >= minimum and changed > share * live:
            where = f"project {label}" if label else "scope"
            addresses = tuple(str(c.address) for c in touched if c.address.project in projects)
            found.append(Refusal(
                "change-threshold",
                f"the plan updates or deletes {changed} of {live} live stores in {where},"
                f" more than the {_percent(share)} limit; re-run with --force to allow it",
                addresses, "--force",
            ))  # fmt: skip
    return found


def _percent(share: Fraction) -> str:
    value = share * 100
    return f"{value.numerator}%" if value.denominator == 1 else f"{float(value):g}%"


def _existence_refusals(
    plan: Plan, environments: Mapping[str, ProjectEnvironments]
) -> list[Refusal]:
    by_place: dict[tuple[str, str], list[Change]] = {}
    for change in plan.changes:
        if change.is_change:
            by_place.setdefault((change.address.project, change.address.environment), [])
            by_place[(change.address.project, change.address.environment)].append(change)
    found: list[Refusal] = []
    for project in sorted({p for p, _ in by_place}):
        known = environments.get(project)
        if known is None:
            continue  # not checked (the reads were not allowed)
        places = sorted(e for p, e in by_place if p == project)
        if not known.exists:
            addresses = tuple(str(c.address) for e in places for c in by_place[(project, e)])
            found.append(Refusal(
                "unknown-project",
                f"project '{project}' does not exist in LaunchDarkly; create it there first,"
                " or fix the project key in the manifests",
                addresses, None,
            ))  # fmt: skip
            continue
        for environment in (e for e in places if e not in known.keys):
            found.append(_unknown_environment(project, environment, known, by_place))
    return found


def _unknown_environment(
    project: str,
    environment: str,
    known: ProjectEnvironments,
    by_place: Mapping[tuple[str, str], list[Change]],
) -> Refusal:
    keys = known.keys
    close = difflib.get_close_matches(environment, keys, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    shown = ", ".join(keys[:MAX_LISTED]) if keys else "none"
    more = f" and {len(keys) - MAX_LISTED} more" if len(keys) > MAX_LISTED else ""
    existing = shown + more
    return Refusal(
        "unknown-environment",
        f"environment '{environment}' does not exist in project '{project}'"
        f" (its environments: {existing}){hint}",
        tuple(str(c.address) for c in by_place[(project, environment)]),
        None,
    )
