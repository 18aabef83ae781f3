"""Pacing across processes: ``reconciler plan`` processes under one emulator rate limit.

The emulator runs in its own process with a route limit (``benchmarks.bench_share``); what is
asserted comes from its request log and its fixed windows, never from wall-clock timings. The
margins are generous (the machine is shared); ``make bench`` prints the exact targets.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_share

LIMIT, WINDOW = 20, 1.0


def test_one_process_spends_the_whole_window_without_429s(tmp_path: Path) -> None:
    result = bench_share.run(tmp_path, processes=1, stores=50, limit=LIMIT, window=WINDOW)
    assert result["reads_ok"] == 50
    assert result["rate_limited_429"] <= 1
    assert result["complete_windows"] >= 1
    assert result["share_of_limit"] >= 0.9


def test_two_processes_share_the_limit_with_few_429s(tmp_path: Path) -> None:
    result = bench_share.run(tmp_path, processes=2, stores=50, limit=LIMIT, window=WINDOW)
    assert result["reads_ok"] == 100
    assert result["share_429"] < 0.12  # target < 5%; without sharing it was about 40%
    assert result["complete_windows"] >= 2
    assert result["share_of_limit"] >= 0.7  # target >= 85% between them
