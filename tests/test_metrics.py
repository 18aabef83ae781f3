"""Unit tests of the metrics module: plans in, Prometheus samples out, in a private registry."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from test_plan import have, state, want
from watch_support import parse_metrics, value

from reconciler.errors import ConfigError
from reconciler.model import LiveStore, StoreStatus
from reconciler.plan.planner import build_plan
from reconciler.watch.metrics import GLOBAL_ROUTE, Metrics, store_samples

ROUTE = "GET /api/v2/integration-capabilities/big-segment-store/{projectKey}"


def labels(env: str, name: str, key: str = "redis") -> dict[str, str]:
    return {"project": "payments", "environment": env, "integration_key": key, "name": name}


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return parse_metrics(metrics.exposition().decode())


def test_two_stores_of_one_kind_in_one_environment_get_their_own_series() -> None:
    plan = build_plan(
        state(want(name="A"), want(name="B")),
        [have(name="A", id="a" * 24), have(name="B", id="b" * 24, on=False)],
    )
    metrics = Metrics()
    metrics.record_plan(plan)
    got = samples(metrics)
    assert value(got, "reconciler_store_drift", **labels("production", "A")) == 0
    assert value(got, "reconciler_store_drift", **labels("production", "B")) == 1
    assert value(got, "reconciler_store_healthy", **labels("production", "A")) == 1


def test_an_unavailable_store_that_is_on_is_unhealthy_and_one_that_is_off_is_not() -> None:
    down = StoreStatus(available=False, potentially_stale=True)
    plan = build_plan(
        state(want(), want("staging", name="S", on=False)),
        [
            _with_status(have(), down),
            _with_status(have("staging", name="S", id="c" * 24, on=False), down),
        ],
    )
    by_labels = {s.labels[1]: s for s in store_samples(plan)}
    assert by_labels["production"].healthy is False
    assert by_labels["staging"].healthy is True


def _with_status(store: LiveStore, status: StoreStatus) -> LiveStore:
    return replace(store, status=status)


def test_a_store_to_create_drifts_and_has_no_health_yet() -> None:
    plan = build_plan(state(want()), [])
    (sample,) = store_samples(plan)
    assert sample.drift is True and sample.healthy is None
    (repaired,) = store_samples(plan, {plan.changes[0].address})
    assert repaired.drift is False


def test_series_of_stores_that_leave_the_plan_are_removed() -> None:
    metrics = Metrics()
    metrics.record_plan(build_plan(state(want(), want("staging", name="S")), [have()]))
    assert value(samples(metrics), "reconciler_store_drift", **labels("staging", "S")) == 1
    metrics.record_plan(build_plan(state(want()), [have()]))
    got = samples(metrics)
    assert value(got, "reconciler_store_drift", **labels("staging", "S")) is None
    assert value(got, "reconciler_store_drift", **labels("production", "Payments production")) == 0


def test_a_store_whose_status_becomes_unknown_loses_its_health_series() -> None:
    metrics = Metrics()
    metrics.record_plan(build_plan(state(want()), [have()]))
    prod = labels("production", "Payments production")
    assert value(samples(metrics), "reconciler_store_healthy", **prod) == 1
    metrics.record_plan(build_plan(state(want()), [_with_status(have(), StoreStatus())]))
    assert value(samples(metrics), "reconciler_store_healthy", **prod) is None


def test_the_observer_counts_requests_by_route_and_keeps_the_rate_limit_budgets() -> None:
    metrics = Metrics()
    headers = {"x-ratelimit-route-remaining": "17", "x-ratelimit-global-remaining": "480"}
    metrics.observe_response(ROUTE, "200", headers)
    metrics.observe_response(ROUTE, "429", {"x-ratelimit-route-remaining": "garbage"})
    metrics.observe_response(ROUTE, "error", None)
    got = samples(metrics)
    for code in ("200", "429", "error"):
        assert value(got, "reconciler_api_requests_total", route=ROUTE, code=code) == 1
    assert value(got, "reconciler_rate_limit_remaining", route=ROUTE) == 17
    assert value(got, "reconciler_rate_limit_remaining", route=GLOBAL_ROUTE) == 480


def test_runs_and_applied_changes_are_counted_and_only_successes_stamp_the_time() -> None:
    metrics = Metrics()
    metrics.record_run(duration=0.5, ok=False, finished_at=100.0)
    assert value(samples(metrics), "reconciler_last_run_success_timestamp_seconds") == 0
    metrics.record_run(duration=0.5, ok=True, finished_at=200.0)
    metrics.record_applied("update")
    got = samples(metrics)
    assert value(got, "reconciler_last_run_success_timestamp_seconds") == 200
    assert value(got, "reconciler_runs_total", result="error") == 1
    assert value(got, "reconciler_run_duration_seconds_count") == 2
    assert value(got, "reconciler_applied_changes_total", action="update") == 1


def test_each_metrics_object_has_its_own_registry_not_the_global_one() -> None:
    first, second = Metrics(), Metrics()  # a second one would clash in a shared registry
    first.record_applied("create")
    assert value(samples(second), "reconciler_applied_changes_total", action="create") is None
    assert REGISTRY.get_sample_value("reconciler_unmanaged_stores") is None


def test_an_unwritable_textfile_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot write"):
        Metrics().write_textfile(str(tmp_path / "missing" / "x.prom"))


def test_only_the_metrics_module_imports_prometheus_client_and_extra_guards_it() -> None:
    from test_layout import imports_of, product_modules

    users = sorted(
        name
        for name, path in product_modules()
        if any(m.split(".")[0] == "prometheus_client" for m in imports_of(name, path))
    )
    assert users == ["reconciler.watch.extra", "reconciler.watch.metrics"]
