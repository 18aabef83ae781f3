"""Interruptions: turns SIGINT and SIGTERM during ``apply`` into a request to stop.

``Stop`` is what the executor reads: once requested, no new change starts, the ones in flight
get ``grace`` seconds to finish, and the run ends with ``ApplyInterrupted`` (exit 130 or 143).
A second signal aborts: the executor stops waiting for the changes in flight at once.
``catch_signals`` installs the handlers for the duration of a ``with`` block, only on the main
thread (Python delivers signals nowhere else) and restores the previous ones afterwards. The
handler only records the signal; everything else happens on the executor's thread.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from reconciler.errors import EXIT_SIGNAL_BASE

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stop:
    """A stop request: the first signal's number, when it came, and how many came."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._event = threading.Event()
        self.signum: int | None = None
        self.at: float | None = None
        self.count = 0
        self.noticed = False
        """Set by the executor once it has told the user about the request."""

    def request(self, signum: int) -> None:
        self.count += 1
        if self.signum is None:
            self.signum, self.at = signum, self._clock()
            self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    @property
    def aborted(self) -> bool:
        """A second signal: stop waiting for anything."""
        return self.count >= 2

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else "none"

    @property
    def exit_code(self) -> int:
        return EXIT_SIGNAL_BASE + (self.signum or 0)

    def grace_over(self, grace: float) -> bool:
        """Whether the changes in flight have had ``grace`` seconds since the request."""
        return self.at is not None and self._clock() - self.at >= grace


@contextmanager
def catch_signals(stop: Stop) -> Iterator[Stop]:
    """Route SIGINT and SIGTERM to ``stop`` inside the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.request(signum)

    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
