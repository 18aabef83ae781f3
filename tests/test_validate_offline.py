"""``validate`` is offline and needs no secrets; ``plan``, ``apply`` and ``drift`` still do."""

from __future__ import annotations

import io
from pathlib import Path

from cli_helpers import PAYMENTS, cli, write

from reconciler.cli.main import main
from reconciler.emulator import EmulatorServer


def without_secrets(server: EmulatorServer, *argv: str) -> tuple[int, str, str]:
    """Run with the manifests' variables unset (not merely empty) and no token."""
    out, err = io.StringIO(), io.StringIO()
    env = {"LAUNCHDARKLY_API_HOST": server.url}
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err, env=env)
    return code, out.getvalue(), err.getvalue()


def test_validate_without_secrets_notes_each_unset_variable_and_passes(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    code, out, err = without_secrets(emulator, "validate", manifest)
    assert code == 0, err
    assert "2 store(s)" in out
    assert f"note: {manifest}:14:17: stores[0].config.password: environment variable" in err
    assert "REDIS_PAYMENTS_PASSWORD is not set" in err
    assert f"{manifest}:23:19:" in err and "LD_EXTERNAL_ID" in err
    assert "error" not in err


def test_validate_never_touches_the_network(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest = write(tmp_path, PAYMENTS)
    emulator.state.clear_requests()
    assert without_secrets(emulator, "validate", manifest)[0] == 0
    assert cli(emulator, "validate", manifest).code == 0
    assert emulator.state.requests == []


def test_validate_still_reports_real_problems_next_to_unset_variables(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    broken = PAYMENTS.replace("port: 6379", "port: 70000").replace("${LD_EXTERNAL_ID}", "${BAD")
    code, _, err = without_secrets(emulator, "validate", write(tmp_path, broken))
    assert code == 1
    assert "out of range" in err and "must start a ${NAME} reference" in err


def test_an_unset_variable_in_an_address_is_a_note_and_skips_duplicate_checks(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    text = PAYMENTS.replace("environment: staging", "environment: ${STAGING_ENV}")
    text = text.replace("name: Payments staging", "name: ${STAGING_NAME}")
    code, out, err = without_secrets(emulator, "validate", write(tmp_path, text))
    assert code == 0, err
    assert "STAGING_ENV is not set" in err and "STAGING_NAME is not set" in err
    assert "1 store(s)" in out


def test_require_env_makes_an_unset_variable_an_error(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    code, _, err = without_secrets(emulator, "validate", "--require-env", manifest)
    assert code == 1
    assert f"{manifest}:14:17:" in err and "REDIS_PAYMENTS_PASSWORD is not set" in err
    assert "Traceback" not in err


def test_plan_apply_and_drift_still_require_every_variable(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    for command in (["plan"], ["apply", "--auto-approve"], ["drift"]):
        code, _, err = without_secrets(emulator, command[0], manifest, *command[1:])
        assert code == 1, command
        assert "REDIS_PAYMENTS_PASSWORD is not set" in err
    assert emulator.state.stores() == []
