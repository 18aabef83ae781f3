"""Saved plans you can trust: signed, complete, portable; what a reviewer approves is what runs."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import PASSWORD, PAYMENTS, Result, cli, write
from conftest import TOKEN, small_account

from reconciler.apply.integrity import checksum
from reconciler.emulator import EmulatorServer, FakeClock
from reconciler.model import DEFAULT_OWNER_TAG

KEY = {"RECONCILER_FINGERPRINT_KEY": "trust-test-fingerprint-key"}
NO_KEY = {"RECONCILER_FINGERPRINT_KEY": ""}
ATTACKER_HOST = "attacker.example.net"


def plan_to(server: EmulatorServer, manifest: str, out: str, *argv: str, **env: str) -> None:
    result = cli(server, "plan", manifest, "--out", out, *argv, **env)
    assert result.code == 0, result.all


def apply_plan(server: EmulatorServer, plan: str, *argv: str, **env: str) -> Result:
    return cli(server, "apply", "--plan", plan, "--auto-approve", *argv, **env)


def doctor(plan: str, edit: Any) -> None:
    """Edit a saved plan as an attacker would, then recompute its (unkeyed) checksum."""
    document = json.loads(Path(plan).read_text())
    edit(document)
    document["checksum"] = checksum(document)
    Path(plan).write_text(json.dumps(document))


def point_redis_at_the_attacker(document: dict[str, Any]) -> None:
    for change in document["plan"]["changes"]:
        body = change["body"]
        if body and "host" in body["config"]:
            body["config"]["host"] = ATTACKER_HOST
            body["config"]["password"]["$secret"]["fingerprint"] = None


def test_an_edited_host_with_a_recomputed_checksum_is_refused_before_any_request(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)
    doctor(plan, point_redis_at_the_attacker)
    emulator.state.clear_requests()
    result = apply_plan(emulator, plan, **KEY)
    assert result.code == 1
    assert "MAC does not match" in result.err
    assert "is not pinned" in result.err
    assert emulator.state.requests == []  # refused before a single request
    assert emulator.state.stores() == []
    assert ATTACKER_HOST not in result.all
    shown = cli(emulator, "show", plan, **KEY)
    assert shown.code == 1 and "MAC does not match" in shown.err


def test_stripping_the_signature_does_not_help_when_the_key_is_set(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)

    def unsign(document: dict[str, Any]) -> None:
        point_redis_at_the_attacker(document)
        document["signed"], document["mac"], document["secrets_pinned"] = False, None, False

    doctor(plan, unsign)
    result = apply_plan(emulator, plan, **KEY)
    assert result.code == 1
    assert "not signed" in result.err and "is not pinned" in result.err
    assert emulator.state.stores() == []


def test_a_plan_pointed_at_an_attackers_manifest_is_refused(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)
    evil = PAYMENTS.replace("${REDIS_PAYMENTS_PASSWORD}", "${LAUNCHDARKLY_ACCESS_TOKEN}")
    write(tmp_path, evil.replace("redis.payments.internal", ATTACKER_HOST), "evil.yaml")

    def swap(document: dict[str, Any]) -> None:
        document["manifests"] = [{"path": "evil.yaml", "sha256": _digest(tmp_path / "evil.yaml")}]

    doctor(plan, swap)
    result = apply_plan(emulator, plan, **KEY)
    assert result.code == 1 and "MAC does not match" in result.err
    assert emulator.state.stores() == []
    assert TOKEN not in result.all


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_unsigned_plan_applies_with_a_warning_and_is_refused_once_a_key_is_set(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **NO_KEY)
    document = json.loads(Path(plan).read_text())
    assert document["signed"] is False and document["mac"] is None
    refused = apply_plan(emulator, plan, **KEY)
    assert refused.code == 1 and "not signed" in refused.err
    applied = apply_plan(emulator, plan, **NO_KEY)
    assert applied.code == 0, applied.all
    assert "warning:" in applied.err and "unsigned" in applied.err


def test_a_signed_plan_needs_the_key_at_apply_time(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)
    assert json.loads(Path(plan).read_text())["signed"] is True
    result = apply_plan(emulator, plan, **NO_KEY)
    assert result.code == 1 and "RECONCILER_FINGERPRINT_KEY is not set" in result.err
    assert emulator.state.stores() == []


def test_an_edited_api_host_is_caught_by_the_mac(emulator: EmulatorServer, tmp_path: Path) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)
    other = emulator.url.replace("127.0.0.1", "localhost")
    doctor(plan, lambda d: d.update(api_host=other))
    result = apply_plan(emulator, plan, "--api-host", other, **KEY)
    assert result.code == 1 and "MAC does not match" in result.err


def test_apply_plan_works_from_any_working_directory(
    emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    (repo / "launchdarkly").mkdir(parents=True)
    write(repo / "launchdarkly", PAYMENTS)
    monkeypatch.chdir(repo)
    plan_to(emulator, "launchdarkly", "plan.json", **KEY)
    recorded = json.loads((repo / "plan.json").read_text())["manifests"]
    assert [m["path"] for m in recorded] == ["launchdarkly/payments.yaml"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = apply_plan(emulator, "../repo/plan.json", **KEY)
    assert result.code == 0, result.all
    redis = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    assert redis.config["password"] == PASSWORD


def test_a_manifest_changed_since_the_plan_is_refused_and_named(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, manifest, plan, **KEY)
    write(tmp_path, PAYMENTS.replace("tier:1", "tier:2"))
    emulator.state.clear_requests()
    result = apply_plan(emulator, plan, **KEY)
    assert result.code == 1
    assert f"the manifest {manifest} changed since the plan was made" in result.err
    assert emulator.state.requests == []
    Path(manifest).unlink()
    gone = apply_plan(emulator, plan, **KEY)
    assert gone.code == 1 and f"the manifest {manifest} cannot be read" in gone.err


def test_a_plan_naming_a_fifo_or_a_device_as_manifest_is_refused_without_blocking(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **NO_KEY)
    os.mkfifo(tmp_path / "fifo.yaml")
    entries = [{"path": "fifo.yaml", "sha256": "x"}, {"path": "/dev/zero", "sha256": "x"}]
    doctor(plan, lambda d: d.update(manifests=entries))
    result = apply_plan(emulator, plan, **NO_KEY)
    assert result.code == 1
    assert result.err.count("cannot be read: not a regular file") == 2
    assert emulator.state.stores() == []


def test_the_plan_records_its_flags_and_apply_may_not_add_any(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, "--force", **KEY)
    flags = json.loads(Path(plan).read_text())["flags"]
    assert flags == {"allow_delete": False, "force": True, "targets": []}
    added = apply_plan(emulator, plan, "--allow-delete", **KEY)
    assert added.code == 1 and "--allow-delete was given here but not to the plan" in added.err
    repeated = apply_plan(emulator, plan, "--force", **KEY)
    assert repeated.code == 0, repeated.all


# -- plan -> file -> apply --plan is apply --------------------------------------------------

HAND_MADE = {
    "name": "Search production",
    "on": False,
    "tags": ["team:search"],
    "config": {"host": "search.internal", "password": "hand-made-Passw0rd"},
}
OWNED_LEFTOVER = {
    "name": "Old staging",
    "on": False,
    "tags": [DEFAULT_OWNER_TAG],
    "config": {"host": "old.internal"},
}
SEARCH = """\
project: search
stores:
  - environment: production
    integrationKey: redis
    name: Search production
    on: true
    ignore:
      - {field: tags, reason: "tagged by hand", expires: 2999-01-01}
    config:
      host: ${SEARCH_HOST}
      password: ${REDIS_SEARCH_PASSWORD}
"""


@pytest.fixture
def twin(clock: FakeClock) -> Iterator[EmulatorServer]:
    server = EmulatorServer(small_account(clock), clock=clock).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def seed(server: EmulatorServer) -> None:
    server.state.create_store("search", "production", "redis", HAND_MADE)
    server.state.create_store("payments", "staging", "redis", OWNED_LEFTOVER)
    server.state.create_store(
        "payments", "production", "redis",
        {"name": "Payments production", "on": False, "tags": [DEFAULT_OWNER_TAG],
         "config": {"host": "redis-old.internal", "password": "old-Passw0rd-value"}},
    )  # fmt: skip
    server.state.clear_requests()


IDS = re.compile(r"[0-9a-f]{24}")
RUN_IDS = re.compile(r"reconciler:pending:[0-9a-f]+")  # each run marks its creates with its id


def writes(server: EmulatorServer) -> list[tuple[str, str, str]]:
    return [
        (
            r.method,
            IDS.sub("<id>", r.path),
            RUN_IDS.sub("<run>", IDS.sub("<id>", json.dumps(r.body, sort_keys=True))),
        )
        for r in server.state.requests
        if r.method != "GET"
    ]


def end_state(server: EmulatorServer) -> list[dict[str, Any]]:
    stores = [server.state.export_store(s) for s in server.state.stores()]
    for store in stores:
        store.pop("id", None)
    return sorted(stores, key=lambda s: json.dumps(s, sort_keys=True))


def test_plan_to_file_to_apply_plan_behaves_exactly_like_apply(
    emulator: EmulatorServer, twin: EmulatorServer, tmp_path: Path
) -> None:
    folder = tmp_path / "manifests"
    folder.mkdir()
    write(folder, PAYMENTS.replace("on: true", "on: false"), "payments.yaml")
    write(folder, SEARCH, "search.yaml")
    env = {**KEY, "SEARCH_HOST": "search.internal"}
    flags = ("--allow-delete", "--parallelism", "1")
    seed(emulator)
    seed(twin)
    direct = cli(emulator, "apply", str(folder), "--auto-approve", *flags, **env)
    assert direct.code == 0, direct.all
    plan = str(tmp_path / "plan.json")
    plan_to(twin, str(folder), plan, *flags, **env)
    saved = apply_plan(twin, plan, "--parallelism", "1", **env)
    assert saved.code == 0, saved.all
    assert writes(emulator) == writes(twin)
    assert {m for m, _, _ in writes(emulator)} == {"POST", "PATCH", "DELETE"}
    assert end_state(emulator) == end_state(twin)
    assert direct.out.split("Apply complete")[1] == saved.out.split("Apply complete")[1]


# -- show ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_show_prints_a_saved_plan_as_plan_did(
    emulator: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    edited = write(tmp_path, PAYMENTS.replace("on: true", "on: false"), "edited.yaml")
    plan = str(tmp_path / "plan.json")
    planned = cli(emulator, "plan", edited, "--format", fmt, "--out", plan, **KEY)
    emulator.state.clear_requests()
    shown = cli(emulator, "show", plan, "--format", fmt, **KEY)
    assert shown.code == 0, shown.all
    assert shown.out == planned.out
    assert "on: true -> false" in shown.out or '"/on"' in shown.out or "+ on: false" in shown.out
    assert emulator.state.requests == []
    assert PASSWORD not in shown.all


def test_show_refuses_tampered_and_malformed_files(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    plan = str(tmp_path / "plan.json")
    plan_to(emulator, write(tmp_path, PAYMENTS), plan, **KEY)
    original = Path(plan).read_text()
    edited = json.loads(original)
    edited["plan"]["changes"][0]["body"]["name"] = "Sneaky"
    Path(plan).write_text(json.dumps(edited))
    tampered = cli(emulator, "show", plan, **NO_KEY)
    assert tampered.code == 1 and "checksum mismatch" in tampered.err
    doctor(plan, lambda d: d["plan"]["changes"][0].update(address="not a list"))
    malformed = cli(emulator, "show", plan, **NO_KEY)
    assert malformed.code == 1 and "malformed" in malformed.err
    Path(plan).write_text("[" * 100_000)
    broken = cli(emulator, "show", plan)
    assert broken.code == 1 and "not a saved plan" in broken.err
    for result in (tampered, malformed, broken):
        assert "Traceback" not in result.err
