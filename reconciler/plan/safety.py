"""Safety limits on a plan, checked before ``apply`` writes anything (SPEC §4).

A plan that deletes stores needs ``--allow-delete``; one that updates or deletes more than a
share of the live stores in scope needs ``--force``. The share is 30% by default, checked once
at least 10 live stores are in scope; a project may set its own limits in its manifest
(``safety: {changeThreshold, minStores}``), and the projects that do not are checked together
against the defaults. A store carrying the protection tag is never deleted, whatever the flags.
Each refusal is an ``UnsafePlanError`` that names every reason and the flag that overrides it.
"""

from __future__ import annotations

from collections import Counter

from reconciler.errors import UnsafePlanError
from reconciler.plan.changes import PROTECT_TAG, Plan

DEFAULT_THRESHOLD = 0.30
THRESHOLD_MIN_STORES = 10


def check_safety(plan: Plan, *, allow_delete: bool = False, force: bool = False) -> None:
    """Raise ``UnsafePlanError`` when ``plan`` trips a limit that its flags do not lift."""
    reasons: list[str] = []
    deletes = [c for c in plan.changes if c.action == "delete"]
    protected = [c for c in deletes if c.protected]
    if protected:
        names = ", ".join(str(c.address) for c in protected)
        reasons.append(
            f"the plan deletes protected store(s) ({names}); no flag allows that: declare the"
            f" store with 'protect: false' and apply (removing the {PROTECT_TAG} tag) first"
        )
    if deletes and not allow_delete:
        names = ", ".join(str(c.address) for c in deletes)
        reasons.append(
            f"the plan deletes {len(deletes)} store(s) ({names}); "
            "re-run with --allow-delete to allow it"
        )
    if not force:
        reasons.extend(_threshold_reasons(plan))
    if reasons:
        raise UnsafePlanError("apply refused: " + "; ".join(reasons))


def _threshold_reasons(plan: Plan) -> list[str]:
    touched = Counter(c.address.project for c in plan.changes if c.action in ("update", "delete"))
    groups: dict[str, tuple[float, int, list[str]]] = {}
    for project in plan.live_by_project:
        settings = plan.safety.get(project)
        if settings is None or (settings.change_threshold, settings.min_stores) == (None, None):
            groups.setdefault("", (DEFAULT_THRESHOLD, THRESHOLD_MIN_STORES, []))[2].append(project)
            continue
        threshold, minimum = settings.change_threshold, settings.min_stores
        groups[project] = (
            DEFAULT_THRESHOLD if threshold is None else threshold,
            THRESHOLD_MIN_STORES if minimum is None else minimum,
            [project],
        )
    reasons = []
    for label, (threshold, minimum, projects) in sorted(groups.items()):
        live = sum(plan.live_by_project[p] for p in projects)
        changed = sum(touched[p] for p in projects)
        if live >= minimum and changed > threshold * live:
            where = f"project {label}" if label else "scope"
            reasons.append(
                f"the plan updates or deletes {changed} of {live} live stores in {where},"
                f" more than the {threshold:.0%} limit; re-run with --force to allow it"
            )
    return reasons
