"""``make bench``: how fast reconciler plans, renders, reads and writes at scale.

A benchmark, not a test. It first runs the command as users run it (``e2e``,
``benchmarks.bench_e2e``): ``reconciler`` processes against an emulator process at 1k and 10k
stores, each child's wall and CPU time beside a floor measured in the same run, and start-up
against ``python -c pass``; and ``share`` (``benchmarks.bench_share``): one and two ``plan``
processes under one rate limit. It prints that table, then one table (scenario, metric, value,
target, result) of every target and of the in-process scenarios below, writes everything it
measured to ``bench-results.json`` in the current directory, and exits 0 even when a target is
missed (the row then says ``MISSED``). Comparisons are ratios measured side by side in one run,
because the machines it runs on are shared. The in-process scenarios:

1. ``cpu``: build the plan for 10,000 plan entries held in memory (80% unchanged, 10% updated,
   5% created, 5% deleted; ``bench_data``) and render it as JSON and as text. Median of three
   passes; peak memory from ``tracemalloc`` in a separate pass (inputs included).
2. ``latency``: an emulator subprocess adding 30 ms per request, no rate limit; ``apply`` of
   1,000 stores from empty, then ``plan``, sequentially and in parallel (``bench_http``).
3. ``rate``: a route limit of 50 requests per 1 s window; ``apply`` of 600 stores, paced by the
   CLI, against a reactive client that only waits after 429s.
4. ``growth``: plan CPU time (build + JSON) at 1k, 5k and 10k entries, per entry.

The CPU and growth scenarios run with the collector thresholds the console script sets
(``cli.tune_gc_for_batch``), so they measure the planner as ``reconciler plan`` runs it.

``--quick`` runs every scenario at small sizes (a minute or less) to check the plumbing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.bench_data import Split, synthetic_state
from reconciler.cli.main import build_parser, tune_gc_for_batch
from reconciler.model import DesiredState, LiveStore
from reconciler.plan.changes import Plan
from reconciler.plan.planner import build_plan
from reconciler.render.plan import render_json, render_text

API_HOST = "https://app.launchdarkly.com"
TODAY = date(2025, 1, 1)
NOW_MS = 1_700_000_100_000
RESULTS_FILE = "bench-results.json"
CPU_TARGET_SECONDS = 1.0
MEMORY_TARGET_MB = 300.0
SPEEDUP_TARGET = 10.0
RATE_SHARE_TARGET = 0.90
SHARE_429_TARGET = 0.01
GROWTH_TARGET = 1.5
MB = 1024 * 1024
SCENARIOS = ("e2e", "share", "cpu", "growth", "latency", "rate")


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table. ``passed`` is ``None`` for information without a target."""

    scenario: str
    metric: str
    value: str
    target: str = ""
    passed: bool | None = None

    @property
    def result(self) -> str:
        return "-" if self.passed is None else "ok" if self.passed else "MISSED"


def plan_pass(
    desired: DesiredState, live: Sequence[LiveStore], *, text: bool = True
) -> tuple[Plan, dict[str, float]]:
    """Build and render one plan; seconds per step."""
    gc.collect()
    started = time.perf_counter()
    plan = build_plan(desired, live, today=TODAY)
    built = time.perf_counter()
    render_json(plan, api_host=API_HOST)
    jsoned = time.perf_counter()
    if text:
        render_text(plan, now_ms=NOW_MS)
    done = time.perf_counter()
    seconds = {"build": built - started, "json": jsoned - built}
    if text:
        seconds["text"] = done - jsoned
    seconds["total"] = done - started
    return plan, seconds


def cpu_scenario(stores: int, *, repeats: int = 3) -> dict[str, Any]:
    """Plan and render ``stores`` entries ``repeats`` times; the median of each step, and the
    plan's counts (which must follow ``Split.of(stores)``)."""
    desired, live = synthetic_state(stores)
    passes = []
    plan = None
    for _ in range(repeats):
        plan, seconds = plan_pass(desired, live)
        passes.append(seconds)
    assert plan is not None
    median = {k: statistics.median(p[k] for p in passes) for k in passes[0]}
    return {
        "stores": stores,
        "declared": len(desired.stores),
        "live": len(live),
        "expected": asdict(Split.of(stores)),
        "summary": plan.summary,
        "seconds": median,
        "passes": passes,
        "stores_per_second": stores / median["total"] if median["total"] else 0.0,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def memory_scenario(stores: int) -> dict[str, Any]:
    """Peak traced memory (``tracemalloc``) of building the inputs, then planning and rendering
    them; the inputs stay in memory, so the peak counts both."""
    gc.collect()
    tracemalloc.start()
    try:
        desired, live = synthetic_state(stores)
        inputs = tracemalloc.get_traced_memory()[0]
        plan_pass(desired, live)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return {
        "stores": stores,
        "method": "tracemalloc peak of inputs + build + render (separate pass)",
        "inputs_mb": inputs / MB,
        "peak_mb": peak / MB,
    }


def growth_scenario(sizes: Sequence[int], *, entries: int = 30_000) -> dict[str, Any]:
    """Build + JSON seconds per entry at each size (median of enough passes to plan about
    ``entries`` entries, at least 3, so small sizes are not one noisy blip), as the CLI runs it
    and, to tell the planner's own growth from the cyclic garbage collector's (whose full
    collections walk a heap that grows with the plan), with the collector paused."""
    points = []
    for size in sizes:
        desired, live = synthetic_state(size)
        repeats = max(3, entries // size)
        point: dict[str, Any] = {"stores": size, "passes": repeats}
        for key, collect in (("", True), ("_gc_paused", False)):
            times = []
            for _ in range(repeats):
                if not collect:
                    gc.disable()
                try:
                    times.append(plan_pass(desired, live, text=False)[1]["total"])
                finally:
                    gc.enable()
            point[f"seconds{key}"] = statistics.median(times)
            point[f"us_per_store{key}"] = point[f"seconds{key}"] / size * 1e6
        points.append(point)
    first, last = points[0], points[-1]
    return {
        "points": points,
        "ratio_per_store": last["us_per_store"] / first["us_per_store"],
        "ratio_per_store_gc_paused": last["us_per_store_gc_paused"]
        / first["us_per_store_gc_paused"],
    }


def _rows_cpu(cpu: dict[str, Any], memory: dict[str, Any]) -> list[Row]:
    s, n = cpu["seconds"], cpu["stores"]
    summary, expected = cpu["summary"], cpu["expected"]
    counts_ok = (summary["no-op"], summary["update"], summary["create"], summary["delete"]) == (
        expected["unchanged"], expected["updated"], expected["created"], expected["deleted"],
    )  # fmt: skip
    name = f"cpu {n:,}"
    return [
        Row(name, "plan counts (no-op/update/create/delete)",
            f"{summary['no-op']}/{summary['update']}/{summary['create']}/{summary['delete']}",
            "80/10/5/5 %", counts_ok),
        Row(name, "build plan", f"{s['build']:.3f} s"),
        Row(name, "render JSON", f"{s['json']:.3f} s"),
        Row(name, "render text", f"{s['text']:.3f} s"),
        Row(name, "total (median of 3)", f"{s['total']:.3f} s", f"< {CPU_TARGET_SECONDS:g} s",
            s["total"] < CPU_TARGET_SECONDS),
        Row(name, "stores per second", f"{cpu['stores_per_second']:,.0f}"),
        Row(name, "peak memory (tracemalloc, incl. inputs)", f"{memory['peak_mb']:.0f} MB",
            f"< {MEMORY_TARGET_MB:g} MB", memory["peak_mb"] < MEMORY_TARGET_MB),
        Row(name, "process max RSS after the timed passes (info)", f"{cpu['maxrss_mb']:.0f} MB"),
    ]  # fmt: skip


def _rows_latency(result: dict[str, Any], default: int) -> list[Row]:
    runs, name = result["runs"], f"latency {result['stores']:,} @{result['latency_ms']}ms"
    seq = runs["1"]
    rows = [
        Row(name, f"{op} --parallelism 1", f"{seq[op]['seconds']:.2f} s")
        for op in ("apply", "plan")
    ]
    for key, run in runs.items():
        if key == "1":
            continue
        is_default = int(key) == default  # the target is for the default; others inform
        label = f"{key} (default)" if is_default else f"{key} (info)"
        for op in ("apply", "plan"):
            speedup = seq[op]["seconds"] / run[op]["seconds"]
            run[op]["speedup"] = speedup
            target = f">= {SPEEDUP_TARGET:g}x" if is_default else ""
            passed = speedup >= SPEEDUP_TARGET if is_default else None
            value = f"{run[op]['seconds']:.2f} s = {speedup:.1f}x"
            rows.append(Row(name, f"{op} --parallelism {label}", value, target, passed))
    return rows


def _rows_rate(result: dict[str, Any]) -> list[Row]:
    name = f"rate {result['stores']} @{result['route_limit']}/{result['window_seconds']:g}s"
    rows = []
    for mode, target in (("paced", True), ("reactive", False)):
        r = result[mode]
        label = "paced CLI" if mode == "paced" else "reactive (compare)"
        share, limited = r["share_of_limit"], r["share_429"]
        rows += [
            Row(name, f"{label}: apply", f"{r['seconds']:.2f} s, {r['requests']} requests"),
            Row(name, f"{label}: POST rate / limit",
                f"{r['achieved_post_rps']:.1f}/s = {share:.0%}",
                f">= {RATE_SHARE_TARGET:.0%}" if target else "",
                share >= RATE_SHARE_TARGET if target else None),
            Row(name, f"{label}: 429s", f"{r['rate_limited_429']} = {limited:.1%}",
                f"< {SHARE_429_TARGET:.0%}" if target else "",
                limited < SHARE_429_TARGET if target else None),
        ]  # fmt: skip
    return rows


def _rows_growth(result: dict[str, Any]) -> list[Row]:
    rows = [
        Row("growth", f"build+JSON at {p['stores']:,}",
            f"{p['us_per_store']:.1f} us/store ({p['us_per_store_gc_paused']:.1f} gc paused)")
        for p in result["points"]
    ]  # fmt: skip
    ratio, paused = result["ratio_per_store"], result["ratio_per_store_gc_paused"]
    first, last = result["points"][0]["stores"], result["points"][-1]["stores"]
    rows.append(Row("growth", f"per-store time {last:,} / {first:,}", f"{ratio:.2f}",
                    f"<= {GROWTH_TARGET:g} (linear)", ratio <= GROWTH_TARGET))  # fmt: skip
    rows.append(Row("growth", "same, gc paused (info)", f"{paused:.2f}"))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    header = Row("scenario", "metric", "value", "target")
    cells = [(r.scenario, r.metric, r.value, r.target, r.result) for r in (header, *rows)]
    cells[0] = (*cells[0][:4], "result")
    widths = [max(len(c[i]) for c in cells) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) for cell in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()),
    }


class _Session:
    """One benchmark run: the scenarios chosen, their results and the table rows."""

    def __init__(self, quick: bool, chosen: set[str]) -> None:
        self.quick, self.chosen = quick, chosen
        self.default = int(build_parser().parse_args(["plan", "."]).parallelism)
        self.results: dict[str, Any] = {
            "machine": _machine(),
            "quick": quick,
            "default_parallelism": self.default,
            "gc_thresholds": list(gc.get_threshold()),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.rows: list[Row] = []
        self.e2e_table = ""

    def step(self, name: str, run: Callable[[], list[Row]]) -> None:
        if name not in self.chosen:
            return
        print(f"bench: {name}...", file=sys.stderr, flush=True)
        began = time.perf_counter()
        try:
            self.rows.extend(run())
        except Exception as error:  # a benchmark reports a broken scenario and goes on
            self.results[name] = {"error": f"{type(error).__name__}: {error}"}
            self.rows.append(Row(name, "error", f"{type(error).__name__}: {error}"[:80], "", False))
        print(f"bench: {name} took {time.perf_counter() - began:.1f} s", file=sys.stderr)

    def cpu(self) -> list[Row]:
        size = 2_000 if self.quick else 10_000
        self.results["cpu"] = cpu_scenario(size)
        self.results["memory"] = memory_scenario(size)
        return _rows_cpu(self.results["cpu"], self.results["memory"])

    def latency(self) -> list[Row]:
        from benchmarks import bench_http  # imports httpx and the emulator only when needed

        parallelisms = sorted({1, 8, 16, 32, self.default})
        with bench_http.temp_workdir() as tmp:
            result = bench_http.latency_scenario(
                Path(tmp), stores=100 if self.quick else 1_000, latency_ms=30,
                parallelisms=parallelisms,
            )  # fmt: skip
        result["contract_cost"] = bench_http.contract_cost(20 if self.quick else 60)
        self.results["latency"] = result
        rows = _rows_latency(result, self.default)
        for key in ("unvalidated", "validated"):
            cost = result["contract_cost"][key]
            rows.append(Row("emulator", f"per request, contract {key} (info)",
                            f"POST {cost['post_ms']:.1f} ms, list {cost['list_ms_per_store']:.1f}"
                            " ms/store"))  # fmt: skip
        return rows

    def rate(self) -> list[Row]:
        from benchmarks import bench_http

        with bench_http.temp_workdir() as tmp:
            self.results["rate"] = bench_http.rate_scenario(
                Path(tmp), stores=120 if self.quick else 600, route_limit=50, window=1.0,
                parallelism=self.default,
            )  # fmt: skip
        return _rows_rate(self.results["rate"])

    def e2e(self) -> list[Row]:
        from benchmarks import bench_e2e, bench_http, report_e2e

        sizes, repeats = ((200, 1_000), (1, 1)) if self.quick else ((1_000, 10_000), (3, 1))
        with bench_http.temp_workdir() as tmp:
            self.results["e2e"] = bench_e2e.e2e_scenario(Path(tmp), sizes, repeats)
        self.e2e_table = report_e2e.e2e_table(self.results["e2e"])
        return [Row("e2e", *row) for row in report_e2e.e2e_targets(self.results["e2e"])]

    def share(self) -> list[Row]:
        from benchmarks import bench_http, bench_share, report_e2e

        stores = 60 if self.quick else 100
        runs = []
        with bench_http.temp_workdir() as tmp:
            for processes in (1, 2):
                runs.append(bench_share.run(
                    Path(tmp) / str(processes), processes=processes, stores=stores, limit=20,
                    window=1.0,
                ))  # fmt: skip
        self.results["share"] = runs
        return [Row("share", *row) for row in report_e2e.share_targets(runs)]

    def growth(self) -> list[Row]:
        sizes = (200, 1_000, 2_000) if self.quick else (1_000, 5_000, 10_000)
        self.results["growth"] = growth_scenario(sizes)
        return _rows_growth(self.results["growth"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, to check the plumbing")
    parser.add_argument("--only", action="append", choices=SCENARIOS,
                        help="run only this scenario (repeatable)")  # fmt: skip
    parser.add_argument(
        "--out", default=RESULTS_FILE, help=f"results file (default {RESULTS_FILE})"
    )
    args = parser.parse_args(argv)
    tune_gc_for_batch()
    session = _Session(args.quick, set(args.only or SCENARIOS))
    started = time.perf_counter()
    for name in SCENARIOS:
        session.step(name, getattr(session, name))
    results, rows = session.results, session.rows
    results["duration_seconds"] = time.perf_counter() - started
    results["rows"] = [asdict(r) | {"result": r.result} for r in rows]
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", "utf-8")
    if session.e2e_table:
        print("End to end: reconciler processes (CPU = the child's user + system time)\n")
        print(session.e2e_table + "\n")
    print(format_table(rows))
    missed = [r for r in rows if r.passed is False]
    print(f"\n{len(rows) - len(missed)} of {len(rows)} rows ok; results in {args.out}", end="")
    print(f" ({results['duration_seconds']:.0f} s).")
    if missed:
        print("MISSED: " + "; ".join(f"{r.scenario} {r.metric} ({r.value})" for r in missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
