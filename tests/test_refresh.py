"""``api.refresh``: reading live state works whether list items carry ``config`` or not.

The spec's text says the list omits ``config``; LaunchDarkly's own REST client expects it there
(API-NOTES §8). The emulator does either (``list_config``); the request log shows what the
product asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import PAYMENTS, cli, write

from reconciler.emulator import EmulatorServer

LIST = "/api/v2/integration-capabilities/big-segment-store"
ENVIRONMENTS = ("GET", "/api/v2/projects/payments/environments")


def requests(emulator: EmulatorServer) -> list[tuple[str, str]]:
    """The store API requests; asserts the one environment read of the project (preflight)."""
    every = [(r.method, r.path) for r in emulator.state.requests]
    assert every.count(ENVIRONMENTS) == 1
    return [r for r in every if r != ENVIRONMENTS]


@pytest.mark.parametrize("list_config", [False, True])
def test_a_plan_in_sync_is_a_no_op_in_both_list_modes(
    emulator: EmulatorServer, tmp_path: Path, list_config: bool
) -> None:
    emulator.state.list_config = list_config
    path = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    emulator.state.clear_requests()
    planned = cli(emulator, "plan", path, "--detailed-exitcode", "--format", "json")
    assert planned.code == 0, planned.all
    assert {c["action"] for c in json.loads(planned.out)["changes"]} == {"no-op"}
    ids = sorted(s.id for s in emulator.state.stores())
    per_store = sorted(p.rsplit("/", 1)[1] for m, p in requests(emulator) if p != LIST)
    assert [r for r in requests(emulator) if r == ("GET", LIST)] == [("GET", LIST)]
    if list_config:
        assert requests(emulator) == [("GET", LIST)]  # no per-store GET at all
    else:
        assert per_store == ids  # one GET per store, nothing else


def test_with_config_in_the_list_an_out_of_band_change_is_still_seen(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.list_config = True
    path = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    store = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    emulator.state.mutate_store(store.id, {"config": {"host": "elsewhere.internal"}})
    emulator.state.clear_requests()
    drift = cli(emulator, "drift", path, "--format", "json")
    assert drift.code == 2, drift.all
    changed = [c for c in json.loads(drift.out)["changes"] if c["action"] == "update"]
    assert [c["id"] for c in changed] == [store.id]
    assert requests(emulator) == [("GET", LIST)]
