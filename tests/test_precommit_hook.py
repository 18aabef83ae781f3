"""The pre-commit hook (``.pre-commit-hooks.yaml``), run for real with ``pre-commit try-repo``
in a throwaway git repository: pre-commit installs this repository into its own virtualenv
(the core install) and runs ``reconciler validate`` on the files it is given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))
GOOD = """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    config:
      host: redis.payments.internal
      port: 6379
"""
BAD = """\
project: search
stores:
  - environment: production
    integrationKey: redis
    nmae: Search production
    config:
      host: redis-search.internal
"""


def test_the_hook_definition_validates_yaml_under_the_conventional_directory() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["id"] == "reconciler-validate"
    assert hook["entry"] == "reconciler validate"
    assert hook["language"] == "python"
    assert hook["types"] == ["yaml"]
    assert hook["files"] == "^launchdarkly/"
    assert hook["pass_filenames"] is True


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("hook-repo")
    (repo / "launchdarkly").mkdir()
    (repo / "launchdarkly/payments.yaml").write_text(GOOD, encoding="utf-8")
    (repo / "launchdarkly/search.yaml").write_text(BAD, encoding="utf-8")
    (repo / "notes.yaml").write_text(BAD, encoding="utf-8")  # outside launchdarkly/: ignored
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    return repo


def try_repo(repo: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        [PRE_COMMIT, "try-repo", str(ROOT), "reconciler-validate", "--verbose", "--files", *files],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.slow
def test_the_hook_passes_a_valid_manifest(hook_repo: Path) -> None:
    result = try_repo(hook_repo, "launchdarkly/payments.yaml", "notes.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 manifest file(s) valid" in result.stdout


@pytest.mark.slow
def test_the_hook_fails_an_invalid_manifest_naming_file_and_line(hook_repo: Path) -> None:
    result = try_repo(hook_repo, "launchdarkly/payments.yaml", "launchdarkly/search.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "launchdarkly/search.yaml:5:5: stores[0]: unknown key 'nmae'" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
