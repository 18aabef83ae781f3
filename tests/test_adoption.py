"""Adopting an existing account: export, set the variables, plan shows no change but adoption."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import cli

from reconciler.emulator import EmulatorServer
from reconciler.model import DEFAULT_OWNER_TAG

HAND_MADE = {
    "name": "Payments production",
    "on": True,
    "tags": ["team:payments"],
    "config": {
        "host": "redis.internal",
        "port": "6380",
        "password": "hand-made-Passw0rd",
        "tlsEnabled": True,
    },
}


def test_export_writes_manifests_and_lists_the_variables_to_set(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.create_store("payments", "production", "redis", HAND_MADE)
    out = tmp_path / "manifests"
    result = cli(emulator, "export", "--out", str(out))
    assert result.code == 0, result.all
    assert (out / "payments.yaml").exists()
    assert "PAYMENTS_PRODUCTION_REDIS_PASSWORD" in result.err
    assert "hand-made-Passw0rd" not in result.all + (out / "payments.yaml").read_text()
    again = cli(emulator, "export", "--out", str(out))
    assert again.code == 1 and "--force" in again.err


def test_an_exported_account_round_trips_to_an_adoption_and_then_no_change(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    store = emulator.state.create_store("payments", "production", "redis", HAND_MADE)
    out = tmp_path / "manifests"
    assert cli(emulator, "export", "--project", "payments", "--out", str(out)).code == 0
    secrets = {"PAYMENTS_PRODUCTION_REDIS_PASSWORD": "hand-made-Passw0rd"}
    planned = cli(emulator, "plan", str(out), "--format", "json", **secrets)
    assert planned.code == 0, planned.all
    changes = json.loads(planned.out)["changes"]
    assert [(c["action"], c["adopt"]) for c in changes] == [("update", True)]
    assert [op["path"] for op in changes[0]["patch"]] == ["/version", "/tags"]
    assert cli(emulator, "apply", str(out), "--auto-approve", **secrets).code == 0
    assert emulator.state.store(store.id).tags == ["team:payments", DEFAULT_OWNER_TAG]
    assert cli(emulator, "plan", str(out), "--detailed-exitcode", **secrets).code == 0


def test_export_to_stdout_prints_every_project(emulator: EmulatorServer) -> None:
    emulator.state.create_store("payments", "production", "redis", HAND_MADE)
    emulator.state.create_store("search", "production", "redis", {**HAND_MADE, "name": "Search"})
    result = cli(emulator, "export")
    assert result.code == 0
    assert "project: payments" in result.out and "project: search" in result.out
