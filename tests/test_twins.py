"""Racing applies: two or three ``reconciler apply`` processes creating the same stores at the
same time end with exactly one store per address (``reconciler.apply.twins``)."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path

from cli_helpers import cli, write
from race_helpers import slow_emulator, start_gated, stores_manifest

from reconciler.emulator import EmulatorServer

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
    with slow_emulator(latency_ms=150) as server:
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
    with slow_emulator(latency_ms=150) as server:
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
