"""``reconciler watch`` as a real subprocess against the emulator: metrics, drift, auto-apply,
health, outages, signals, logs; and ``drift --metrics-file``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_helpers import EXTERNAL_ID, PASSWORD, PAYMENTS, cli, env_for, write
from conftest import TOKEN, small_account
from redis_support import ROOT_PASSWORD, RedisServer, redis_server_binary
from watch_support import Watch, parse_metrics, store, value

from reconciler.emulator import EmulatorServer, FakeClock

PROD = store("payments", "production", "redis", "Payments production")
STAGING = store("payments", "staging", "dynamodb", "Payments staging")
DRIFT = "reconciler_store_drift"
HEALTHY = "reconciler_store_healthy"
FAST = ["--interval", "1s", "--listen", "127.0.0.1:0", "--max-attempts", "2"]


@pytest.fixture
def manifests(tmp_path: Path) -> str:
    return write(tmp_path, PAYMENTS)


def applied(emulator: EmulatorServer, manifests: str) -> str:
    """Apply the manifests; return the id of payments/production/redis."""
    assert cli(emulator, "apply", manifests, "--auto-approve").code == 0
    (prod,) = [s for s in emulator.state.stores() if s.environment == "production"]
    return prod.id


def side_door_patch(emulator: EmulatorServer, store_id: str, changes: dict[str, object]) -> None:
    response = httpx.patch(f"{emulator.url}/__emulator/stores/{store_id}", json=changes)
    assert response.status_code == 200, response.text


def test_watch_exposes_store_metrics_health_and_readiness(
    emulator: EmulatorServer, manifests: str
) -> None:
    applied(emulator, manifests)
    with Watch([manifests, *FAST], env_for(emulator)) as watch:
        watch.wait_for(DRIFT, 0, **PROD)
        assert watch.until(lambda: watch.get("/readyz").status_code == 200, what="ready")
        assert watch.get("/healthz").status_code == 200
        assert watch.get("/nothing-here").status_code == 404
        samples = watch.metrics()
        assert value(samples, DRIFT, **STAGING) == 0
        assert value(samples, "reconciler_unmanaged_stores") == 0
        assert (value(samples, "reconciler_last_run_success_timestamp_seconds") or 0) > 0
        assert (value(samples, "reconciler_run_duration_seconds_count") or 0) >= 1
        routes = {dict(labels)["route"] for name, labels in samples
                  if name == "reconciler_api_requests_total"}  # fmt: skip
        assert "GET /api/v2/integration-capabilities/big-segment-store" in routes
        ids = {s.id for s in emulator.state.stores()}
        assert not any(i in route for route in routes for i in ids), "a raw URL leaked"


def test_an_out_of_band_change_turns_the_drift_gauge_to_1_within_two_intervals(
    emulator: EmulatorServer, manifests: str
) -> None:
    prod = applied(emulator, manifests)
    with Watch([manifests, *FAST], env_for(emulator)) as watch:
        watch.wait_for(DRIFT, 0, **PROD)
        side_door_patch(emulator, prod, {"on": False})
        runs = watch.runs()
        seen = watch.until(
            lambda: (got := watch.metrics()) and value(got, DRIFT, **PROD) == 1 and got,
            what="drift 1",
        )
        cycles = value(seen, "reconciler_runs_total", result="success") or 0
        assert cycles <= runs + 2, "the drift took more than two cycles to show"
        assert watch.metric(DRIFT, **STAGING) == 0
        assert emulator.state.store(prod).on is False  # watch alone never writes


def test_auto_apply_repairs_the_drift_and_counts_the_change(
    emulator: EmulatorServer, manifests: str
) -> None:
    prod = applied(emulator, manifests)
    argv = [manifests, *FAST, "--auto-apply", "--no-journal"]
    with Watch(argv, env_for(emulator)) as watch:
        watch.wait_for(DRIFT, 0, **PROD)
        before = watch.metric("reconciler_applied_changes_total", action="update") or 0
        side_door_patch(emulator, prod, {"on": False, "config": {"host": "evil.example"}})
        watch.wait_for("reconciler_applied_changes_total", before + 1, action="update")
        watch.wait_for(DRIFT, 0, **PROD)
        live = emulator.state.store(prod)
        assert live.on is True and live.config["host"] == "redis.payments.internal"
        events = [e for e in watch.events() if e.get("event") == "applied"]
        assert {"address": "payments/production/redis", "action": "update"}.items() <= (
            events[-1].items()
        )


def test_auto_apply_never_deletes_without_allow_delete(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    applied(emulator, manifests)
    only_prod = write(tmp_path, PAYMENTS.split("  - environment: staging")[0], "prod.yaml")
    os.remove(manifests)
    with Watch([only_prod, *FAST, "--auto-apply", "--no-journal"], env_for(emulator)) as watch:
        watch.wait_for(DRIFT, 1, **STAGING)  # an owned store that left the manifests
        runs = watch.runs()
        watch.until(lambda: watch.runs() >= runs + 2, what="two more cycles")
        assert len(emulator.state.stores()) == 2
        assert watch.metric("reconciler_applied_changes_total", action="delete") is None


def test_a_store_that_leaves_the_plan_loses_its_series(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    applied(emulator, manifests)
    staging = next(s for s in emulator.state.stores() if s.environment == "staging")
    with Watch([manifests, *FAST], env_for(emulator)) as watch:
        watch.wait_for(DRIFT, 0, **STAGING)
        emulator.state.mutate_store(staging.id, {"tags": []})  # no longer ours: unmanaged
        Path(manifests).write_text(PAYMENTS.split("  - environment: staging")[0])
        watch.until(lambda: watch.metric(DRIFT, **STAGING) is None, what="series removed")
        assert watch.metric("reconciler_unmanaged_stores") == 1
        assert watch.metric(DRIFT, **PROD) == 0


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary()).start()
    try:
        yield server
    finally:
        server.close()


LOCAL = """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Local
    on: true
    config: {{host: 127.0.0.1, port: {port}, password: "${{LOCAL_PASSWORD}}"}}
"""


def test_a_store_whose_redis_is_unreachable_turns_the_healthy_gauge_to_0(
    clock: FakeClock, tmp_path: Path, redis_server: RedisServer
) -> None:
    server = EmulatorServer(small_account(clock), clock=clock, dataplane=True, sync_interval=0.2)
    with server:
        path = write(tmp_path, LOCAL.format(port=redis_server.port))
        env = env_for(server, LOCAL_PASSWORD=ROOT_PASSWORD)
        assert cli(server, "apply", path, "--auto-approve", LOCAL_PASSWORD=ROOT_PASSWORD).code == 0
        local = store("payments", "production", "redis", "Local")
        with Watch([path, *FAST], env) as watch:
            watch.wait_for(HEALTHY, 1, **local)
            redis_server.stop()
            watch.wait_for(HEALTHY, 0, **local)
            assert watch.metric(DRIFT, **local) == 0  # unhealthy is not drift
        assert server.state.contract_violations == []


def test_an_api_outage_keeps_watch_alive_fails_readyz_then_recovers(
    clock: FakeClock, manifests: str
) -> None:
    state = small_account(clock)
    first = EmulatorServer(state, clock=clock).start()
    port, env = first.port, env_for(first)
    try:
        applied(first, manifests)
        with Watch([manifests, *FAST], env) as watch:
            watch.until(lambda: watch.get("/readyz").status_code == 200, what="ready")
            first.stop()
            watch.until(lambda: watch.get("/readyz").status_code == 503, what="not ready")
            assert "failed" in watch.get("/readyz").text
            assert watch.get("/healthz").status_code == 200
            assert watch.metric("reconciler_runs_total", result="error")
            second = EmulatorServer(state, clock=clock, port=port).start()
            try:
                watch.until(lambda: watch.get("/readyz").status_code == 200, what="recovery")
            finally:
                second.stop()
            failed = [e for e in watch.events() if e.get("event") == "cycle_failed"]
            assert failed and "could not reach LaunchDarkly" in str(failed[0]["message"])
    finally:
        first.stop()
    assert state.contract_violations == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_ends_watch_with_exit_0_within_one_interval(
    emulator: EmulatorServer, manifests: str, sig: signal.Signals
) -> None:
    interval = 5.0
    argv = [manifests, "--interval", f"{interval:g}s", "--listen", "127.0.0.1:0"]
    with Watch(argv, env_for(emulator)) as watch:
        watch.until(lambda: watch.runs() >= 1, what="a first cycle")
        assert watch.proc is not None
        watch.proc.send_signal(sig)
        assert watch.proc.wait(timeout=interval) == 0
        assert any(e.get("event") == "stopped" for e in watch.events())


def test_no_secret_reaches_the_logs_which_are_one_json_object_per_line(
    emulator: EmulatorServer, manifests: str
) -> None:
    prod = applied(emulator, manifests)
    argv = [manifests, *FAST, "--auto-apply", "--no-journal"]
    with Watch(argv, env_for(emulator), verbose=True) as watch:
        watch.wait_for(DRIFT, 0, **PROD)
        side_door_patch(emulator, prod, {"config": {"password": "changed-by-hand"}})
        watch.wait_for("reconciler_applied_changes_total", 1, action="update")
        rule = {"method": "PATCH", "pathPrefix": "/api/", "status": 400, "count": 1000}
        response = httpx.put(f"{emulator.url}/__emulator/faults", json={"rules": [rule]})
        assert response.status_code == 200
        side_door_patch(emulator, prod, {"config": {"password": "changed-again"}})
        watch.until(
            lambda: any(e.get("event") == "cycle_failed" for e in watch.events()),
            what="a failed cycle",
        )
        lines = list(watch.lines)
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    text = "\n".join(lines)
    assert "debug" in {json.loads(line)["level"] for line in lines}  # -vv: all the logs
    for secret in (PASSWORD, EXTERNAL_ID, TOKEN, "changed-by-hand", "changed-again"):
        assert secret not in text


def test_drift_metrics_file_writes_the_gauges_atomically(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    prod = applied(emulator, manifests)
    out = tmp_path / "textfile" / "reconciler.prom"
    out.parent.mkdir()
    assert cli(emulator, "drift", manifests, "--metrics-file", str(out)).code == 0
    samples = parse_metrics(out.read_text())
    assert value(samples, DRIFT, **PROD) == 0
    assert value(samples, "reconciler_unmanaged_stores") == 0
    assert (value(samples, "reconciler_last_run_success_timestamp_seconds") or 0) > 0
    emulator.state.mutate_store(prod, {"on": False})
    assert cli(emulator, "drift", manifests, "--metrics-file", str(out)).code == 2
    assert value(parse_metrics(out.read_text()), DRIFT, **PROD) == 1
    assert [p.name for p in out.parent.iterdir()] == ["reconciler.prom"]  # no temporary left


def test_drift_metrics_file_is_not_written_when_drift_fails(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    out = tmp_path / "reconciler.prom"
    result = cli(emulator, "drift", manifests, "--metrics-file", str(out),
                 LAUNCHDARKLY_ACCESS_TOKEN="api-wrong-token-1234")  # fmt: skip
    assert result.code == 1 and not out.exists()


def test_watch_without_the_watch_extra_says_which_extra_to_install(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    fake = tmp_path / "site" / "prometheus_client"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, **env_for(emulator), "PYTHONPATH": str(fake.parent)}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "watch", manifests, "--cycles", "1"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "reconciler[watch]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "bad"), [("--interval", "soon"), ("--interval", "10ms"), ("--listen", "9464")]
)
def test_bad_watch_flags_are_usage_errors(
    emulator: EmulatorServer, manifests: str, flag: str, bad: str
) -> None:
    result = cli(emulator, "watch", manifests, flag, bad, "--cycles", "1")
    assert result.code == 1 and flag in result.err


def test_watch_cycles_prints_the_metrics_and_exits_with_the_last_cycle_result(
    emulator: EmulatorServer, manifests: str
) -> None:
    applied(emulator, manifests)
    ok = cli(emulator, "watch", manifests, "--listen", "127.0.0.1:0", "--cycles", "1")
    assert ok.code == 0
    assert value(parse_metrics(ok.out), DRIFT, **PROD) == 0
    bad = cli(emulator, "watch", manifests, "--listen", "127.0.0.1:0", "--cycles", "1",
              LAUNCHDARKLY_ACCESS_TOKEN="api-wrong-token-1234")  # fmt: skip
    assert bad.code == 1 and "401" in bad.err


def test_watch_holds_every_cycle_to_the_manifest_size_limits(
    emulator: EmulatorServer, manifests: str
) -> None:
    applied(emulator, manifests)
    once = ["watch", manifests, "--listen", "127.0.0.1:0", "--cycles", "1"]
    over = cli(emulator, *once, "--max-tree-size", "10")
    assert over.code == 1 and "limit (raise it with --max-tree-size)" in over.err
    assert cli(emulator, *once, "--max-tree-size", "1MiB").code == 0


def test_a_busy_listen_port_is_a_clear_error(emulator: EmulatorServer, manifests: str) -> None:
    host, port = emulator.host, emulator.port
    result = cli(emulator, "watch", manifests, "--listen", f"{host}:{port}", "--cycles", "1")
    assert result.code == 1 and f"cannot listen on {host}:{port}" in result.err


def test_auto_apply_skips_a_plan_over_the_threshold_unless_forced(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    strict = PAYMENTS.replace(
        "defaults:", "safety: {changeThreshold: 0.3, minStores: 1}\ndefaults:"
    )
    path = write(tmp_path, strict)
    applied(emulator, path)
    for live in emulator.state.stores():
        emulator.state.mutate_store(live.id, {"on": not live.on})
    once = ["watch", path, "--listen", "127.0.0.1:0", "--cycles", "1", "--auto-apply"]
    refused = cli(emulator, *once, "--no-journal")
    assert refused.code == 0, refused.err  # the cycle itself succeeded
    assert "auto-apply skipped" in refused.err and "--force" in refused.err
    assert value(parse_metrics(refused.out), DRIFT, **PROD) == 1
    forced = cli(emulator, *once, "--no-journal", "--force")
    assert forced.code == 0
    got = parse_metrics(forced.out)
    assert value(got, "reconciler_applied_changes_total", action="update") == 2
    assert value(got, DRIFT, **PROD) == 0 and value(got, DRIFT, **STAGING) == 0


def test_auto_apply_skips_what_apply_would_refuse_such_as_a_misspelt_environment(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    typo = write(tmp_path, PAYMENTS.replace("  - environment: staging", "  - environment: stagin"))
    once = ["watch", typo, "--listen", "127.0.0.1:0", "--cycles", "1", "--auto-apply"]
    result = cli(emulator, *once, "--no-journal")
    assert result.code == 0, result.err  # the cycle itself succeeded
    skipped = [json.loads(line) for line in result.err.splitlines() if "auto-apply skipped" in line]
    assert len(skipped) == 1 and "did you mean 'staging'?" in skipped[0]["message"]
    assert skipped[0]["reasons"] == ["unknown-environment"]
    assert emulator.state.stores() == []  # not even the well-spelt store: apply refuses it whole
    plan = cli(emulator, "plan", typo)
    assert plan.code == 1 and "did you mean 'staging'?" in plan.err


def test_auto_apply_deletes_an_owned_store_only_with_allow_delete(
    emulator: EmulatorServer, manifests: str, tmp_path: Path
) -> None:
    applied(emulator, manifests)
    only_prod = write(tmp_path, PAYMENTS.split("  - environment: staging")[0], "prod.yaml")
    once = ["watch", only_prod, "--listen", "127.0.0.1:0", "--cycles", "1", "--auto-apply"]
    journal = tmp_path / "journal.jsonl"
    result = cli(emulator, *once, "--allow-delete", "--journal", str(journal))
    assert result.code == 0, result.err
    assert [s.environment for s in emulator.state.stores()] == ["production"]
    got = parse_metrics(result.out)
    assert value(got, "reconciler_applied_changes_total", action="delete") == 1
    assert value(got, DRIFT, **STAGING) == 0  # repaired in this cycle
    steps = [json.loads(line)["event"] for line in journal.read_text().splitlines()]
    assert steps[0] == "start" and "done" in steps  # the same journal as apply


def test_two_watchers_repairing_at_once_apply_the_fix_exactly_once(
    emulator: EmulatorServer, manifests: str
) -> None:
    prod = applied(emulator, manifests)
    argv = [manifests, *FAST, "--auto-apply", "--no-journal"]
    with Watch(argv, env_for(emulator)) as first, Watch(argv, env_for(emulator)) as second:
        for watch in (first, second):
            watch.wait_for(DRIFT, 0, **PROD)
        version = emulator.state.store(prod).version
        side_door_patch(emulator, prod, {"on": False})

        def fixes(watch: Watch) -> float:
            return watch.metric("reconciler_applied_changes_total", action="update") or 0.0

        first.until(lambda: emulator.state.store(prod).on, what="the repair")
        for watch in (first, second):  # both see it repaired: no second write is pending
            watch.until(lambda w=watch: w.runs() >= 2 and w.metric(DRIFT, **PROD) == 0,
                        what="drift 0")  # fmt: skip
        assert fixes(first) + fixes(second) == 1
        assert emulator.state.store(prod).version == version + 2  # the edit, one repair


def test_the_rate_limit_gauges_follow_what_launchdarkly_reports(
    emulator: EmulatorServer, manifests: str
) -> None:
    applied(emulator, manifests)
    limits = {"enabled": True, "windowSeconds": 60, "routeLimit": 500, "globalLimit": 900}
    assert httpx.put(f"{emulator.url}/__emulator/ratelimit", json=limits).status_code == 200
    result = cli(emulator, "watch", manifests, "--listen", "127.0.0.1:0", "--cycles", "1")
    assert result.code == 0, result.err
    got = parse_metrics(result.out)
    gauges = {dict(labels)["route"]: v for (name, labels), v in got.items()
              if name == "reconciler_rate_limit_remaining"}  # fmt: skip
    assert 0 < gauges.pop("global") < 900
    assert gauges and all(0 < v < 500 for v in gauges.values())
    assert all(route.split(" ", 1)[0] in ("GET", "POST", "PATCH", "DELETE") for route in gauges)
