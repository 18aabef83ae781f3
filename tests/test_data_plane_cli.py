"""The user's view of real stores: apply --wait-healthy and verify against a real redis-server."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import cli, write
from conftest import TOKEN
from redis_support import (  # noqa: F401  (fixtures)
    ROOT_PASSWORD,
    RedisServer,
    free_port,
    redis_clean_fixture,
    redis_server_fixture,
)

from reconciler.emulator import EmulatorServer, EmulatorState


def manifest(port: int, *, on: bool = True) -> str:
    return f"""\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    on: {"true" if on else "false"}
    config:
      host: 127.0.0.1
      port: {port}
      password: ${{REDIS_PAYMENTS_PASSWORD}}
"""


@pytest.fixture
def synced() -> Iterator[EmulatorServer]:
    """An emulator whose data plane syncs Redis stores every 50 ms on the real clock."""
    state = EmulatorState(
        tokens=[TOKEN], projects={"payments": ["production"]}, rng=random.Random(3)
    )
    server = EmulatorServer(state, dataplane=True, sync_interval=0.05).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def test_wait_healthy_succeeds_against_a_real_redis(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = write(tmp_path, manifest(redis_clean.port))
    result = cli(
        synced,
        "apply",
        path,
        "--auto-approve",
        "--wait-healthy=20",
        REDIS_PAYMENTS_PASSWORD=ROOT_PASSWORD,
    )
    assert result.code == 0, result.all
    assert "All changed stores are available." in result.err
    prefix = synced.state.client_side_id("payments", "production")
    assert redis_clean.admin().get(f"{prefix}:big_segments_synchronized_on") is not None


def test_wait_healthy_fails_with_the_redis_error_for_a_wrong_password(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = write(tmp_path, manifest(redis_clean.port))
    result = cli(
        synced,
        "apply",
        path,
        "--auto-approve",
        "--wait-healthy=1",
        REDIS_PAYMENTS_PASSWORD="wrong-password-123",
    )
    assert result.code == 1
    assert "WRONGPASS" in result.err
    assert "wrong-password-123" not in result.all


def test_verify_reports_a_healthy_store_by_its_client_side_id(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = write(tmp_path, manifest(redis_clean.port))
    env = {"REDIS_PAYMENTS_PASSWORD": ROOT_PASSWORD}
    assert cli(synced, "apply", path, "--auto-approve", "--wait-healthy=20", **env).code == 0
    prefix = synced.state.client_side_id("payments", "production")
    result = cli(synced, "verify", path, "--client-side-id", f"payments/production={prefix}", **env)
    assert result.code == 0, result.all
    assert "ok   payments/production/redis" in result.out
    assert "Verify: 1 of 1 store(s) healthy." in result.out


def test_verify_reports_a_wrong_password_and_an_unreachable_host(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    wrong = cli(
        synced,
        "verify",
        write(tmp_path, manifest(redis_clean.port)),
        REDIS_PAYMENTS_PASSWORD="nope-nope",
    )
    assert wrong.code == 2
    assert "FAIL payments/production/redis" in wrong.out and "auth" in wrong.out
    assert "nope-nope" not in wrong.all
    down = cli(
        synced,
        "verify",
        write(tmp_path, manifest(free_port())),
        "--timeout",
        "1",
        REDIS_PAYMENTS_PASSWORD=ROOT_PASSWORD,
    )
    assert down.code == 2
    assert "reachable" in down.out


def applied(synced: EmulatorServer, redis: RedisServer, tmp_path: Path) -> str:
    path = write(tmp_path, manifest(redis.port))
    env = {"REDIS_PAYMENTS_PASSWORD": ROOT_PASSWORD}
    assert cli(synced, "apply", path, "--auto-approve", "--wait-healthy=20", **env).code == 0
    return path


def environment_reads(server: EmulatorServer) -> list[str]:
    return [r.path for r in server.state.requests if r.path.startswith("/api/v2/projects/")]


def test_verify_finds_the_client_side_id_through_the_environment_reads(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = applied(synced, redis_clean, tmp_path)
    redis_clean.admin().set("someone-else:big_segments_synchronized_on", "1")  # not scanned
    synced.state.clear_requests()
    result = cli(synced, "-vv", "verify", path, REDIS_PAYMENTS_PASSWORD=ROOT_PASSWORD)
    assert result.code == 0, result.all
    assert "ok   payments/production/redis" in result.out
    assert "LaunchDarkly last synchronised at" in result.out and "prefix '" not in result.out
    assert "warning" not in result.err
    assert environment_reads(synced) == ["/api/v2/projects/payments/environments"]
    details = synced.state.environment("payments", "production")
    assert details.api_key not in result.all and details.mobile_key not in result.all


def test_verify_warns_and_scans_when_the_token_may_not_read_environments(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = applied(synced, redis_clean, tmp_path)
    synced.state.environment_read_denied = True
    result = cli(synced, "verify", path, REDIS_PAYMENTS_PASSWORD=ROOT_PASSWORD)
    assert result.code == 0, result.all
    assert "may not read environments (403" in result.err
    assert "scans Redis for markers" in result.err
    prefix = synced.state.client_side_id("payments", "production")
    assert f"prefix '{prefix}'" in result.out  # found by the scan, as before


def test_verify_without_a_token_warns_and_scans(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = applied(synced, redis_clean, tmp_path)
    synced.state.clear_requests()
    result = cli(
        synced, "verify", path, REDIS_PAYMENTS_PASSWORD=ROOT_PASSWORD, LAUNCHDARKLY_ACCESS_TOKEN=""
    )
    assert result.code == 0, result.all
    assert "warning: no LaunchDarkly access token" in result.err
    assert synced.state.requests == []


def test_a_client_side_id_on_the_command_line_wins_over_launchdarkly(
    synced: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    path = applied(synced, redis_clean, tmp_path)
    synced.state.clear_requests()
    env = {"REDIS_PAYMENTS_PASSWORD": ROOT_PASSWORD}
    result = cli(synced, "verify", path, "--client-side-id", "payments/production=other", **env)
    assert result.code == 2
    assert "no marker at other:big_segments_synchronized_on" in result.out
    assert environment_reads(synced) == []


def test_verify_help_names_the_sdk_setting_its_default_comes_from(
    synced: EmulatorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(synced, "verify", "--help").code == 0
    helped = " ".join(capsys.readouterr().out.split())
    assert "(default 120, like the SDK's BigSegmentsConfig(stale_after=120))" in helped
