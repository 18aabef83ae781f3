"""Progress for long refreshes and applies, on stderr only.

On a terminal, one line redrawn in place (``refresh  340/1000 [=====>     ] 34%``), at most ten
times a second; elsewhere (CI logs), a plain line at every tenth of the work. Runs that touch
only a handful of stores print nothing. ``Progress`` is safe to advance from several threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

MIN_TOTAL = 20


class Progress:
    """Counts finished items of one phase and reports them to ``stream``."""

    def __init__(
        self,
        label: str,
        total: int,
        stream: TextIO | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self._stream = stream if total >= MIN_TOTAL else None
        isatty = getattr(stream, "isatty", None)
        self._tty = bool(isatty and isatty())
        self._clock = clock
        self._last_draw = -1.0
        self._last_tenth = 0
        self._quiet_until = -(-total // 10)  # off a terminal, nothing to say before a tenth
        self._lock = threading.Lock()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self.done += count
            if self._stream is None or (not self._tty and self.done < self._quiet_until):
                return
            if self._tty:
                now = self._clock()
                if now - self._last_draw >= 0.1 or self.done >= self.total:
                    self._last_draw = now
                    self._stream.write("\r" + self._bar())
                    if self.done >= self.total:
                        self._stream.write("\n")
                    self._stream.flush()
            else:
                tenth = self.done * 10 // self.total
                self._quiet_until = -(-(tenth + 1) * self.total // 10)  # the next tenth
                if tenth > self._last_tenth:
                    self._last_tenth = tenth
                    self._stream.write(f"{self.label}: {self.done}/{self.total} stores\n")
                    self._stream.flush()

    def _bar(self, width: int = 30) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = int(share * width)
        bar = "=" * filled + (">" if filled < width else "") + " " * (width - filled - 1)
        return f"{self.label} {self.done:>{len(str(self.total))}}/{self.total} [{bar}] {share:4.0%}"
