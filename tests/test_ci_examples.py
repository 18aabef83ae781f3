"""The CI examples a user copies: they lint against the CI systems' own schemas, reference each
other by the names they are given, keep the writer token out of pull-request jobs, apply the
reviewed plan instead of re-planning, and serialise applies with the CI system's controls."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
GITHUB = ROOT / "examples/ci/github"
GITLAB = ROOT / "examples/ci/gitlab/.gitlab-ci.yml"
GITHUB_FILES = sorted(GITHUB.glob("*.yml"))
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def check_jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", schema, str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def workflow(path: Path) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return doc


def job_text(job: dict[str, Any]) -> str:
    return yaml.safe_dump(job, sort_keys=False)


@pytest.mark.parametrize("path", GITHUB_FILES, ids=lambda p: p.name)
def test_every_github_workflow_example_passes_the_github_workflows_schema(path: Path) -> None:
    result = check_jsonschema("vendor.github-workflows", path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_gitlab_example_passes_the_gitlab_ci_schema() -> None:
    result = check_jsonschema("vendor.gitlab-ci", GITLAB)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_lint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    stepz: []\n")
    assert check_jsonschema("vendor.github-workflows", broken).returncode == 1


def test_the_github_files_are_named_as_they_reference_each_other() -> None:
    names = {p.name for p in GITHUB_FILES}
    assert names == {"reconciler-plan.yml", "reconciler-apply.yml", "reconciler-drift.yml"}
    for path in GITHUB_FILES:
        text = path.read_text(encoding="utf-8")
        assert text.startswith(f"# .github/workflows/{path.name} ")
        for referenced in re.findall(r"--workflow\s+(\S+)", text):
            assert referenced in names, f"{path.name} references {referenced}"


def test_the_github_apply_downloads_the_artifact_name_the_plan_uploads() -> None:
    plan = (GITHUB / "reconciler-plan.yml").read_text(encoding="utf-8")
    apply = (GITHUB / "reconciler-apply.yml").read_text(encoding="utf-8")
    assert "name: reconciler-plan-${{ github.event.pull_request.head.sha }}" in plan
    assert '--name "reconciler-plan-$head_sha"' in apply
    assert "--workflow reconciler-plan.yml" in apply


def test_only_the_github_apply_job_gets_the_writer_token() -> None:
    for path in GITHUB_FILES:
        text = path.read_text(encoding="utf-8")
        writer = "secrets.LAUNCHDARKLY_WRITER_TOKEN" in text
        reader = "secrets.LAUNCHDARKLY_READER_TOKEN" in text
        assert writer == (path.name == "reconciler-apply.yml"), path.name
        assert reader == (path.name != "reconciler-apply.yml"), path.name
        assert "secrets.LAUNCHDARKLY_ACCESS_TOKEN" not in text


def test_the_github_apply_runs_only_on_the_default_branch_one_at_a_time() -> None:
    doc = workflow(GITHUB / "reconciler-apply.yml")
    triggers = doc[True]  # YAML 1.1 reads the key `on` as True
    assert set(triggers) == {"push"}
    assert triggers["push"]["branches"] == ["main"]
    assert "default_branch" in doc["jobs"]["apply"]["if"]
    assert doc["concurrency"]["cancel-in-progress"] is False
    steps = job_text(doc["jobs"]["apply"])
    assert "reconciler apply --plan plan.json" in steps
    assert "reconciler plan" not in steps


def test_the_github_plan_comment_stays_under_the_comment_limit() -> None:
    text = (GITHUB / "reconciler-plan.yml").read_text(encoding="utf-8")
    assert "const limit = 65000;" in text
    assert "plan.slice(0, limit" in text


def test_the_gitlab_apply_applies_the_reviewed_artifact_with_the_writer_token() -> None:
    doc = workflow(GITLAB)
    assert not doc["image"].endswith("-slim")
    apply, plan, drift = doc["apply"], doc["plan"], doc["drift"]
    assert apply["resource_group"]
    assert apply["variables"]["LAUNCHDARKLY_ACCESS_TOKEN"] == "$LAUNCHDARKLY_WRITER_TOKEN"
    assert plan["variables"]["LAUNCHDARKLY_ACCESS_TOKEN"] == "$LAUNCHDARKLY_READER_TOKEN"
    assert drift["variables"]["LAUNCHDARKLY_ACCESS_TOKEN"] == "$LAUNCHDARKLY_READER_TOKEN"
    script = "\n".join(apply["script"])
    assert "reconciler plan" not in script
    assert "jobs/artifacts/" in script and "job=plan" in script
    assert "reconciler apply --plan plan.json" in script
    assert "$CI_DEFAULT_BRANCH" in apply["rules"][0]["if"]
    assert "plan.json" in plan["artifacts"]["paths"]
    assert drift["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]


def test_the_writer_token_appears_only_in_apply_jobs() -> None:
    gitlab = workflow(GITLAB)
    for name, job in gitlab.items():
        if isinstance(job, dict) and name != "apply":
            assert "WRITER" not in job_text(job), name
