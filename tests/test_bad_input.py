"""Bad input gets one clear message, exit 1, and causes no write at all."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli_helpers import PAYMENTS, cli, write
from conftest import TOKEN

from reconciler.emulator import EmulatorServer


def api_calls(server: EmulatorServer) -> int:
    return len(server.state.requests)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("project: payments\nstores: [\n", "payments.yaml:"),
        (PAYMENTS.replace("tlsEnabled", "tls"), "unknown key 'tls'"),
        (PAYMENTS.replace("on: true", "on: 3"), "boolean"),
        (PAYMENTS.replace("integrationKey: redis", "integrationKey: memcached"), "memcached"),
        (PAYMENTS.replace("port: 6379", "port: 70000"), "70000"),
        (PAYMENTS.replace("us-east-1", "us-nowhere-9"), "us-nowhere-9"),
        (PAYMENTS.replace("arn:aws:iam::123456789012:role/", "arn:aws:iam::12:role/"), "roleArn"),
        (PAYMENTS.replace("${LD_EXTERNAL_ID}", "${NOT_SET_ANYWHERE}"), "NOT_SET_ANYWHERE"),
    ],
)
def test_an_invalid_manifest_names_file_and_line_and_sends_nothing(
    emulator: EmulatorServer, tmp_path: Path, text: str, expected: str
) -> None:
    manifest = write(tmp_path, text)
    commands = (["plan"], ["apply", "--auto-approve"], ["drift"], ["validate", "--require-env"])
    for command in commands:
        result = cli(emulator, *command, manifest)
        assert result.code == 1, (command, result.all)
        assert expected in result.err
        assert f"{manifest}:" in result.err
        assert result.out == ""
    assert api_calls(emulator) == 0


def test_every_error_of_every_file_is_reported_together(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    write(tmp_path, PAYMENTS.replace("port: 6379", "port: 0"), "a.yaml")
    write(
        tmp_path,
        PAYMENTS.replace("project: payments", "project: search").replace("us-east-1", "mars-1"),
        "b.yaml",
    )
    result = cli(emulator, "plan", str(tmp_path))
    assert result.code == 1
    assert "a.yaml:" in result.err and "b.yaml:" in result.err
    assert api_calls(emulator) == 0


def test_an_unknown_environment_is_refused_before_any_write_naming_the_store(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS.replace("environment: staging", "environment: nowhere"))
    result = cli(emulator, "apply", manifest, "--auto-approve")
    assert result.code == 1
    assert "environment 'nowhere' does not exist in project 'payments'" in result.err
    assert emulator.state.stores() == []


def test_an_unknown_environment_is_a_404_naming_the_store_when_environments_are_unreadable(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.environment_read_denied = True
    manifest = write(tmp_path, PAYMENTS.replace("environment: staging", "environment: nowhere"))
    result = cli(emulator, "apply", manifest, "--auto-approve")
    assert result.code == 1
    assert "payments/nowhere/dynamodb" in result.err
    assert "HTTP 404 not_found" in result.err
    assert "Environment or project not found" in result.err or "not found" in result.err


def test_a_revoked_token_is_a_clear_401(emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.state.revoke_token(TOKEN)
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS))
    assert result.code == 1
    assert "HTTP 401 unauthorized" in result.err
    assert TOKEN not in result.all


def test_a_missing_beta_entitlement_is_a_clear_403(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.entitlement = False
    result = cli(emulator, "drift", write(tmp_path, PAYMENTS))
    assert result.code == 1  # an error, never confused with drift (2) or in sync (0)
    assert "HTTP 403 forbidden" in result.err


def test_an_unreachable_api_is_an_error_not_a_clean_drift(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = cli(emulator, "drift", manifest, "--api-host", url, "--max-attempts", "2")
    assert result.code == 1
    assert "could not reach LaunchDarkly" in result.err


def test_a_missing_token_is_a_clear_error(emulator: EmulatorServer, tmp_path: Path) -> None:
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS), LAUNCHDARKLY_ACCESS_TOKEN="")
    assert result.code == 1
    assert "LAUNCHDARKLY_ACCESS_TOKEN" in result.err
    assert api_calls(emulator) == 0


def test_plain_http_to_a_remote_host_is_refused(emulator: EmulatorServer, tmp_path: Path) -> None:
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS), "--api-host", "http://ld.example.com")
    assert result.code == 1
    assert "http" in result.err


@pytest.mark.parametrize("argv", [["plan"], ["plan", "--bogus", "x.yaml"], ["frobnicate"], []])
def test_usage_errors_exit_1_never_2(emulator: EmulatorServer, argv: list[str]) -> None:
    result = cli(emulator, *argv)
    assert result.code == 1
    assert "error:" in result.err
