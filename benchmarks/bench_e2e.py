"""The end-to-end scenario of ``benchmarks.bench``: ``reconciler`` processes as users run them.

Every figure is one child process, measured by ``os.wait4``: wall seconds and the CPU seconds
(user + system) of the child alone. The emulator runs in a process of its own
(``--no-validate``), so its work is not counted. At each size (1k and 10k stores; 20
environments per project, one redis store each) the account is emptied, then ``apply`` creates
every store, and ``plan`` (text and JSON), ``drift`` and ``validate`` run against the populated
account. Beside them, in the same run, the floor (``benchmarks.floor``): a process that only
parses the same manifests with libyaml, and one that also fetches the same bodies over one plain
keep-alive ``http.client`` connection and parses them with orjson. Start-up is measured against
``python -c pass``: ``reconciler --help`` and ``validate`` of one small file.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_data import PASSWORD, PASSWORD_VAR, manifest_files, seed_document
from benchmarks.bench_http import TOKEN, emulator

COMMANDS = ("apply", "plan", "plan-json", "drift", "validate")


def reconciler_argv() -> list[str]:
    """The console script next to this interpreter, else ``python -m reconciler``."""
    script = Path(sys.executable).parent / "reconciler"
    return [str(script)] if script.exists() else [sys.executable, "-m", "reconciler"]


def measure(
    argv: Sequence[str], env: Mapping[str, str], *, ok: Sequence[int] = (0,)
) -> dict[str, Any]:
    """Run ``argv`` as a child; its wall and CPU seconds and its stdout's last line."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv), env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {err.decode()[-1500:]}")
    lines = out.decode().strip().splitlines()
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "last_line": lines[-1][:200] if lines else "",
    }


def median_run(argv: Sequence[str], env: Mapping[str, str], repeats: int) -> dict[str, Any]:
    runs = [measure(argv, env) for _ in range(repeats)]
    return {
        "wall": statistics.median(r["wall"] for r in runs),
        "cpu": statistics.median(r["cpu"] for r in runs),
        "runs": len(runs),
    }


def startup(workdir: Path, env: Mapping[str, str], repeats: int = 7) -> dict[str, Any]:
    """``python -c pass``, ``reconciler --help`` and ``validate`` of one small file."""
    small = workdir / "small.yaml"
    small.write_text(manifest_files(1, 1)["bench-000.yaml"], encoding="utf-8")
    cli = reconciler_argv()
    return {
        "python": median_run([sys.executable, "-c", "pass"], env, repeats),
        "help": median_run([*cli, "--help"], env, repeats),
        "validate_small": median_run([*cli, "validate", str(small)], env, repeats),
    }


def _write_manifests(folder: Path, stores: int) -> tuple[int, int]:
    environments = 20
    projects = stores // environments
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in manifest_files(projects, environments).items():
        (folder / name).write_text(text, encoding="utf-8")
    return projects, environments


def _argv(command: str, manifests: Path) -> list[str]:
    common = [str(manifests), "--no-color"]
    return {
        "apply": ["apply", *common, "--auto-approve"],
        "plan": ["plan", *common],
        "plan-json": ["plan", *common, "--format", "json"],
        "drift": ["drift", *common],
        "validate": ["validate", str(manifests)],
    }[command]


def size_scenario(workdir: Path, stores: int, repeats: int) -> dict[str, Any]:
    """Every command and both floors at ``stores`` stores; medians of ``repeats`` rounds."""
    manifests = workdir / f"manifests-{stores}"
    projects, environments = _write_manifests(manifests, stores)
    seed = seed_document(projects, environments, TOKEN)
    env = {
        **os.environ,
        "LAUNCHDARKLY_ACCESS_TOKEN": TOKEN,
        PASSWORD_VAR: PASSWORD,
        "RECONCILER_JOURNAL": str(workdir / "journal.jsonl"),
        "NO_COLOR": "1",
    }
    cli = reconciler_argv()
    rounds: dict[str, list[dict[str, Any]]] = {c: [] for c in (*COMMANDS, "floor-parse", "floor")}
    with emulator(workdir, seed, validate_contract=False) as server:
        env["LAUNCHDARKLY_API_HOST"] = server.url
        for _ in range(repeats):
            server.reseed()
            for command in COMMANDS:
                rounds[command].append(measure([*cli, *_argv(command, manifests)], env))
                print(f"  e2e {stores}: {command} {rounds[command][-1]['cpu']:.2f} s CPU",
                      file=sys.stderr, flush=True)  # fmt: skip
            floor = [sys.executable, str(Path(__file__).with_name("floor.py"))]
            rounds["floor-parse"].append(measure([*floor, "parse", str(manifests)], env))
            rounds["floor"].append(measure([*floor, "fetch", str(manifests), server.url], env))
            server.clear_requests()
    result: dict[str, Any] = {"stores": stores, "repeats": repeats}
    for key, runs in rounds.items():
        result[key] = {
            "wall": statistics.median(r["wall"] for r in runs),
            "cpu": statistics.median(r["cpu"] for r in runs),
            "maxrss_mb": max(r["maxrss_mb"] for r in runs),
            "last_line": runs[-1]["last_line"],
        }
    floor_steps = json.loads(result["floor"]["last_line"])
    result["floor"]["steps"] = floor_steps["cpu"]
    result["floor"]["requests"] = floor_steps.get("requests")
    return result


def e2e_scenario(workdir: Path, sizes: Sequence[int], repeats: Sequence[int]) -> dict[str, Any]:
    env = {**os.environ, PASSWORD_VAR: PASSWORD}
    result: dict[str, Any] = {"startup": startup(workdir, env), "sizes": {}}
    for stores, times in zip(sizes, repeats, strict=True):
        result["sizes"][str(stores)] = size_scenario(workdir / str(stores), stores, times)
    return result
