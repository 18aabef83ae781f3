"""The files a new user copies: example manifests load, and every CI example's commands parse."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from reconciler.cli.main import build_parser
from reconciler.manifest.load import load_manifests

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CI_FILES = sorted(p for p in (EXAMPLES / "ci").rglob("*") if p.suffix in (".yml", ".yaml"))
COMMAND = re.compile(r"^\s*(?:-\s+)?(?:run:\s+)?reconciler ([a-z][^>|\n]*)")


def test_the_example_manifests_are_valid() -> None:
    env = {"REDIS_PAYMENTS_PASSWORD": "x", "LD_EXTERNAL_ID": "y", "REDIS_SEARCH_PASSWORD": "z"}
    result = load_manifests([EXAMPLES / "manifests"], env=env)
    assert {s.project for s in result.state.stores} == {"payments", "search"}
    assert result.warnings == ()


@pytest.mark.parametrize("path", CI_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_ci_example_is_yaml_whose_reconciler_commands_parse(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    yaml.safe_load(text)
    commands = [m.group(1).strip() for line in text.splitlines() if (m := COMMAND.search(line))]
    assert commands, f"{path.name} runs no reconciler command"
    for command in commands:
        build_parser().parse_args(shlex.split(command))  # raises UsageError on a stale flag


def test_the_ci_examples_cover_plan_apply_and_drift() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in CI_FILES)
    for needle in ("plan launchdarkly/ --out plan.json", "apply --plan plan.json", "drift "):
        assert needle in text
