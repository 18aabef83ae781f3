"""Smoke tests of ``benchmarks.bench`` at tiny sizes (no timing assertions), and checks that the
fast paths the benchmark led to in ``render`` write exactly what the general ones write."""

from __future__ import annotations

import json
import random

from benchmarks.bench import Row, cpu_scenario, format_table, growth_scenario
from benchmarks.bench_data import Split, synthetic_state
from benchmarks.bench_http import _rate_stats
from reconciler.plan.planner import build_plan
from reconciler.render.plan import _deep_diff, _NotPlain, _plain_diff, plan_to_dict, render_json


def test_the_cpu_scenario_plans_the_80_10_5_5_split() -> None:
    result = cpu_scenario(200, repeats=1)
    assert result["summary"] == {
        "no-op": 160, "update": 20, "create": 10, "delete": 10, "unmanaged": 0
    }  # fmt: skip
    assert (result["declared"], result["live"]) == (190, 190)
    assert Split.of(200) == Split(unchanged=160, updated=20, created=10, deleted=10)
    assert set(result["seconds"]) == {"build", "json", "text", "total"}


def test_growth_and_table_run_at_tiny_sizes() -> None:
    result = growth_scenario((40, 80), entries=160)
    assert [(p["stores"], p["passes"]) for p in result["points"]] == [(40, 4), (80, 3)]
    table = format_table([Row("cpu", "total", "0.1 s", "< 1 s", True), Row("x", "y", "z")])
    assert "ok" in table and "MISSED" not in table


def test_render_json_is_the_plan_document_sorted_and_deterministic() -> None:
    desired, live = synthetic_state(200, seed=3)
    plan = build_plan(desired, live)
    text = render_json(plan, api_host="h")
    assert json.loads(text) == plan_to_dict(plan, api_host="h")
    assert text == render_json(build_plan(desired, list(reversed(live))), api_host="h")
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"


def _value(rng: random.Random, depth: int) -> object:
    if depth < 2 and rng.random() < 0.25:
        return _object(rng, depth + 1)
    return rng.choice(["x", "y", "", "(sensitive)", 'a "b", c', True, False, None])


def _object(rng: random.Random, depth: int = 0) -> dict[str, object]:
    keys = rng.sample(["a", "b", "c", "host", "port"], rng.randint(0, 5))
    return {k: _value(rng, depth) for k in keys}


def test_the_direct_field_diff_reports_what_deepdiff_reports() -> None:
    rng = random.Random(7)
    desired, live = synthetic_state(200, seed=5)
    pairs = [
        ({k: v for k, v in c.before.items() if k != "tags"},
         {k: v for k, v in c.after.items() if k != "tags"})
        for c in build_plan(desired, live).changes
        if c.before is not None and c.after is not None
    ]  # fmt: skip
    pairs += [(_object(rng), _object(rng)) for _ in range(300)]
    for before, after in pairs:
        fast: list[tuple[str, str]] = []
        _plain_diff(before, after, "", fast)
        assert sorted(set(fast)) == sorted(set(_deep_diff(before, after))), (before, after)
    for odd in ({"a": 1}, {"a": [1]}, {"a": 1.5}):
        try:
            _plain_diff({"a": "x"}, odd, "", [])
        except _NotPlain:
            continue
        raise AssertionError(f"{odd} should be left to deepdiff")


def test_rate_stats_measure_complete_windows_only() -> None:
    log = [{"method": "GET", "status": 200, "timeMs": 999_500}]
    log += [{"method": "POST", "status": 201, "timeMs": 999_900 + 20 * i} for i in range(150)]
    log += [{"method": "POST", "status": 429, "timeMs": 1_003_000}]
    stats = _rate_stats(log, limit=50, window=1.0)
    assert stats["creates_per_window"] == [5, 50, 50, 45]
    assert stats["complete_windows"] == 2
    assert stats["achieved_post_rps"] == 50.0
    assert stats["rate_limited_429"] == 1 and stats["requests"] == 152
