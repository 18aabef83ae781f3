"""No secret ever appears in output, logs, exceptions or plan files, whatever the command."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from cli_helpers import EXTERNAL_ID, PASSWORD, PAYMENTS, cli, write
from conftest import TOKEN

from reconciler.emulator import EmulatorServer
from reconciler.integrations import mask_secret

ROTATED = "rotated-Secr3t-password-xyz"
SECRETS = (PASSWORD, EXTERNAL_ID, TOKEN, ROTATED, mask_secret(PASSWORD), mask_secret(ROTATED))


def assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret leaked: {secret[:3]}..."


def test_no_command_format_or_log_level_prints_a_secret(
    emulator: EmulatorServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    manifest = write(tmp_path, PAYMENTS)
    outputs: list[str] = []
    for verbosity in ([], ["-vv"]):
        outputs.append(cli(emulator, *verbosity, "validate", manifest).all)
        for fmt in ("text", "json", "markdown"):
            outputs.append(cli(emulator, *verbosity, "plan", manifest, "--format", fmt).all)
        outputs.append(cli(emulator, *verbosity, "apply", manifest, "--auto-approve").all)
        emulator.state.mutate_store(
            next(s.id for s in emulator.state.stores() if s.integration_key == "redis"),
            {"config": {"password": "x" * 12}},
        )
        for fmt in ("text", "json", "markdown"):
            outputs.append(cli(emulator, *verbosity, "drift", manifest, "--format", fmt).all)
        # rotate the password, so the apply sends a secret in a patch
        outputs.append(
            cli(
                emulator,
                *verbosity,
                "apply",
                manifest,
                "--auto-approve",
                REDIS_PAYMENTS_PASSWORD=ROTATED,
            ).all
        )
        outputs.append(cli(emulator, *verbosity, "apply", manifest, "--auto-approve").all)
    plan_file = tmp_path / "plan.json"
    outputs.append(
        cli(
            emulator, "plan", manifest, "--out", str(plan_file), REDIS_PAYMENTS_PASSWORD=ROTATED
        ).all
    )
    outputs.append(plan_file.read_text())
    changes = json.loads(plan_file.read_text())["plan"]["changes"]
    assert any(c["action"] != "no-op" for c in changes), "the saved plan holds a change"
    outputs.extend(r.getMessage() for r in caplog.records)
    assert any("sensitive" in o for o in outputs), "the outputs were never about secrets"
    for output in outputs:
        assert_clean(output)


def test_failed_calls_with_secrets_in_flight_never_echo_them(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(20, status=400, method="POST")
    result = cli(
        emulator, "-vv", "apply", write(tmp_path, PAYMENTS), "--auto-approve", "--max-attempts", "2"
    )
    assert result.code == 1
    assert "HTTP 400" in result.err
    assert_clean(result.all)
