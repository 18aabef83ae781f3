"""The CLI's preflight (SPEC §7): ``plan`` refuses what ``apply`` would refuse, with the same
flags and the same reasons; unknown projects and environments (LaunchDarkly's environment
reads); critical environments labelled in every format; ``--target`` on plan, apply, drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import JOURNAL, PAYMENTS, cli, write

from reconciler import escape
from reconciler.emulator import EmulatorServer

TYPO = PAYMENTS.replace("  - environment: staging", "  - environment: stagging")


def many(tmp: Path, *, off: int, drop: int, typo: bool, protect_first: bool = False) -> str:
    """Ten owned Redis stores in payments/production; ``off`` of them switched off, the first
    ``drop`` removed, and (with ``typo``) one more declared in a misspelt environment."""
    lines = ["project: payments", "stores:"]
    for i in range(drop, 10):
        protect = ", protect: true" if protect_first and i == 0 else ""
        lines.append(
            f"  - {{environment: production, integrationKey: redis, name: S{i},"
            f" on: {'false' if i < drop + off else 'true'}, config: {{host: h{i}}}{protect}}}"
        )
    if typo:
        lines.append("  - {environment: prodution, integrationKey: redis, name: T,"
                     " config: {host: t}}")  # fmt: skip
    return write(tmp, "\n".join(lines) + "\n")


def test_a_misspelt_environment_is_refused_with_the_keys_that_exist_and_a_suggestion(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, TYPO)
    result = cli(emulator, "plan", manifest)
    assert result.code == 1
    assert "+ payments/production/redis" in result.out  # the whole plan is still shown
    assert "+ payments/stagging/dynamodb" in result.out
    expected = (
        "environment 'stagging' does not exist in project 'payments'"
        " (its environments: production, staging); did you mean 'staging'?"
    )
    assert f"x [unknown-environment] {expected}" in result.out
    assert expected in result.err and "Traceback" not in result.err
    as_json = cli(emulator, "plan", manifest, "--format", "json")
    assert as_json.code == 1
    assert json.loads(as_json.out)["refusals"] == [
        {
            "reason": "unknown-environment",
            "message": expected,
            "addresses": ["payments/stagging/dynamodb"],
            "override": None,
        }
    ]
    markdown = cli(emulator, "plan", manifest, "--format", "markdown")
    listed = f"- `unknown-environment`: {escape.markdown(expected)}"
    assert markdown.code == 1 and listed in markdown.out
    assert emulator.state.stores() == []


def test_an_unknown_project_is_refused(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest = write(tmp_path, PAYMENTS.replace("project: payments", "project: paymnts"))
    result = cli(emulator, "plan", manifest, "--format", "json")
    assert result.code == 1
    (refusal,) = json.loads(result.out)["refusals"]
    assert refusal["reason"] == "unknown-project" and len(refusal["addresses"]) == 2
    assert "project 'paymnts' does not exist in LaunchDarkly" in result.err


def test_a_clean_plan_has_no_refusals_and_exits_zero(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    result = cli(emulator, "plan", write(tmp_path, PAYMENTS), "--format", "json")
    assert result.code == 0, result.all
    document = json.loads(result.out)
    assert document["refusals"] == [] and document["targets"] == []


@pytest.mark.parametrize(
    "flags", [(), ("--allow-delete",), ("--force",), ("--allow-delete", "--force")]
)
def test_plan_and_apply_name_exactly_the_same_refusals(
    emulator: EmulatorServer, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    assert cli(emulator, "apply", many(tmp_path, off=0, drop=0, typo=False, protect_first=True),
               "--auto-approve").code == 0  # fmt: skip
    manifest = many(tmp_path, off=3, drop=2, typo=True)  # 2 deletes + 3 updates of 10, a typo
    planned = cli(emulator, "plan", manifest, "--format", "json", *flags)
    assert planned.code == 1
    found = json.loads(planned.out)["refusals"]
    expected = {
        "protected-delete",
        "unknown-environment",
        *(() if "--allow-delete" in flags else ("delete",)),
        *(() if "--force" in flags else ("change-threshold",)),
    }
    assert {r["reason"] for r in found} == expected
    emulator.state.clear_requests()
    applied = cli(emulator, "apply", manifest, "--auto-approve", *flags)
    assert applied.code == 1
    assert applied.err.splitlines()[-1] == "error: apply refused: " + "; ".join(
        r["message"] for r in found
    )
    assert [r for r in emulator.state.requests if r.method != "GET"] == []


def test_plan_accepts_what_apply_accepts_with_the_same_flags(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    assert cli(emulator, "apply", many(tmp_path, off=0, drop=0, typo=False),
               "--auto-approve").code == 0  # fmt: skip
    manifest = many(tmp_path, off=3, drop=2, typo=False)
    assert cli(emulator, "plan", manifest).code == 1
    assert cli(emulator, "plan", manifest, "--allow-delete", "--force").code == 0
    assert cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete",
               "--force").code == 0  # fmt: skip


def test_a_token_that_may_not_read_environments_gets_a_warning_and_a_plan(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.environment_read_denied = True
    result = cli(emulator, "plan", write(tmp_path, TYPO), "--format", "json")
    assert result.code == 0, result.all
    assert "warning: cannot read the environments of project payments (HTTP 403" in result.err
    assert json.loads(result.out)["refusals"] == []


def test_changes_in_a_critical_environment_are_labelled_in_every_format(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.set_environment("payments", "production", critical=True)
    manifest = write(tmp_path, PAYMENTS)
    text = cli(emulator, "plan", manifest)
    assert "+ payments/production/redis  (create) [critical environment]" in text.out
    assert "+ payments/staging/dynamodb  (create)\n" in text.out
    changes = json.loads(cli(emulator, "plan", manifest, "--format", "json").out)["changes"]
    assert {c["address"]: c["critical"] for c in changes} == {
        "payments/production/redis": True,
        "payments/staging/dynamodb": False,
    }
    markdown = cli(emulator, "plan", manifest, "--format", "markdown").out
    assert "| + | `payments/production/redis` | create | **critical environment** |" in markdown
    assert "| + | `payments/staging/dynamodb` | create |  |" in markdown
    drift = cli(emulator, "drift", manifest)
    assert "[critical environment]" in drift.out


def test_no_sdk_or_mobile_key_appears_in_any_output_file_or_log(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.set_environment("payments", "production", critical=True)
    keys = [
        getattr(emulator.state.environment(p, e), k)
        for p, e in (("payments", "production"), ("payments", "staging"), ("search", "production"))
        for k in ("api_key", "mobile_key")
    ]
    manifest = write(tmp_path, TYPO)
    outputs = [cli(emulator, "-vv", "plan", manifest, "--format", f).all
               for f in ("text", "json", "markdown")]  # fmt: skip
    fixed = write(tmp_path, PAYMENTS)
    saved = str(tmp_path / "plan.json")
    outputs.append(cli(emulator, "-vv", "plan", fixed, "--out", saved).all)
    outputs.append(Path(saved).read_text())
    outputs.append(cli(emulator, "-vv", "apply", "--plan", saved, "--auto-approve").all)
    outputs.append(cli(emulator, "-vv", "drift", fixed, "--format", "json").all)
    outputs.append(Path(JOURNAL).read_text())
    assert all(keys) and len(outputs) == 8
    for output in outputs:
        for key in keys:
            assert key not in output


def test_a_targeted_plan_of_one_file_does_not_delete_the_other_files_stores(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    production, staging = PAYMENTS.split("  - environment: staging")
    staging = "project: payments\nstores:\n  - environment: staging" + staging
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a", production, "production.yaml")
    write(tmp_path / "b", staging, "staging.yaml")
    assert cli(emulator, "apply", str(tmp_path), "--auto-approve").code == 0
    untargeted = cli(emulator, "plan", first, "--format", "json")
    assert untargeted.code == 1  # it would delete the other file's store
    targeted = cli(emulator, "plan", first, "--target", "payments/production", "--format", "json")
    assert targeted.code == 0, targeted.all
    document = json.loads(targeted.out)
    assert document["targets"] == ["payments/production"]
    assert [c["address"] for c in document["changes"]] == ["payments/production/redis"]
    assert document["summary"]["delete"] == 0
    text = cli(emulator, "plan", first, "--target", "payments/production")
    assert text.out.startswith("Targeted run (--target payments/production)")
    markdown = cli(emulator, "plan", first, "--target", "payments/production", "--format",
                   "markdown")  # fmt: skip
    assert ":dart: **Targeted run \\(--target payments/production\\)" in markdown.out
    applied = cli(emulator, "apply", first, "--target", "payments/production", "--auto-approve")
    assert applied.code == 0, applied.all
    assert len(emulator.state.stores()) == 2
    drift = cli(emulator, "drift", first, "--target", "payments/production")
    assert drift.code == 0, drift.all


def test_a_target_matches_whole_segments_only(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "plan", manifest, "--target", "pay", "--format", "json")
    assert result.code == 0
    assert json.loads(result.out)["changes"] == []
    assert "warning: --target pay matches no declared or live store" in result.err
    bad = cli(emulator, "plan", manifest, "--target", "payments//redis")
    assert bad.code == 1 and "not an address prefix" in bad.err


def test_drift_outside_the_targets_is_not_drift(emulator: EmulatorServer, tmp_path: Path) -> None:
    switched_on = PAYMENTS.replace(
        "    name: Payments staging\n", "    name: Payments staging\n    on: true\n"
    )
    assert cli(emulator, "apply", write(tmp_path, switched_on), "--auto-approve").code == 0
    manifest = write(tmp_path, PAYMENTS)  # declares staging off: it has drifted
    assert cli(emulator, "drift", manifest).code == 2
    targeted = cli(emulator, "drift", manifest, "--target", "payments/production")
    assert targeted.code == 0, targeted.all
    assert "Targeted run" in targeted.out


def test_a_saved_plan_keeps_its_targets_and_apply_may_not_change_them(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    key = {"RECONCILER_FINGERPRINT_KEY": "preflight-test-key"}
    plan = str(tmp_path / "plan.json")
    made = cli(emulator, "plan", write(tmp_path, PAYMENTS), "--target", "payments/production",
               "--out", plan, **key)  # fmt: skip
    assert made.code == 0, made.all
    assert json.loads(Path(plan).read_text())["flags"]["targets"] == ["payments/production"]
    apply = ["apply", "--plan", plan, "--auto-approve", "--target"]
    other = cli(emulator, *apply, "payments", **key)
    assert other.code == 1
    assert "--target differs from the plan's targets (payments/production)" in other.err
    assert emulator.state.stores() == []
    same = cli(emulator, *apply, "payments/production", **key)
    assert same.code == 0, same.all
    assert "The saved plan is targeted: payments/production" in same.err
    assert [s.environment for s in emulator.state.stores()] == ["production"]
