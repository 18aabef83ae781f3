"""Unit tests of ``plan.safety.refusals``: the one pure computation of why apply refuses a plan."""

from __future__ import annotations

import pytest
from test_plan import OWNER, have, state, want

from reconciler.errors import UnsafePlanError
from reconciler.model import DesiredState, Environment, ProjectEnvironments, ProjectSettings
from reconciler.plan.changes import PROTECT_TAG, Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import check_safety, refusals

PAYMENTS_ENVS = {
    "payments": ProjectEnvironments(
        "payments",
        True,
        (
            Environment("payments", "production", True, "c1"),
            Environment("payments", "staging", False, "c2"),
        ),
    )
}


def updates(total: int, changed: int, threshold: float | None = None) -> Plan:
    """``total`` live stores in payments, ``changed`` of them switched off by the manifests."""
    envs = [f"e{i:03d}" for i in range(total)]
    stores = [want(e, on=i >= changed) for i, e in enumerate(envs)]
    live = [have(e, id=f"{i:024d}") for i, e in enumerate(envs)]
    settings = {"payments": ProjectSettings("payments", change_threshold=threshold)}
    plan = build_plan(DesiredState(tuple(stores), settings), live)
    assert plan.count("update") == changed
    return plan


def reasons(plan: Plan, **flags: bool) -> list[str]:
    return [r.reason for r in refusals(plan, **flags)]  # type: ignore[arg-type]


def test_a_threshold_of_seventy_percent_allows_exactly_seventy_percent() -> None:
    # 63 / 90 is exactly 0.7; in floats 0.7 * 90 is 62.99999999999999 and 63 was refused.
    assert reasons(updates(90, 63, threshold=0.7)) == []


def test_a_threshold_of_seventy_percent_refuses_one_change_more() -> None:
    found = refusals(updates(90, 64, threshold=0.7))
    assert [r.reason for r in found] == ["change-threshold"]
    assert "64 of 90 live stores in project payments, more than the 70% limit" in found[0].message
    assert found[0].override == "--force" and len(found[0].addresses) == 64


def test_the_default_threshold_allows_three_of_ten_and_refuses_four() -> None:
    assert reasons(updates(10, 3)) == []
    assert reasons(updates(10, 4)) == ["change-threshold"]
    assert reasons(updates(10, 4), force=True) == []


@pytest.mark.parametrize(("threshold", "allowed"), [(0.1, 3), (0.35, 7), (0.57, 57)])
def test_decimal_thresholds_are_exact_at_the_boundary(threshold: float, allowed: int) -> None:
    total = {0.1: 30, 0.35: 20, 0.57: 100}[threshold]
    assert reasons(updates(total, allowed, threshold)) == []
    assert reasons(updates(total, allowed + 1, threshold)) == ["change-threshold"]


def test_every_reason_is_listed_with_its_code_addresses_and_override() -> None:
    desired = state(want("production"), want("prodution", name="Typo"))
    live = [
        have("staging", id="b" * 24, tags=(OWNER,)),
        have("staging", id="c" * 24, name="Kept", tags=(OWNER, PROTECT_TAG)),
    ]
    plan = build_plan(desired, live)
    found = refusals(plan, environments=PAYMENTS_ENVS)
    assert [(r.reason, r.override) for r in found] == [
        ("protected-delete", None),
        ("delete", "--allow-delete"),
        ("unknown-environment", None),
    ]
    assert found[0].addresses == ("payments/staging/redis/Kept",)
    assert set(found[1].addresses) == {
        "payments/staging/redis/Kept",
        "payments/staging/redis/Payments production",
    }
    assert found[2].addresses == ("payments/prodution/redis",)
    assert found[2].message == (
        "environment 'prodution' does not exist in project 'payments' (its environments:"
        " production, staging); did you mean 'production'?"
    )
    flagged = refusals(plan, allow_delete=True, force=True, environments=PAYMENTS_ENVS)
    assert [r.reason for r in flagged] == ["protected-delete", "unknown-environment"]


def test_an_unknown_project_is_refused_and_an_unchecked_one_is_not() -> None:
    plan = build_plan(state(want()), [])
    missing = {"payments": ProjectEnvironments("payments", False)}
    found = refusals(plan, environments=missing)
    assert [(r.reason, r.addresses) for r in found] == [
        ("unknown-project", ("payments/production/redis",))
    ]
    assert refusals(plan, environments={}) == ()  # a 403: existence not checked


def test_an_environment_with_no_close_key_gets_no_suggestion() -> None:
    plan = build_plan(state(want("qa")), [])
    (found,) = refusals(plan, environments=PAYMENTS_ENVS)
    assert "did you mean" not in found.message
    assert "(its environments: production, staging)" in found.message


def test_check_safety_raises_with_every_refusal_message() -> None:
    plan = build_plan(state(want("prodution")), [have("staging", id="b" * 24, tags=(OWNER,))])
    found = refusals(plan, environments=PAYMENTS_ENVS)
    with pytest.raises(UnsafePlanError) as error:
        check_safety(plan, environments=PAYMENTS_ENVS)
    assert str(error.value) == "apply refused: " + "; ".join(r.message for r in found)


def test_a_project_with_many_environments_names_twenty_and_counts_the_rest() -> None:
    many = tuple(Environment("payments", f"env-{i:03d}", False, f"c{i}") for i in range(50))
    plan = build_plan(state(want("env-1000")), [])
    (found,) = refusals(
        plan, environments={"payments": ProjectEnvironments("payments", True, many)}
    )
    assert "env-019 and 30 more)" in found.message and "env-020" not in found.message
