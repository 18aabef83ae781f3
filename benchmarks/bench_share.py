"""The rate-limit sharing scenario: one or two ``reconciler plan`` processes under one limit.

An emulator subprocess (``--route-limit LIMIT --window W``, no contract validation) holds one
project of ``stores`` redis stores; each process plans that project, so it lists once and then
reads every store by id, all on one route. What counts comes from the emulator's own request
log: the share of all requests answered 429, and the reads answered 200 per complete window of
the limiter (the partial first and last windows left out) as a share of the limit.
``tests/test_pacing_processes.py`` runs this with generous margins; ``make bench`` prints the
targets (one process: >= 97% of the limit, < 1% 429s; two at once: >= 85% between them, < 5%).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.bench_http import TOKEN, emulator

PREFIX = "/api/v2/integration-capabilities/big-segment-store/"
PROJECT = "shared"


def seed(stores: int) -> dict[str, object]:
    """One project with one redis store in each of ``stores`` environments."""
    environments = [f"env-{i:03d}" for i in range(stores)]
    return {
        "tokens": [TOKEN],
        "projects": [{"key": PROJECT, "environments": environments}],
        "stores": [
            {"project": PROJECT, "environment": env, "integrationKey": "redis", "name": env,
             "on": True, "tags": ["managed-by:reconciler"], "config": {"host": f"{env}.internal"}}
            for env in environments
        ],
    }  # fmt: skip


def manifest(folder: Path) -> Path:
    path = folder / "shared.yaml"
    path.write_text(f"project: {PROJECT}\nstores: []\n", encoding="utf-8")
    return path


def stats(log: Sequence[Mapping[str, Any]], limit: int, window: float) -> dict[str, Any]:
    """429 share of all requests; store reads answered 200 per complete window, per limit."""
    reads = [r for r in log if r["method"] == "GET" and r["path"].count("/", len(PREFIX)) == 3]
    done = sorted(r["timeMs"] / 1000.0 for r in reads if r["status"] == 200)
    limited = sum(1 for r in log if r["status"] == 429)
    per_window: dict[int, int] = {}
    for t in done:
        per_window[int(t // window)] = per_window.get(int(t // window), 0) + 1
    middle = range(min(per_window) + 1, max(per_window)) if per_window else range(0)
    served = sum(per_window.get(w, 0) for w in middle)
    share = served / (len(middle) * limit) if len(middle) else 0.0
    return {
        "requests": len(log),
        "reads_ok": len(done),
        "rate_limited_429": limited,
        "share_429": limited / len(log) if log else 0.0,
        "complete_windows": len(middle),
        "reads_per_window": [per_window[w] for w in sorted(per_window)],
        "share_of_limit": share,
    }


def run(workdir: Path, *, processes: int, stores: int, limit: int, window: float) -> dict[str, Any]:
    """``processes`` plans at once under a route limit of ``limit`` per ``window`` seconds."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = manifest(workdir)
    options = {
        "rate_limit_route": limit,
        "rate_limit_global": 1_000_000,
        "rate_limit_window": window,
        "validate_contract": False,
    }
    with emulator(workdir, seed(stores), **options) as server:
        env = {
            **os.environ,
            "LAUNCHDARKLY_ACCESS_TOKEN": TOKEN,
            "LAUNCHDARKLY_API_HOST": server.url,
            "NO_COLOR": "1",
        }
        argv = [sys.executable, "-m", "reconciler", "plan", str(path), "--no-color"]
        # the seed's stores are undeclared, so the plan deletes them; only its reads are measured
        argv += ["--allow-delete", "--force"]
        children = [
            subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            for _ in range(processes)
        ]
        failures = []
        for child in children:
            _, err = child.communicate(timeout=600)
            if child.returncode != 0:
                failures.append(err.decode()[-800:])
        if failures:
            raise RuntimeError(f"reconciler plan failed: {failures[0]}")
        result = stats(server.requests(), limit, window)
    return {"processes": processes, "stores": stores, "limit": limit, "window": window} | result
