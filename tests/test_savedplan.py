"""Saved plans: apply exactly what was reviewed, or refuse whole and write nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli_helpers import PASSWORD, PAYMENTS, Result, cli, write

from reconciler.apply.integrity import checksum
from reconciler.emulator import EmulatorServer

KEY = {"RECONCILER_FINGERPRINT_KEY": "test-fingerprint-key"}
NO_KEY = {"RECONCILER_FINGERPRINT_KEY": ""}


def writes(server: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.state.requests if r.method != "GET"]


def saved(
    server: EmulatorServer, tmp: Path, text: str = PAYMENTS, *flags: str, **env: str
) -> tuple[str, str]:
    manifest = write(tmp, text)
    out = str(tmp / "plan.json")
    result = cli(server, "plan", manifest, "--out", out, *flags, **{**KEY, **env})
    assert result.code == 0, result.all
    return manifest, out


def apply_saved(server: EmulatorServer, plan: str, *argv: str, **env: str) -> Result:
    return cli(server, "apply", "--plan", plan, "--auto-approve", *argv, **{**KEY, **env})


def doctor(plan: str, edit: Callable[[dict[str, Any]], object]) -> None:
    """Edit an unsigned saved plan, then recompute its (unkeyed) checksum."""
    document = json.loads(Path(plan).read_text())
    edit(document)
    document["checksum"] = checksum(document)
    Path(plan).write_text(json.dumps(document))


def first_change(document: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in document["plan"]["changes"] if c["action"] != "no-op")


def test_a_saved_plan_applies_what_was_reviewed(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest, plan = saved(emulator, tmp_path)
    result = apply_saved(emulator, plan)
    assert result.code == 0, result.all
    redis = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    assert redis.config["password"] == PASSWORD
    assert cli(emulator, "plan", manifest, "--detailed-exitcode").code == 0


def test_a_stale_plan_is_refused_whole_and_nothing_is_written(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    _, plan = saved(emulator, tmp_path, PAYMENTS.replace("on: true", "on: false"))
    redis = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    emulator.state.mutate_store(redis.id, {"name": "Edited by hand"})
    emulator.state.clear_requests()
    result = apply_saved(emulator, plan)
    assert result.code == 1
    assert "stale" in result.err and "changed since the plan was made" in result.err
    assert writes(emulator) == []


def test_an_edited_plan_file_is_refused(emulator: EmulatorServer, tmp_path: Path) -> None:
    _, plan = saved(emulator, tmp_path)
    doc = json.loads(Path(plan).read_text())
    first_change(doc)["body"]["name"] = "Sneaky"
    Path(plan).write_text(json.dumps(doc))
    result = apply_saved(emulator, plan)
    assert result.code == 1
    assert "checksum mismatch" in result.err
    assert writes(emulator) == []


def test_a_plan_made_against_another_host_is_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    _, plan = saved(emulator, tmp_path)
    other = emulator.url.replace("127.0.0.1", "localhost")
    result = apply_saved(emulator, plan, "--api-host", other)
    assert result.code == 1
    assert f"was made against {emulator.url}" in result.err
    assert writes(emulator) == []


def test_a_secret_that_changed_since_the_plan_is_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    _, plan = saved(emulator, tmp_path)
    result = apply_saved(emulator, plan, REDIS_PAYMENTS_PASSWORD="a-different-password")
    assert result.code == 1
    assert "no longer matches" in result.err
    assert "a-different-password" not in result.all
    assert writes(emulator) == []


def test_every_reason_is_named_at_once(emulator: EmulatorServer, tmp_path: Path) -> None:
    _, plan = saved(emulator, tmp_path)
    doc = json.loads(Path(plan).read_text())
    doc["created_at"] = "2000-01-01T00:00:00+00:00"
    Path(plan).write_text(json.dumps(doc))
    result = apply_saved(
        emulator, plan, "--api-host", emulator.url.replace("127.0.0.1", "localhost"),
        REDIS_PAYMENTS_PASSWORD="other",
    )  # fmt: skip
    assert result.code == 1
    for reason in ("checksum mismatch", "was made against", "no longer matches"):
        assert reason in result.err


def test_without_a_fingerprint_key_the_plan_says_secrets_are_not_pinned(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    _, plan = saved(emulator, tmp_path, RECONCILER_FINGERPRINT_KEY="")
    doc = json.loads(Path(plan).read_text())
    assert doc["secrets_pinned"] is False
    result = apply_saved(emulator, plan, RECONCILER_FINGERPRINT_KEY="")
    assert result.code == 0, result.all
    assert "not pinned" in result.err


def test_a_saved_plan_with_deletes_needs_allow_delete_at_plan_time(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    one_store = write(tmp_path, PAYMENTS.split("  - environment: staging")[0], "one.yaml")
    plan = str(tmp_path / "plan.json")
    preflight = cli(emulator, "plan", one_store, "--out", plan, **KEY)
    assert preflight.code == 1 and "--allow-delete" in preflight.err
    assert not Path(plan).exists()  # plan = apply: a refused plan is not saved
    # A file that holds the delete without the flag anyway (an unsigned one, edited) is refused.
    assert cli(emulator, "plan", one_store, "--allow-delete", "--out", plan, **NO_KEY).code == 0
    doctor(plan, lambda d: d["flags"].update(allow_delete=False))
    refused = apply_saved(emulator, plan, **NO_KEY)
    assert refused.code == 1 and "--allow-delete" in refused.err
    added = apply_saved(emulator, plan, "--allow-delete", **NO_KEY)  # flags are fixed at plan time
    assert added.code == 1 and "not to the plan" in added.err
    assert len(emulator.state.stores()) == 2
    assert cli(emulator, "plan", one_store, "--allow-delete", "--out", plan, **KEY).code == 0
    assert json.loads(Path(plan).read_text())["flags"]["allow_delete"] is True
    assert apply_saved(emulator, plan).code == 0
    assert len(emulator.state.stores()) == 1


def test_a_mangled_plan_file_is_refused_with_a_message_not_a_crash(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    _, plan = saved(emulator, tmp_path)
    doc = json.loads(Path(plan).read_text())
    first_change(doc)["address"] = "not a list"
    Path(plan).write_text(json.dumps(doc))
    result = apply_saved(emulator, plan)
    assert result.code == 1
    assert "malformed" in result.err and "checksum mismatch" in result.err
    assert writes(emulator) == []
    Path(plan).write_text("{not json")
    broken = apply_saved(emulator, plan)
    assert broken.code == 1 and "not a saved plan" in broken.err


def test_a_protected_store_survives_a_saved_plan_that_deletes_it(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    protected = PAYMENTS.replace(
        "    name: Payments staging\n", "    name: Payments staging\n    protect: true\n"
    )
    cli(emulator, "apply", write(tmp_path, protected), "--auto-approve")
    one_store = write(tmp_path, PAYMENTS.split("  - environment: staging")[0], "one.yaml")
    plan = str(tmp_path / "plan.json")
    preflight = cli(emulator, "plan", one_store, "--allow-delete", "--out", plan, **KEY)
    assert preflight.code == 1 and "protected" in preflight.err
    assert not Path(plan).exists()  # plan = apply: a refused plan is not saved
    # A file that holds such a delete anyway (unsigned, edited) is refused too.
    cli(emulator, "apply", write(tmp_path, PAYMENTS), "--auto-approve")  # protect: false
    assert cli(emulator, "plan", one_store, "--allow-delete", "--out", plan, **NO_KEY).code == 0
    doctor(plan, lambda d: first_change(d).update(protected=True))
    assert first_change(json.loads(Path(plan).read_text()))["protected"] is True
    emulator.state.clear_requests()
    result = apply_saved(emulator, plan, **NO_KEY)
    assert result.code == 1 and "protected" in result.err
    assert writes(emulator) == []
    assert len(emulator.state.stores()) == 2


def test_a_redis_store_without_a_password_applies_from_a_saved_plan(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    no_password = PAYMENTS.replace("      password: ${REDIS_PAYMENTS_PASSWORD}\n", "")
    manifest, plan = saved(emulator, tmp_path, no_password)
    result = apply_saved(emulator, plan)
    assert result.code == 0, result.all
    assert {s.integration_key for s in emulator.state.stores()} == {"redis", "dynamodb"}
    assert cli(emulator, "plan", manifest, "--detailed-exitcode").code == 0


def test_a_saved_plan_holds_no_secret_value(emulator: EmulatorServer, tmp_path: Path) -> None:
    _, plan = saved(emulator, tmp_path)
    text = Path(plan).read_text()
    assert PASSWORD not in text
    assert '"$secret"' in text and "hmac-sha256:" in text
