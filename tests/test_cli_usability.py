"""The command line's small promises: help shows defaults, exit codes and the token variable;
``NO_COLOR`` counts only when non-empty; contradictory flags are usage errors; ``export`` names
a project it cannot find; ``verify`` without AWS credentials is an error, not a verdict."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import PAYMENTS, Tty, cli, env_for, write

from reconciler.cli.main import main
from reconciler.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]


def help_of(*argv: str) -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):  # argparse prints help to sys.stdout
        assert main([*argv, "--help"], stderr=io.StringIO(), env={}) == 0
    return buffer.getvalue()


def test_help_names_the_exit_codes_and_the_token_variable() -> None:
    for argv in ((), ("plan",), ("drift",)):
        text = help_of(*argv)
        assert "exit codes:" in text and "  2  plan --detailed-exitcode" in text, argv
        assert "LAUNCHDARKLY_ACCESS_TOKEN" in text and "NO_COLOR" in text, argv


def test_help_shows_option_defaults() -> None:
    text = " ".join(help_of("plan").split())  # argparse wraps lines
    assert "concurrent requests (default: 32)" in text
    assert "tries per request (retries + 1) (default: 8)" in text
    assert "output format (default: text)" in text
    assert "(default: None)" not in text and "(default: False)" not in text


def test_an_empty_no_color_keeps_colour_and_a_non_empty_one_removes_it(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)

    def plan(**env: str) -> str:
        out = Tty()
        code = main(["plan", manifest], stdout=out, stderr=io.StringIO(),
                    env=env_for(emulator, **env))  # fmt: skip
        assert code == 0
        return out.getvalue()

    assert "\x1b[32m" in plan(NO_COLOR="")
    assert "\x1b[" not in plan(NO_COLOR="1")
    assert "\x1b[32m" in plan()


def test_journal_and_no_journal_together_are_a_usage_error(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    journal = tmp_path / "j.jsonl"
    result = cli(
        emulator, "apply", manifest, "--auto-approve", "--journal", str(journal), "--no-journal"
    )
    assert result.code == 1
    assert "not allowed with argument --journal" in result.err
    assert emulator.state.stores() == [] and not journal.exists()


def test_watch_also_refuses_journal_and_no_journal_together(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    argv = ["watch", write(tmp_path, PAYMENTS), "--cycles", "1", "--listen", "127.0.0.1:0"]
    result = cli(emulator, *argv, "--journal", str(tmp_path / "j.jsonl"), "--no-journal")
    assert result.code == 1
    assert "not allowed with argument --journal" in result.err
    assert not (tmp_path / "j.jsonl").exists()


def test_export_of_an_unknown_project_exits_1_naming_it(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    assert cli(emulator, "apply", write(tmp_path, PAYMENTS), "--auto-approve").code == 0
    result = cli(emulator, "export", "--project", "nosuch", "--project", "payments")
    assert result.code == 1
    assert result.out == ""
    assert "--project nosuch:" in result.err and "payments" not in result.err.split(":")[1]
    assert "Traceback" not in result.err


def test_export_says_an_unknown_project_does_not_exist(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    result = cli(emulator, "export", "--project", "nosuch")
    assert result.code == 1
    assert "--project nosuch: no such project in LaunchDarkly" in result.err


def test_export_of_a_real_project_without_stores_is_a_note_not_an_error(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    assert cli(emulator, "apply", write(tmp_path, PAYMENTS), "--auto-approve").code == 0
    project = "quiet"
    emulator.state.add_project(project, ["production"])
    result = cli(emulator, "export", "--project", project, "--project", "payments")
    assert result.code == 0, result.all
    assert f"note: project {project} has no big segment store" in result.err
    assert "project: payments" in result.out and f"project: {project}" not in result.out


def test_export_of_a_known_project_still_works(emulator: EmulatorServer, tmp_path: Path) -> None:
    assert cli(emulator, "apply", write(tmp_path, PAYMENTS), "--auto-approve").code == 0
    result = cli(emulator, "export", "--project", "payments")
    assert result.code == 0, result.all
    assert "project: payments" in result.out


DYNAMO = """\
project: payments
stores:
  - environment: staging
    integrationKey: dynamodb
    name: Payments staging
    config:
      region: us-east-1
      tableName: ld-big-segments-staging
      roleArn: arn:aws:iam::123456789012:role/launchdarkly-big-segments
      externalId: ${LD_EXTERNAL_ID}
"""


def verify_child(tmp_path: Path, **aws: str) -> subprocess.CompletedProcess[str]:
    """``reconciler verify`` in a child whose AWS configuration is only ``aws``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path), LD_EXTERNAL_ID="ext-secret-123",
        AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true", **aws,
    )  # fmt: skip
    manifest = write(tmp_path, DYNAMO)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "verify", manifest, "--timeout", "0.5",
         "--dynamodb-endpoint", "http://127.0.0.1:9"],
        env=env, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.parametrize(
    "aws",
    [
        {},
        {"AWS_PROFILE": "no-such-profile"},
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://example.invalid/credentials"},
    ],
)
def test_verify_without_aws_credentials_is_an_error_not_an_unhealthy_store(
    tmp_path: Path, aws: dict[str, str]
) -> None:
    result = verify_child(tmp_path, **aws)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "your own AWS credentials" in result.stderr
    assert "AWS_ACCESS_KEY_ID" in result.stderr
    assert "Traceback" not in result.stderr and "ext-secret-123" not in result.stderr


def test_verify_with_aws_credentials_goes_on_to_check_the_table(tmp_path: Path) -> None:
    result = verify_child(tmp_path, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    assert result.returncode == 2, result.stdout + result.stderr  # the endpoint refuses
    assert "your own AWS credentials" not in result.stderr
