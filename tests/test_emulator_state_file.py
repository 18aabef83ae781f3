"""The emulator's ``--state-file``: an account that survives restarts, written safely.

In process (``EmulatorServer(state_file=...)``) and end to end (``reconciler emulator`` as a
subprocess, stopped by Ctrl-C and by a kill), over real HTTP.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN, small_account

from reconciler.emulator import API_ROOT, EmulatorServer, FakeClock, SeedError
from reconciler.emulator.persist import initial_state

HEADERS = {"Authorization": TOKEN, "LD-API-Version": "beta"}
CREATE = f"{API_ROOT}/payments/production/redis"
BODY = {
    "name": "Payments",
    "on": True,
    "config": {"host": "redis.internal", "port": "6379", "password": "supersecret123"},
}
SEED = f"tokens: [{TOKEN}]\nprojects: [{{key: payments, environments: [production]}}]\n"


def _create(url: str) -> dict[str, Any]:
    answer = httpx.post(url + CREATE, headers=HEADERS, json=BODY, timeout=10)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def _stores_in(path: Path) -> list[dict[str, Any]]:
    stores: list[dict[str, Any]] = json.loads(path.read_text("utf-8"))["stores"]
    return stores


def test_changes_are_saved_as_they_happen_and_a_new_server_resumes_them(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "state" / "account.json"
    with EmulatorServer(small_account(clock), state_file=path) as server:
        assert not path.exists()  # nothing written before the first change
        created = _create(server.url)
        saved = _stores_in(path)  # written right after the request, before any stop
        assert [(s["id"], s["version"]) for s in saved] == [(created["_id"], 1)]
        assert saved[0]["config"]["password"] == "supersecret123"  # unmasked: the state itself
        edit = [{"op": "test", "path": "/version", "value": 1}]
        edit.append({"op": "replace", "path": "/name", "value": "Renamed"})
        href = created["_links"]["self"]["href"]
        assert httpx.patch(server.url + href, headers=HEADERS, json=edit).status_code == 200
        assert _stores_in(path)[0]["name"] == "Renamed"

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["account.json"]  # no temporary left

    with EmulatorServer(initial_state(path, seed_path=None)) as again:
        answer = httpx.get(again.url + href, headers=HEADERS).json()
    assert (answer["_id"], answer["name"], answer["version"]) == (created["_id"], "Renamed", 2)
    assert answer["config"]["password"] == "sup********123"  # masked on the API, as ever


def test_after_concurrent_changes_the_file_holds_the_latest_state(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "account.json"
    with EmulatorServer(small_account(clock), state_file=path) as server:
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = list(pool.map(lambda _: _create(server.url)["_id"], range(24)))
        # Read while the server still runs: stop() would save again and hide a stale write.
        assert sorted(s["id"] for s in _stores_in(path)) == sorted(created)


def test_side_door_edits_are_saved_too(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "account.json"
    with EmulatorServer(small_account(clock), state_file=path) as server:
        store_id = _create(server.url)["_id"]
        answer = httpx.patch(
            f"{server.url}/__emulator/stores/{store_id}", json={"on": False}, timeout=10
        )
        assert answer.status_code == 200
        assert _stores_in(path)[0]["on"] is False


def test_the_state_file_wins_over_the_seed_once_it_exists(tmp_path: Path) -> None:
    seed, path = tmp_path / "seed.yaml", tmp_path / "account.json"
    seed.write_text(SEED, "utf-8")

    assert initial_state(path, seed).snapshot()["stores"] == []  # no state file yet: the seed
    path.write_text(
        json.dumps({"tokens": [TOKEN], "projects": [{"key": "other", "environments": ["e"]}]})
    )
    projects = [p["key"] for p in initial_state(path, seed).snapshot()["projects"]]
    assert projects == ["other"]


def test_a_damaged_state_file_is_a_seed_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "account.json"
    path.write_text('{"tokens": [', "utf-8")

    with pytest.raises(SeedError, match=re.escape(str(path))):
        initial_state(path, seed_path=None)


@contextmanager
def _emulator_process(
    path: Path | None, seed: Path, cwd: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``reconciler emulator --port 0 [--state-file PATH] --seed SEED``, with its URL."""
    argv = [sys.executable, "-m", "reconciler", "emulator", "--port", "0", "--seed", str(seed)]
    argv += ["--state-file", str(path)] if path is not None else []
    proc = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1])),
    )
    try:
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if "listening on" in line:  # bound; requests wait until it serves
                break
        found = re.search(r"listening on (http://\S+)", "".join(lines))
        assert found, "".join(lines)
        yield proc, found.group(1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def test_the_cli_emulator_resumes_its_state_after_ctrl_c_and_after_a_kill(
    tmp_path: Path,
) -> None:
    seed, path = tmp_path / "seed.yaml", tmp_path / "account.json"
    seed.write_text(SEED, "utf-8")

    with _emulator_process(path, seed) as (proc, url):
        first = _create(url)["_id"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    with _emulator_process(path, seed) as (proc, url):
        listed = httpx.get(url + API_ROOT, headers=HEADERS, timeout=10).json()["items"]
        assert [s["_id"] for s in listed] == [first]
        second = _create(url)["_id"]
        proc.kill()  # no chance to save on the way out: the change was saved when it happened

    with _emulator_process(path, seed) as (proc, url):
        listed = httpx.get(url + API_ROOT, headers=HEADERS, timeout=10).json()["items"]
        assert sorted(s["_id"] for s in listed) == sorted([first, second])


def test_without_a_state_file_the_emulator_writes_nothing_to_disk(tmp_path: Path) -> None:
    seed, workdir = tmp_path / "seed.yaml", tmp_path / "cwd"
    seed.write_text(SEED, "utf-8")
    workdir.mkdir()

    with _emulator_process(None, seed, cwd=workdir) as (proc, url):
        _create(url)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0

    assert sorted(p.name for p in tmp_path.rglob("*")) == ["cwd", "seed.yaml"]
