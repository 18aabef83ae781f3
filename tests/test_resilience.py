"""Apply converges through rate limits, server errors, lost responses and races."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import PASSWORD, PAYMENTS, cli, env_for, write
from conftest import TOKEN

from reconciler.api.client import Client, settings_from_env
from reconciler.api.refresh import read_live
from reconciler.apply.executor import execute
from reconciler.emulator import EmulatorServer, EmulatorState, FaultConfig, RateLimitConfig
from reconciler.errors import ApplyError
from reconciler.manifest.load import load_manifests
from reconciler.plan.planner import build_plan

STAGING = "/api/v2/integration-capabilities/big-segment-store/payments/staging"
MANY = "project: payments\nstores:\n" + "".join(
    f"""  - environment: production
    integrationKey: redis
    name: Store {i}
    config: {{host: redis-{i}.internal}}
"""
    for i in range(8)
)


@pytest.fixture
def realtime() -> Iterator[EmulatorServer]:
    """An emulator on the real clock, so rate-limit windows pass while the client waits."""
    state = EmulatorState(
        tokens=[TOKEN], projects={"payments": ["production", "staging"]}, rng=random.Random(1)
    )
    server = EmulatorServer(state).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def test_a_429_storm_is_waited_out_and_apply_converges(
    realtime: EmulatorServer, tmp_path: Path
) -> None:
    realtime.limiter.configure(
        RateLimitConfig(enabled=True, window_seconds=0.5, route_limit=3, global_limit=1000)
    )
    manifest = write(tmp_path, MANY)
    result = cli(realtime, "apply", manifest, "--auto-approve", "--parallelism", "4")
    assert result.code == 0, result.all
    assert len(realtime.state.stores()) == 8
    statuses = [r.status for r in realtime.state.requests]
    assert statuses.count(201) == 8
    assert cli(realtime, "plan", manifest, "--detailed-exitcode").code == 0


def test_a_5xx_storm_converges_without_duplicates(realtime: EmulatorServer, tmp_path: Path) -> None:
    realtime.faults.configure(FaultConfig(error_rate=0.3, seed=7))
    manifest = write(tmp_path, MANY)
    result = cli(realtime, "apply", manifest, "--auto-approve")
    assert result.code == 0, result.all
    assert any(r.fault for r in realtime.state.requests), "the storm never happened"
    names = sorted(s.name for s in realtime.state.stores())
    assert names == sorted(f"Store {i}" for i in range(8))


def test_dropped_connections_are_retried(realtime: EmulatorServer, tmp_path: Path) -> None:
    realtime.faults.fail_next(2, drop=True, method="POST")
    manifest = write(tmp_path, MANY)
    result = cli(realtime, "apply", manifest, "--auto-approve")
    assert result.code == 0, result.all
    assert len(realtime.state.stores()) == 8


def test_an_ambiguous_create_produces_no_duplicate(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults.ambiguous_creates(2)
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "apply", manifest, "--auto-approve")
    assert result.code == 0, result.all
    assert sorted(s.name for s in emulator.state.stores()) == [
        "Payments production",
        "Payments staging",
    ]
    posts = [r for r in emulator.state.requests if r.method == "POST"]
    assert len(posts) == 2 and all(r.status == 502 for r in posts)


def test_a_concurrent_change_is_rejected_by_the_version_test_and_reported(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    write(tmp_path, PAYMENTS.replace("on: true", "on: false"))
    env = env_for(emulator)
    loaded = load_manifests([manifest], env=env)
    with Client(settings_from_env(env)) as client:
        plan = build_plan(loaded.state, read_live(client, {"payments"}))
        target = next(c for c in plan.changes if c.action == "update")
        assert target.id is not None
        emulator.state.mutate_store(target.id, {"name": "Renamed by a human"})  # after the plan
        before = len(emulator.state.requests)
        with pytest.raises(ApplyError) as error:
            execute(plan, client)
    message = str(error.value)
    assert "changed in LaunchDarkly since the plan was made" in message and "re-run plan" in message
    assert emulator.state.store(target.id).name == "Renamed by a human"
    assert emulator.state.store(target.id).on is True
    patches = [r for r in emulator.state.requests[before:] if r.method == "PATCH"]
    assert [r.status for r in patches] == [409]  # tried once, never blindly retried


def test_a_failure_midway_names_what_changed_and_what_did_not(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    text = (
        PAYMENTS
        + """\
---
project: search
stores:
  - environment: production
    integrationKey: redis
    name: Search production
    config: {host: search.internal}
"""
    )
    emulator.faults.fail_next(1, status=400, method="POST", path_prefix=STAGING)
    manifest = write(tmp_path, text)
    result = cli(emulator, "apply", manifest, "--auto-approve", "--parallelism", "1")
    assert result.code == 1
    assert "changed:     payments/production/redis (create)" in result.err
    assert "failed:      payments/staging/dynamodb (create)" in result.err
    assert "not started: search/production/redis (create)" in result.err
    assert "HTTP 400" in result.err
    again = cli(emulator, "apply", manifest, "--auto-approve")
    assert again.code == 0, again.all
    assert len(emulator.state.stores()) == 3


def test_parallel_reads_are_deterministic(realtime: EmulatorServer, tmp_path: Path) -> None:
    realtime.faults.configure(FaultConfig(latency_ms=5))
    manifest = write(tmp_path, MANY)
    cli(realtime, "apply", manifest, "--auto-approve")
    outs = {
        cli(realtime, "plan", manifest, "--format", "json", "--parallelism", str(n)).out
        for n in (1, 8)
    }
    assert len(outs) == 1


def test_the_journal_records_each_step_with_new_ids_and_no_secrets(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(1, status=400, method="POST", path_prefix=STAGING)
    journal = tmp_path / "journal.jsonl"
    manifest = write(tmp_path, PAYMENTS)
    argv = ["--journal", str(journal), "--parallelism", "1"]
    assert cli(emulator, "apply", manifest, "--auto-approve", *argv).code == 1
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    events = [(e["event"], e.get("address")) for e in lines]
    assert events == [
        ("start", None),
        ("request", "payments/production/redis"),
        ("request", "payments/staging/dynamodb"),
        ("failed", "payments/staging/dynamodb"),
        ("done", "payments/production/redis"),  # creates are posted first, then settled
        ("stopped", None),
    ]
    created = emulator.state.stores()[0]
    assert lines[4]["new_id"] == created.id and lines[4]["method"] == "POST"
    assert PASSWORD not in journal.read_text()


def test_a_parallel_apply_that_fails_accounts_for_every_change(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(1, status=400, method="POST", path_prefix=STAGING)
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "apply", manifest, "--auto-approve", "--parallelism", "8")
    assert result.code == 1
    assert "failed:      payments/staging/dynamodb (create)" in result.err
    assert "changed:     payments/production/redis (create)" in result.err
    assert [s.environment for s in emulator.state.stores()] == ["production"]


def test_a_crash_midway_then_a_rerun_converges_without_duplicates(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    text = PAYMENTS + "---\n" + MANY.replace("project: payments", "project: search")
    manifest = write(tmp_path, text)
    emulator.faults.ambiguous_creates(3)  # created, but the answers are lost
    crashed = cli(emulator, "apply", manifest, "--auto-approve", "--max-attempts", "1")
    assert crashed.code == 1
    assert "not started" in crashed.err
    created_before = len(emulator.state.stores())
    assert created_before >= 1
    again = cli(emulator, "apply", manifest, "--auto-approve")
    assert again.code == 0, again.all
    names = sorted((s.project, s.name) for s in emulator.state.stores())
    assert len(names) == len(set(names)) == 10
    assert cli(emulator, "plan", manifest, "--detailed-exitcode").code == 0


def test_a_failure_summary_names_the_first_ten_stores_and_counts_the_rest(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    text = "project: payments\nstores:\n" + "".join(
        f"  - environment: production\n    integrationKey: redis\n    name: Store {i:02d}\n"
        f"    config: {{host: redis-{i}.internal}}\n"
        for i in range(30)
    )
    emulator.faults.fail_next(1, status=400, method="POST")
    result = cli(emulator, "apply", write(tmp_path, text), "--auto-approve", "--parallelism", "1")
    assert result.code == 1
    line = next(x for x in result.err.splitlines() if x.startswith("  not started: "))
    assert line.count("(create)") == 10
    assert line.endswith(", … and 19 more")
