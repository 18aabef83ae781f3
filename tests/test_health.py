"""Health: LaunchDarkly's connection status in plan and drift output, and apply --wait-healthy."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import PAYMENTS, cli, write

from reconciler.emulator import EmulatorServer

BROKEN = {
    "available": False,
    "potentiallyStale": True,
    "lastError": 1_700_000_000_000,
    "errors": [
        {
            "statusCode": 500,
            "message": "WRONGPASS invalid username-password pair",
            "timestamp": 1_700_000_000_000,
        }
    ],
}


def applied(emulator: EmulatorServer, tmp_path: Path) -> str:
    manifest = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    return manifest


def redis_id(emulator: EmulatorServer) -> str:
    return next(s.id for s in emulator.state.stores() if s.integration_key == "redis")


def test_plan_shows_each_stores_health_in_text_json_and_markdown(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = applied(emulator, tmp_path)
    emulator.state.set_status(redis_id(emulator), BROKEN)
    text = cli(emulator, "plan", manifest).out
    assert "FAIL payments/production/redis: unavailable, potentially stale" in text
    assert "WRONGPASS" in text
    doc = json.loads(cli(emulator, "plan", manifest, "--format", "json").out)
    status = next(
        c["status"] for c in doc["changes"] if c["address"] == "payments/production/redis"
    )
    assert status["available"] is False and status["errors"][0]["statusCode"] == 500
    markdown = cli(emulator, "plan", manifest, "--format", "markdown").out
    assert "Health: 1 of 2 stores healthy." in markdown  # the staging store is off: not a fault
    assert "payments/staging/dynamodb: off" in text


def test_drift_counts_an_unhealthy_store_only_with_health(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = applied(emulator, tmp_path)
    emulator.state.set_status(redis_id(emulator), BROKEN)
    assert cli(emulator, "drift", manifest).code == 0
    result = cli(emulator, "drift", manifest, "--health")
    assert result.code == 2
    assert "Unhealthy: payments/production/redis." in result.out


def test_drift_health_states_the_same_verdict_as_its_exit_code_in_every_format(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = applied(emulator, tmp_path)
    emulator.state.set_status(redis_id(emulator), BROKEN)
    text = cli(emulator, "drift", manifest, "--health")
    assert text.code == 2
    assert "No drift" not in text.out
    assert text.out.startswith("Drift: the stores match the manifests, but 1 of them")
    doc = json.loads(cli(emulator, "drift", manifest, "--health", "--format", "json").out)
    assert doc["health"] == {"healthy": False, "unhealthy": ["payments/production/redis"]}
    markdown = cli(emulator, "drift", manifest, "--health", "--format", "markdown")
    assert markdown.code == 2
    assert "No drift" not in markdown.out
    assert "**Drift: 1 store(s) unhealthy**" in markdown.out


def test_drift_health_with_healthy_stores_says_no_drift_and_reports_healthy_in_json(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = applied(emulator, tmp_path)
    text = cli(emulator, "drift", manifest, "--health")
    assert text.code == 0, text.all
    assert text.out.startswith("No drift: LaunchDarkly matches the manifests.")
    doc = json.loads(cli(emulator, "drift", manifest, "--health", "--format", "json").out)
    assert doc["health"] == {"healthy": True, "unhealthy": []}
    assert "health" not in json.loads(cli(emulator, "drift", manifest, "--format", "json").out)


def test_wait_healthy_fails_with_launchdarklys_errors(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = applied(emulator, tmp_path)
    emulator.state.set_status(redis_id(emulator), BROKEN)
    write(tmp_path, PAYMENTS.replace("tier:1", "tier:2"))
    result = cli(emulator, "apply", manifest, "--auto-approve", "--wait-healthy=0.2")
    assert result.code == 1
    assert "not healthy after 0.2s" in result.err and "WRONGPASS" in result.err


def test_wait_healthy_passes_when_the_changed_stores_are_available(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    # The DynamoDB store stays off: without the emulator's data plane an 'on' DynamoDB store is
    # never synced, so never available (tests/test_dataplane_dynamo.py syncs one for real).
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "apply", manifest, "--auto-approve", "--wait-healthy", "5")
    assert result.code == 0, result.all
    assert "All changed stores are available." in result.err
