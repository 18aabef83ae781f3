"""The JSON renderer's fast path (``render_json`` encoding the planner's views directly) against
its reference (``plan_to_dict``, every value copied through the codec): the same bytes for any
plan, and the reference's behaviour for anything that is not plain JSON."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from test_codec import plans

from benchmarks.bench_data import synthetic_state
from reconciler.errors import PlanError
from reconciler.model import Environment, ProjectEnvironments, Secret
from reconciler.plan.changes import Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import Refusal, refusals
from reconciler.plan.scope import mark_critical
from reconciler.render.plan import plan_to_dict, render_json, unhealthy_addresses


def reference(plan: Plan, *, health: bool = False, found: tuple[Refusal, ...] = ()) -> str:
    """What ``render_json`` wrote before its fast path: the codec's copy, then orjson."""
    document: dict[str, Any] = plan_to_dict(plan, api_host="https://h", refusals=found)
    if health:
        unhealthy = unhealthy_addresses(plan)
        document["health"] = {"healthy": not unhealthy, "unhealthy": unhealthy}
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    return orjson.dumps(document, option=options).decode() + "\n"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_planned_plan_renders_as_the_reference_byte_for_byte(seed: int) -> None:
    desired, live = synthetic_state(400, seed=seed)
    environments = {
        p: ProjectEnvironments(p, True, (Environment(p, "env-03", True, "id"),))
        for p in desired.projects
    }
    plan = mark_critical(build_plan(desired, live, today=datetime.date(2030, 1, 1)), environments)
    found = refusals(plan, environments=environments)
    assert found and any(c.critical for c in plan.changes)
    assert {c.action for c in plan.changes} == {"create", "update", "delete", "no-op"}
    for health in (False, True):
        text = render_json(plan, api_host="https://h", health=health, refusals=found)
        assert text == reference(plan, health=health, found=found)


def _outcome(render: Callable[[], str]) -> tuple[str, str]:
    try:
        return ("text", render())
    except TypeError as error:  # orjson's JSONEncodeError: an integer beyond 64 bits
        return (type(error).__name__, str(error))


@settings(max_examples=150, deadline=None)
@given(plans)
def test_any_plan_renders_as_the_reference_byte_for_byte(plan: Plan) -> None:
    fast = _outcome(lambda: render_json(plan, api_host="https://h"))
    assert fast == _outcome(lambda: reference(plan))


def test_a_secret_in_a_patch_config_shows_as_sensitive() -> None:
    desired, live = synthetic_state(40, seed=4)
    plan = build_plan(desired, live)
    text = render_json(plan, api_host="https://h")
    assert text == reference(plan)
    patched = [c for c in plan.changes if any(op["path"] == "/config" for op in c.patch)]
    assert patched and "(sensitive)" in text and "bench-redis-Secr3t-password" not in text


def test_a_secret_outside_any_config_is_refused_as_the_reference_refuses_it() -> None:
    desired, live = synthetic_state(40, seed=5)
    plan = build_plan(desired, live)
    leaky = replace(plan.changes[0], before={"name": Secret("hunter2-secret", "inline")})
    bad = replace(plan, changes=(leaky, *plan.changes[1:]))
    with pytest.raises(PlanError, match="a secret outside a store's config") as raised:
        render_json(bad, api_host="https://h")
    assert "hunter2" not in str(raised.value)


def test_views_that_are_not_dicts_render_as_their_dict_copies() -> None:
    desired, live = synthetic_state(40, seed=6)
    plan = build_plan(desired, live)
    first = plan.changes[0]
    assert first.after is not None
    odd = replace(first, after=MappingProxyType(dict(first.after)))
    changed = replace(plan, changes=(odd, *plan.changes[1:]))
    assert render_json(changed, api_host="https://h") == reference(changed)
