"""Unit tests of ``plan.scope``: ``--target`` prefixes of whole segments, and critical labels."""

from __future__ import annotations

import pytest
from test_plan import OWNER, have, state, want

from reconciler.errors import UsageError
from reconciler.model import Address, Environment, ProjectEnvironments
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import refusals
from reconciler.plan.scope import mark_critical, matches, parse_targets, restrict, unmatched

STORE = Address("payments", "production", "redis")


@pytest.mark.parametrize(
    "target",
    ["payments", "payments/production", "payments/production/redis",
     "payments/production/redis/Main"],
)  # fmt: skip
def test_a_target_matches_whole_leading_segments(target: str) -> None:
    assert matches(STORE, "Main", [target])


@pytest.mark.parametrize(
    "target",
    ["pay", "payments/prod", "payments/production/red", "payments/staging",
     "payments/production/redis/Other", "search"],
)  # fmt: skip
def test_a_target_does_not_match_part_of_a_segment_or_another_store(target: str) -> None:
    assert not matches(STORE, "Main", [target])


def test_a_name_with_a_slash_is_one_segment() -> None:
    assert matches(STORE, "a/b", ["payments/production/redis/a/b"])
    assert not matches(STORE, "a/b", ["payments/production/redis/a"])


@pytest.mark.parametrize("bad", ["", "/", "payments//redis", "payments/", " "])
def test_an_empty_segment_is_a_usage_error(bad: str) -> None:
    with pytest.raises(UsageError, match="not an address prefix"):
        parse_targets([bad])


def test_restrict_keeps_only_targeted_changes_and_counts_only_targeted_live_stores() -> None:
    desired = state(want("production"), want("production", project="search"))
    live = [
        have("production", id="a" * 24, on=False),
        have("staging", id="b" * 24, tags=(OWNER,)),  # owned, undeclared: a delete
        have("qa", id="c" * 24, tags=()),  # unmanaged
    ]
    plan = build_plan(desired, live)
    assert plan.count("delete") == 1 and plan.live_by_project["payments"] == 3
    narrowed = restrict(plan, ["payments/production"])
    assert [str(c.address) for c in narrowed.changes] == ["payments/production/redis"]
    assert narrowed.unmanaged == ()
    assert narrowed.projects == ("payments",)
    assert dict(narrowed.live_by_project) == {"payments": 1} and narrowed.live_in_scope == 1
    assert narrowed.targets == ("payments/production",)
    assert restrict(plan, []) is plan


def test_a_targeted_plan_does_not_refuse_deletes_outside_the_targets() -> None:
    plan = build_plan(state(want()), [have(), have("staging", id="b" * 24, tags=(OWNER,))])
    assert [r.reason for r in refusals(plan)] == ["delete"]
    assert refusals(restrict(plan, ["payments/production"])) == ()


def test_unmatched_names_the_targets_that_select_nothing() -> None:
    plan = build_plan(state(want()), [])
    assert unmatched(plan, ["pay", "payments", "search"]) == ["pay", "search"]


def test_changes_in_critical_environments_are_labelled() -> None:
    plan = build_plan(state(want("production"), want("staging")), [])
    known = {
        "payments": ProjectEnvironments(
            "payments",
            True,
            (
                Environment("payments", "production", True, "c1"),
                Environment("payments", "staging", False, "c2"),
            ),
        )
    }
    marked = mark_critical(plan, known)
    assert [(c.address.environment, c.critical) for c in marked.changes] == [
        ("production", True),
        ("staging", False),
    ]
