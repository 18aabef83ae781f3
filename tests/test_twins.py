"""Racing applies: two or three ``reconciler apply`` processes creating the same stores at the
same time end with exactly one store per address (``reconciler.apply.twins``)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest
from cli_helpers import cli, env_for, write
from race_helpers import slow_emulator, start_gated, stores_manifest

from reconciler.api.client import API_PREFIX, Client, settings_from_env
from reconciler.api.refresh import read_live
from reconciler.apply.executor import Outcome, execute
from reconciler.apply.twins import Twins
from reconciler.emulator import EmulatorServer
from reconciler.errors import ApplyError
from reconciler.manifest.load import load_manifests
from reconciler.model import DEFAULT_OWNER_TAG, reveal
from reconciler.plan.changes import is_pending
from reconciler.plan.planner import build_plan

ONE = """\
project: payments
stores:
  - environment: staging
    integrationKey: redis
    name: Staging cache
    config: {host: staging.internal}
"""
LOWEST, HIGHEST = "0" * 24, "f" * 24

STORES = 30


def addresses(server: EmulatorServer) -> Counter[str]:
    return Counter(
        f"{s.project}/{s.environment}/{s.integration_key}/{s.name}" for s in server.state.stores()
    )


def race(
    server: EmulatorServer, tmp_path: Path, argvs: list[list[str]]
) -> list[tuple[int, str, str]]:
    gate = tmp_path / "gate"
    procs: list[subprocess.Popen[str]] = [
        start_gated(server, gate, argv, tmp_path / f"journal-{i}.jsonl")
        for i, argv in enumerate(argvs)
    ]
    gate.touch()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        results.append((proc.returncode, out, err))
    return results


def created(server: EmulatorServer) -> int:
    return sum(1 for r in server.state.requests if r.method == "POST" and r.status == 201)


def test_three_racing_applies_of_30_new_stores_leave_exactly_30(tmp_path: Path) -> None:
    manifest = write(tmp_path, stores_manifest(STORES))
    with slow_emulator(latency_ms=150) as server:
        argv = ["apply", manifest, "--auto-approve"]
        results = race(server, tmp_path, [argv, argv, argv])
        for code, out, err in results:
            assert code == 0, out + err
        assert created(server) > STORES, "the runs did not race: no store was created twice"
        counts = addresses(server)
        assert len(counts) == STORES and set(counts.values()) == {1}, counts
        assert all(not any(t.startswith("reconciler:pending:") for t in s.tags)
                   for s in server.state.stores())  # fmt: skip
        outputs = "".join(out for _, out, _ in results)
        assert "removed its twin" in outputs and "won" in outputs
        again = cli(server, "plan", manifest, "--detailed-exitcode")
        assert again.code == 0, again.all


def test_each_racing_run_reports_the_twins_it_removed_and_journals_them(tmp_path: Path) -> None:
    manifest = write(tmp_path, stores_manifest(6))
    with slow_emulator(latency_ms=400) as server:
        argv = ["apply", manifest, "--auto-approve"]
        results = race(server, tmp_path, [argv, argv])
        assert [code for code, _, _ in results] == [0, 0], results
        survivors = {s.id for s in server.state.stores()}
        assert len(survivors) == 6
        removed_lines = [
            line for _, out, _ in results for line in out.splitlines() if "removed its twin" in line
        ]
        assert removed_lines, "no twin was resolved"
        journal_lines = [
            json.loads(line)
            for i in range(2)
            for line in (tmp_path / f"journal-{i}.jsonl").read_text().splitlines()
        ]
        twins = [e for e in journal_lines if e["event"] == "done" and "winner" in e]
        assert len(twins) == len(removed_lines)
        for entry in twins:
            assert entry["winner"] in survivors and entry["removed_id"] not in survivors
            assert entry["new_id"] == entry["winner"]


def test_two_racing_applies_of_one_saved_plan_leave_one_store_per_address(
    tmp_path: Path,
) -> None:
    manifest = write(tmp_path, stores_manifest(10))
    plan_file = tmp_path / "plan.json"
    with slow_emulator(latency_ms=300) as server:
        planned = cli(server, "plan", manifest, "--out", str(plan_file))
        assert planned.code == 0, planned.all
        argv = ["apply", "--plan", str(plan_file), "--auto-approve"]
        results = race(server, tmp_path, [argv, argv])
        for code, out, err in results:
            assert code == 0, out + err
        assert created(server) > 10, "the runs did not race"
        counts = addresses(server)
        assert len(counts) == 10 and set(counts.values()) == {1}, counts
        assert cli(server, "plan", manifest, "--detailed-exitcode").code == 0


def apply_with_twin(
    server: EmulatorServer, tmp_path: Path, twin_id: str, twin_tags: list[str], wait: float = 5.0
) -> list[Outcome]:
    """Plan the ONE manifest, then let "another run" create the same store (``twin_id``,
    ``twin_tags``) before this run executes the plan."""
    env = env_for(server)
    loaded = load_manifests([write(tmp_path, ONE)], env=env)
    with Client(settings_from_env(env)) as client:
        plan = build_plan(loaded.state, read_live(client, {"payments"}))
        body = {"name": "Staging cache", "tags": twin_tags, "config": {"host": "staging.internal"}}
        server.state.create_store("payments", "staging", "redis", body, store_id=twin_id)
        return execute(plan, client, twin_wait=wait)


def test_a_settled_twin_wins_even_with_a_higher_id_and_this_run_removes_only_its_own(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    [outcome] = apply_with_twin(emulator, tmp_path, HIGHEST, [DEFAULT_OWNER_TAG])
    assert [s.id for s in emulator.state.stores()] == [HIGHEST]
    assert outcome.store is not None and outcome.store.id == HIGHEST
    assert f"{HIGHEST} won" in outcome.note and "removed its twin" in outcome.note
    deletes = [r.path for r in emulator.state.requests if r.method == "DELETE"]
    assert len(deletes) == 1 and not deletes[0].endswith(HIGHEST)


def test_a_lone_store_is_settled_by_dropping_its_pending_tag(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator)
    loaded = load_manifests([write(tmp_path, ONE)], env=env)
    with Client(settings_from_env(env)) as client:
        [outcome] = execute(build_plan(loaded.state, read_live(client, {"payments"})), client)
    [store] = emulator.state.stores()
    assert store.tags == [DEFAULT_OWNER_TAG] and store.version == 2 and outcome.note == ""
    [post] = [r for r in emulator.state.requests if r.method == "POST"]
    assert any(t.startswith("reconciler:pending:") for t in post.body["tags"])


def test_a_pending_twin_with_a_lower_id_makes_this_run_remove_its_own_and_wait(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    other = [DEFAULT_OWNER_TAG, "reconciler:pending:otherrun"]
    with pytest.raises(ApplyError) as error:
        apply_with_twin(emulator, tmp_path, LOWEST, other, wait=0.5)
    assert f"{LOWEST} created by another run are still pending" in str(error.value)
    assert [s.id for s in emulator.state.stores()] == [LOWEST]  # ours gone, theirs untouched
    assert emulator.state.store(LOWEST).tags == other


def test_a_pending_twin_with_a_higher_id_is_waited_for_and_never_touched(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    other = [DEFAULT_OWNER_TAG, "reconciler:pending:otherrun"]
    with pytest.raises(ApplyError) as error:
        apply_with_twin(emulator, tmp_path, HIGHEST, other, wait=0.5)
    assert "may have died" in str(error.value)
    ids = sorted(s.id for s in emulator.state.stores())
    assert len(ids) == 2 and ids[1] == HIGHEST and emulator.state.store(HIGHEST).tags == other
    assert not [r for r in emulator.state.requests if r.method in ("DELETE", "PATCH")]


def test_a_same_named_store_without_the_ownership_tag_is_not_a_twin(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    [outcome] = apply_with_twin(emulator, tmp_path, HIGHEST, ["hand-made"])
    assert outcome.note == "" and outcome.store is not None and outcome.store.id != HIGHEST
    assert len(emulator.state.stores()) == 2


def test_a_plan_ignores_pending_tags_and_twins_being_resolved(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, ONE)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    [store] = emulator.state.stores()
    emulator.state.mutate_store(store.id, {"tags": [DEFAULT_OWNER_TAG, "reconciler:pending:r1"]})
    body = {"name": "Staging cache", "tags": [DEFAULT_OWNER_TAG, "reconciler:pending:r2"],
            "config": {"host": "staging.internal"}}  # fmt: skip
    emulator.state.create_store("payments", "staging", "redis", body, store_id=HIGHEST)
    result = cli(emulator, "plan", manifest, "--detailed-exitcode")
    assert result.code == 0, result.all
    assert "Staging cache  (id ffffffffffffffffffffffff)" in result.out  # shown, left alone
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    assert emulator.state.store(HIGHEST).tags[-1] == "reconciler:pending:r2"


def test_a_store_settled_by_someone_else_is_kept_not_removed(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    env = env_for(emulator)
    loaded = load_manifests([write(tmp_path, ONE)], env=env)
    with Client(settings_from_env(env)) as client:
        plan = build_plan(loaded.state, read_live(client, {"payments"}))
        twins = Twins(client, owner_tag=DEFAULT_OWNER_TAG, run="r1", wait=1.0)
        change = plan.changes[0]
        assert change.body is not None
        body = twins.pending_body(reveal(change.body))  # type: ignore[arg-type]
        mine = client.create_store("payments", "staging", "redis", body,
                                   address="a", known_ids=())  # fmt: skip
        emulator.state.mutate_store(mine.id, {"tags": [DEFAULT_OWNER_TAG]})  # another run's patch
        settled = twins.settle("a", mine)
    assert settled.store.id == mine.id and settled.winner is None
    assert [s.id for s in emulator.state.stores()] == [mine.id]


def list_calls(server: EmulatorServer) -> int:
    return sum(1 for r in server.state.requests if r.method == "GET" and r.path == API_PREFIX)


def test_an_uncontended_apply_of_300_creates_lists_the_stores_a_constant_number_of_times(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, stores_manifest(300))
    result = cli(emulator, "apply", manifest, "--auto-approve", "--parallelism", "32")
    assert result.code == 0, result.all
    assert created(emulator) == 300 and len(emulator.state.stores()) == 300
    assert list_calls(emulator) <= 5  # the plan's own list, then one per batch of creates
    patches = [r for r in emulator.state.requests if r.method == "PATCH"]
    assert len(patches) == 300  # each create is still settled by its own PATCH
    assert not [s for s in emulator.state.stores() if is_pending(s.tags)]


def test_a_failed_create_still_lets_the_creates_already_posted_be_settled(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.faults.fail_next(
        1, status=400, method="POST", path_prefix=API_PREFIX + "/payments/staging"
    )
    manifest = write(tmp_path, stores_manifest(20))
    result = cli(emulator, "apply", manifest, "--auto-approve", "--parallelism", "4")
    assert result.code == 1 and "apply stopped" in result.err
    live = emulator.state.stores()
    assert live and not [s for s in live if is_pending(s.tags)]
    assert len(live) == 19  # every create but the failed one was posted, then settled
    assert sum(1 for r in emulator.state.requests if r.method == "PATCH") == len(live)
