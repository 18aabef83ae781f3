"""The GitHub Action (``action.yml``): it lints against the actions schema, and its own shell
steps, run as GitHub runs them (bash -eo pipefail, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, step
outputs, ``if:`` conditions), plan, apply and check drift against the emulator, put the Markdown
report in the job summary and propagate the command's exit code. The setup-python and install
steps are skipped: the dev venv's ``reconciler`` is on PATH."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cli_helpers import PAYMENTS, env_for, write

from reconciler.emulator import EmulatorServer

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
SKIPPED = {"setup-python", "install"}
PATH = os.environ["PATH"]
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")


@dataclass
class Run:
    code: int
    summary: str
    log: str
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)


def action() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return doc


def lookup(path: str, context: dict[str, Any]) -> Any:
    value: Any = context
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return value


def evaluate(condition: str, context: dict[str, Any]) -> bool:
    """The few expression forms action.yml uses: ``a == 'x' && b != ''``."""
    for clause in condition.split("&&"):
        left, op, right = re.fullmatch(r"\s*([\w.-]+)\s*(==|!=)\s*'([^']*)'\s*", clause).groups()  # type: ignore[union-attr]
        if (str(lookup(left, context)) == right) != (op == "=="):
            return False
    return True


def substitute(text: str, context: dict[str, Any]) -> str:
    return EXPRESSION.sub(lambda m: str(lookup(m.group(1), context)), text)


def run_action(
    tmp: Path, inputs: dict[str, str], env: dict[str, str], event: str = "push", path: str = ""
) -> Run:
    spec = action()
    given = {k: substitute(str(v.get("default", "")), {"github": {"token": "gh-token"}})
             for k, v in spec["inputs"].items()}  # fmt: skip
    given.update(inputs)
    pr = {"pull_request": {"number": 7}} if event == "pull_request" else {}
    github = {"token": "gh-token", "event_name": event, "event": pr}
    context: dict[str, Any] = {"inputs": given, "github": github, "steps": {}}
    summary, output = tmp / "summary.md", tmp / "output"
    summary.write_text("", encoding="utf-8")
    base = {
        "PATH": os.pathsep.join(filter(None, (path, str(Path(sys.executable).parent), PATH))),
        "GITHUB_REPOSITORY": "acme/flags",
        "HOME": str(tmp), "RUNNER_TEMP": str(tmp), "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), **env,
    }  # fmt: skip
    result = Run(code=0, summary="", log="")
    for step in spec["runs"]["steps"]:
        if step["id"] in SKIPPED or ("if" in step and not evaluate(step["if"], context)):
            continue
        assert "${{" not in step["run"], "expressions belong in env:, not in the script"
        output.write_text("", encoding="utf-8")
        step_env = {k: substitute(str(v), context) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            env={**base, **step_env}, cwd=tmp, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        result.ran.append(step["id"])
        result.log += proc.stdout + proc.stderr
        lines = output.read_text(encoding="utf-8").splitlines()
        outputs = dict(line.split("=", 1) for line in lines if "=" in line)
        context["steps"][step["id"]] = {"outputs": outputs}
        result.outputs[step["id"]] = outputs
        if proc.returncode != 0:
            result.code = proc.returncode
            break
    result.summary = summary.read_text(encoding="utf-8")
    return result


def test_the_action_passes_the_github_actions_schema() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    proc = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-actions", str(ACTION)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_action_takes_no_token_input_and_installs_itself() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    assert not [name for name in spec["inputs"] if "access" in name or "ld-token" in name]
    install = next(s for s in spec["runs"]["steps"] if s["id"] == "install")
    assert '"$GITHUB_ACTION_PATH"' in install["run"]


def test_a_plan_through_the_action_lands_in_the_job_summary_and_can_be_applied(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    write(tmp_path, PAYMENTS)
    env = env_for(emulator)
    plan = run_action(tmp_path, {"command": "plan", "paths": ".", "plan-file": "plan.json"}, env)
    assert plan.code == 0, plan.log
    assert plan.outputs["run"]["exit-code"] == "0"
    assert plan.summary.startswith("### reconciler plan")
    assert "| `payments/production/redis` | create |" in plan.summary
    assert "```diff" in plan.summary
    assert emulator.state.stores() == []

    applied = run_action(tmp_path, {"command": "apply", "plan-file": "plan.json"}, env)
    assert applied.code == 0, applied.log
    assert len(emulator.state.stores()) == 2
    assert "### reconciler apply (exit 0)" in applied.summary

    write(tmp_path, "project: search\nstores: []\n", "search.yaml")
    paths = "payments.yaml\nsearch.yaml\n"
    drift = run_action(tmp_path, {"command": "drift", "paths": paths}, env)
    assert drift.code == 0, drift.log
    assert "+ reconciler drift --format markdown payments.yaml search.yaml" in drift.log
    assert drift.summary.startswith("### reconciler drift report")


def test_the_action_fails_with_the_commands_exit_code_after_writing_the_summary(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    write(tmp_path, PAYMENTS)
    drift = run_action(tmp_path, {"command": "drift", "paths": "."}, env_for(emulator))
    assert drift.code == 2
    assert drift.ran == ["run", "exit"]
    assert drift.outputs["run"]["exit-code"] == "2"
    assert "payments/production/redis" in drift.summary


def test_the_api_host_input_reaches_the_command(emulator: EmulatorServer, tmp_path: Path) -> None:
    write(tmp_path, PAYMENTS)
    env = env_for(emulator, LAUNCHDARKLY_API_HOST="http://127.0.0.1:9")
    wrong = run_action(tmp_path, {"command": "plan", "paths": ".", "args": "--max-attempts 1"}, env)
    assert wrong.code == 1
    assert "### reconciler plan (exit 1)" in wrong.summary
    assert "127.0.0.1:9" in wrong.summary
    right = run_action(tmp_path, {"command": "plan", "paths": ".", "api-host": emulator.url}, env)
    assert right.code == 0, right.log


def test_an_invalid_manifest_fails_validate_through_the_action(tmp_path: Path) -> None:
    write(tmp_path, "project: payments\nstores:\n  - environment: production\n    bogus: 1\n")
    result = run_action(tmp_path, {"command": "validate", "paths": "."}, {})
    assert result.code == 1
    assert "payments.yaml:4" in result.summary


def test_an_unknown_command_is_refused_with_exit_1(tmp_path: Path) -> None:
    result = run_action(tmp_path, {"command": "destroy"}, {})
    assert result.code == 1
    assert "must be plan, apply, drift or validate" in result.log


def test_the_pr_comment_step_runs_only_on_pull_requests_when_asked(tmp_path: Path) -> None:
    write(tmp_path, "project: payments\nstores: []\n")
    inputs = {"command": "validate", "paths": ".", "comment-on-pr": "true"}
    pushed = run_action(tmp_path, inputs, {}, event="push")
    assert pushed.ran == ["run", "exit"]
    silent = run_action(tmp_path, {**inputs, "comment-on-pr": "false"}, {}, event="pull_request")
    assert silent.ran == ["run", "exit"]


FAKE_GH = """\
#!/usr/bin/env python3
# A stand-in for the gh CLI: `gh api` against a JSON file of issue comments.
import json, os, subprocess, sys
store = os.path.join(os.path.dirname(os.path.abspath(__file__)), "comments.json")
comments = json.load(open(store))
args = sys.argv[1:]
assert args[0] == "api" and os.environ["GH_TOKEN"] == "gh-token", args
method = args[args.index("-X") + 1] if "-X" in args else "GET"
url = [a for a in args[1:] if a.startswith("repos/")][0]
if method == "GET":
    jq = args[args.index("--jq") + 1]
    sys.stdout.write(subprocess.run(["jq", "-r", jq], input=json.dumps(comments),
                                    capture_output=True, text=True, check=True).stdout)
else:
    body = json.load(open(args[args.index("--input") + 1]))["body"]
    if method == "PATCH":
        [c for c in comments if url.endswith("/" + str(c["id"]))][0]["body"] = body
    else:
        assert url == "repos/acme/flags/issues/7/comments", url
        comments.append({"id": 100 + len(comments), "body": body})
    json.dump(comments, open(store, "w"))
"""


def fake_gh(tmp: Path, comments: list[dict[str, object]]) -> Path:
    bin_dir = tmp / "fake-bin"
    bin_dir.mkdir()
    (bin_dir / "comments.json").write_text(json.dumps(comments), encoding="utf-8")
    gh = bin_dir / "gh"
    gh.write_text(FAKE_GH, encoding="utf-8")
    gh.chmod(0o755)
    return bin_dir


def comments_of(bin_dir: Path) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads((bin_dir / "comments.json").read_text("utf-8"))
    return loaded


def test_the_pr_comment_is_posted_once_and_updated_on_the_next_run(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    write(tmp_path, PAYMENTS)
    bin_dir = fake_gh(tmp_path, [{"id": 1, "body": "LGTM"}])
    inputs = {"command": "plan", "paths": ".", "comment-on-pr": "true"}
    first = run_action(tmp_path, inputs, env_for(emulator), "pull_request", str(bin_dir))
    assert first.ran == ["run", "comment", "exit"] and first.code == 0, first.log
    (_, posted) = comments_of(bin_dir)
    assert posted["body"].startswith("<!-- reconciler-action:plan -->\n### reconciler plan")
    assert "`payments/production/redis`" in posted["body"]

    write(tmp_path, PAYMENTS.replace("Payments production", "Payments prod"))
    second = run_action(tmp_path, inputs, env_for(emulator), "pull_request", str(bin_dir))
    assert second.code == 0, second.log
    comments = comments_of(bin_dir)
    assert [c["id"] for c in comments] == [1, posted["id"]]
    assert comments[0]["body"] == "LGTM"
    assert "Payments prod" in comments[1]["body"] and comments[1]["body"] != posted["body"]


def test_a_huge_report_is_cut_under_githubs_comment_limit(tmp_path: Path) -> None:
    # at most 100 problems are shown, so long lines (long unknown keys) make the report huge
    bogus = "".join(f"    bogus{k}{'x' * 1000}: 1\n" for k in range(4))
    stores = "".join(
        f"  - environment: e{i}\n    integrationKey: redis\n    name: n\n"
        f"    config: {{host: h}}\n{bogus}"
        for i in range(60)
    )
    write(tmp_path, f"project: payments\nstores:\n{stores}")
    bin_dir = fake_gh(tmp_path, [])
    inputs = {"command": "validate", "paths": ".", "comment-on-pr": "true"}
    result = run_action(tmp_path, inputs, {}, "pull_request", str(bin_dir))
    assert result.code == 1
    assert len(result.summary) > 100_000
    ((comment),) = comments_of(bin_dir)
    assert len(comment["body"]) < 65_000
    assert "… truncated" in comment["body"]
    assert comment["body"].startswith(
        "<!-- reconciler-action:validate -->\n### reconciler validate"
    )


def test_output_holding_backtick_fences_cannot_close_the_reports_text_block(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    hostile = PAYMENTS.replace("name: Payments production", 'name: "x ```` y"', 1)
    assert hostile != PAYMENTS
    write(tmp_path, hostile)
    applied = run_action(tmp_path, {"command": "apply", "paths": "."}, env_for(emulator))
    assert applied.code == 0, applied.log
    lines = applied.summary.splitlines()
    assert lines[0] == "### reconciler apply (exit 0)"
    opening = lines[2]
    fence = opening.removesuffix("text")
    assert set(fence) == {"`"} and len(fence) == 5, opening  # longer than the name's 4
    assert lines[-1] == fence
    inside = lines[3:-1]
    assert any("x ```` y" in line for line in inside)
    assert not [line for line in inside if line.strip().startswith(fence)]


def test_output_without_backticks_gets_a_plain_three_backtick_fence(tmp_path: Path) -> None:
    write(tmp_path, "project: payments\nstores:\n  - environment: production\n    bogus: 1\n")
    result = run_action(tmp_path, {"command": "validate", "paths": "."}, {})
    assert result.summary.splitlines()[2] == "```text"
    assert result.summary.splitlines()[-1] == "```"
