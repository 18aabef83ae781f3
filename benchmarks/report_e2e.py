"""The end-to-end table of ``make bench`` and its targets, from the results of ``bench_e2e`` and
``bench_share``. Every target is a ratio of two figures measured in the same run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PLAN_FLOOR_TARGET = 1.5
VALIDATE_FLOOR_TARGET = 2.0
HELP_TARGET = 5.0
SMALL_VALIDATE_TARGET = 8.0
GROWTH_TARGET = 1.5
ONE_PROCESS_SHARE = 0.97
ONE_PROCESS_429 = 0.01
TWO_PROCESS_SHARE = 0.85
TWO_PROCESS_429 = 0.05

FLOORS = {"validate": "floor-parse", "plan": "floor", "plan-json": "floor", "drift": "floor"}
LABELS = {
    "apply": "apply (creates every store)",
    "plan": "plan (text)",
    "plan-json": "plan --format json",
    "drift": "drift",
    "validate": "validate",
}


def e2e_table(result: dict[str, Any]) -> str:
    """Command, stores, wall and CPU of the child, the floor's CPU beside it, and the ratio."""
    header = ("command", "stores", "wall", "CPU", "floor CPU", "CPU / floor")
    lines: list[tuple[str, ...]] = [header]
    for size, figures in result["sizes"].items():
        for command, label in LABELS.items():
            run = figures[command]
            floor = figures.get(FLOORS.get(command, ""), {}).get("cpu")
            lines.append((
                label, f"{int(size):,}", f"{run['wall']:.2f} s", f"{run['cpu']:.2f} s",
                f"{floor:.2f} s" if floor else "-",
                f"{run['cpu'] / floor:.2f}x" if floor else "-",
            ))  # fmt: skip
        for key, label in (
            ("floor-parse", "floor: libyaml parse"),
            ("floor", "floor: parse+fetch"),
        ):
            run = figures[key]
            lines.append((label, f"{int(size):,}", f"{run['wall']:.2f} s", f"{run['cpu']:.2f} s",
                          "", ""))  # fmt: skip
    start = result["startup"]
    base = start["python"]["cpu"]
    for key, label in (("python", "python -c pass"), ("help", "reconciler --help"),
                       ("validate_small", "validate (one small file)")):  # fmt: skip
        run = start[key]
        ratio = f"{run['cpu'] / base:.1f}x pass" if key != "python" else ""
        lines.append((label, "-", f"{run['wall'] * 1000:.0f} ms", f"{run['cpu'] * 1000:.0f} ms",
                       f"{base * 1000:.0f} ms" if ratio else "", ratio))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
           for line in lines]  # fmt: skip
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def e2e_targets(result: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(metric, value, target, met) for every end-to-end target."""
    sizes = sorted(result["sizes"], key=int)
    small, large = result["sizes"][sizes[0]], result["sizes"][sizes[-1]]
    n_small, n_large = int(sizes[0]), int(sizes[-1])
    plan_ratio = large["plan"]["cpu"] / large["floor"]["cpu"]
    validate_ratio = large["validate"]["cpu"] / large["floor-parse"]["cpu"]
    start = result["startup"]
    help_ratio = start["help"]["cpu"] / start["python"]["cpu"]
    small_ratio = start["validate_small"]["cpu"] / start["python"]["cpu"]
    growth = (large["plan"]["cpu"] / n_large) / (small["plan"]["cpu"] / n_small)
    rows = [
        (f"plan CPU / floor at {n_large:,}", plan_ratio, PLAN_FLOOR_TARGET),
        (f"validate CPU / libyaml parse at {n_large:,}", validate_ratio, VALIDATE_FLOOR_TARGET),
        ("--help CPU / python -c pass", help_ratio, HELP_TARGET),
        ("small validate CPU / python -c pass", small_ratio, SMALL_VALIDATE_TARGET),
        (f"plan CPU per store, {n_large:,} / {n_small:,}", growth, GROWTH_TARGET),
    ]
    return [(m, f"{v:.2f}", f"<= {t:g}", v <= t) for m, v, t in rows]


def share_targets(runs: Sequence[dict[str, Any]]) -> list[tuple[str, str, str, bool]]:
    """Rate-limit use and 429s of one process, and of two at once."""
    out = []
    for run in runs:
        one = run["processes"] == 1
        share_t, limited_t = (
            (ONE_PROCESS_SHARE, ONE_PROCESS_429) if one else (TWO_PROCESS_SHARE, TWO_PROCESS_429)
        )
        who = "one process" if one else f"{run['processes']} processes at once"
        limit = f"{run['limit']}/{run['window']:g}s"
        out.append((f"{who}: reads / limit {limit}", f"{run['share_of_limit']:.0%}",
                    f">= {share_t:.0%}", run["share_of_limit"] >= share_t))  # fmt: skip
        out.append((f"{who}: 429s of all requests", f"{run['share_429']:.1%}"
                    f" ({run['rate_limited_429']})", f"< {limited_t:.0%}",
                    run["share_429"] < limited_t))  # fmt: skip
    return out
