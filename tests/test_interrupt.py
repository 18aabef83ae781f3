"""Interrupting ``reconciler apply`` (``reconciler.apply.interrupt``): SIGINT or SIGTERM stops
new requests, lets those in flight finish, reports and journals changed / not started, exits
130 or 143, and a re-run converges."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
from cli_helpers import cli, env_for, write
from race_helpers import slow_emulator, start_gated, stores_manifest, wait_for

from reconciler.api.client import Client, settings_from_env
from reconciler.api.refresh import read_live
from reconciler.apply.executor import execute
from reconciler.apply.interrupt import Stop
from reconciler.emulator import FaultConfig
from reconciler.errors import ApplyInterrupted
from reconciler.manifest.load import load_manifests
from reconciler.plan.planner import build_plan

STORES = 40


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_apply_stops_cleanly_and_a_rerun_converges(
    tmp_path: Path, signum: int, code: int
) -> None:
    manifest = write(tmp_path, stores_manifest(STORES))
    journal = tmp_path / "journal.jsonl"
    with slow_emulator(latency_ms=100) as server:
        gate = tmp_path / "gate"
        argv = ["apply", manifest, "--auto-approve", "--parallelism", "2"]
        proc = start_gated(server, gate, argv, journal)
        gate.touch()

        def some_created() -> bool:
            return sum(r.method == "POST" and r.status == 201 for r in server.state.requests) >= 4

        try:
            wait_for(some_created, 60, "the first creates")
        finally:
            proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == code, out + err
        name = signal.Signals(signum).name
        assert f"{name}: starting nothing new" in err
        assert f"apply interrupted by {name}" in err
        changed = err.split("changed:", 1)[1].splitlines()[0]
        not_started = err.split("not started:", 1)[1].splitlines()[0]
        assert "(create)" in changed and "(create)" in not_started
        live = len(server.state.stores())
        assert 0 < live < STORES
        assert changed.count("(create)") == live  # in-flight creates finished and are listed
        events = [json.loads(line) for line in journal.read_text().splitlines()]
        stopped = [e for e in events if e["event"] == "interrupted"]
        assert len(stopped) == 1 and stopped[0]["signal"] == name
        assert len(stopped[0]["changed"]) == live
        assert len(stopped[0]["not_started"]) == STORES - live
        assert stopped[0]["in_flight"] == []

        again = cli(server, "apply", manifest, "--auto-approve")
        assert again.code == 0, again.all
        assert len(server.state.stores()) == STORES
        assert cli(server, "plan", manifest, "--detailed-exitcode").code == 0


def test_a_second_signal_stops_waiting_for_the_requests_in_flight() -> None:
    stop = Stop(clock=lambda: 0.0)
    stop.request(signal.SIGINT)
    assert stop.requested and not stop.aborted and not stop.grace_over(30)
    stop.request(signal.SIGINT)
    assert stop.aborted and stop.exit_code == 130 and stop.name == "SIGINT"


def test_sigterm_exits_143() -> None:
    error = ApplyInterrupted("stopped", signum=signal.SIGTERM)
    assert error.exit_code == 143


def test_changes_still_in_flight_after_the_grace_period_are_reported_in_flight(
    tmp_path: Path,
) -> None:
    manifest = write(tmp_path, stores_manifest(3))
    with slow_emulator(latency_ms=0) as server:
        env = env_for(server)
        loaded = load_manifests([manifest], env=env)
        with Client(settings_from_env(env)) as client:
            plan = build_plan(loaded.state, read_live(client, {"payments"}))
            server.faults.configure(FaultConfig(latency_ms=3000))
            stop = Stop()
            timer = threading.Timer(0.3, stop.request, (signal.SIGTERM,))
            timer.start()
            with pytest.raises(ApplyInterrupted) as error:
                execute(plan, client, parallelism=1, stop=stop, grace=0.2)
            timer.cancel()
    message = str(error.value)
    assert error.value.exit_code == 143
    assert "in flight:   payments/production/redis/Store 00 (create)" in message
    assert "not started: payments/production/redis/Store 01 (create)" in message
