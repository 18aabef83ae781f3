"""Progress output: a redrawn line on a terminal, sparse lines elsewhere, nothing when small."""

from __future__ import annotations

import io

from reconciler.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_stream_gets_one_line_per_tenth_of_the_work() -> None:
    stream = io.StringIO()
    bar = Progress("refresh", 100, stream)
    for _ in range(100):
        bar.advance()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "refresh: 10/100 stores" and lines[-1] == "refresh: 100/100 stores"
    assert len(lines) == 10


def test_a_terminal_gets_one_redrawn_line_ending_at_100_percent() -> None:
    stream = Terminal()
    ticks = iter(float(i) for i in range(1000))
    bar = Progress("apply", 40, stream, clock=lambda: next(ticks))
    for _ in range(40):
        bar.advance()
    text = stream.getvalue()
    assert "\n" not in text.rstrip("\n") and text.endswith("100%\n")
    assert text.count("\r") == 40


def test_a_handful_of_stores_prints_nothing() -> None:
    stream = io.StringIO()
    bar = Progress("refresh", 5, stream)
    for _ in range(5):
        bar.advance()
    assert stream.getvalue() == ""
