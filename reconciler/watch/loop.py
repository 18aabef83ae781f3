"""The watch loop: run a cycle every interval, back off after errors, stop on request.

``run_loop`` calls a cycle function, records the outcome in ``Readiness`` and waits on a
``threading.Event`` (never a bare sleep) until the next cycle is due, so a stop request (the
command sets the event on SIGTERM or SIGINT) ends the wait at once and the loop exits after the
cycle in progress. Cycles start every ``interval`` seconds; after a failed cycle the next one
comes after an exponential backoff (1 s, 2 s, 4 s, ... capped at the interval), so a short
outage is noticed as soon as it ends while a long one is not hammered. No error ends the loop.
``Readiness`` answers ``/readyz``: ready while the last cycle succeeded and ended within two
intervals. Parsing of ``--interval`` and ``--listen`` values lives here too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.api.redact import describe
from reconciler.errors import UsageError

ERROR_BASE_DELAY = 1.0
"""Seconds before the first retry after a failed cycle; doubles per failure, capped."""
READY_INTERVALS = 2

log = logging.getLogger("reconciler.watch")

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_interval(text: str) -> float:
    """``5m``, ``30s``, ``1h``, ``500ms`` or plain seconds, at least 0.1 s."""
    match = _DURATION.match(text)
    if match is None:
        raise UsageError(f"--interval: not a duration: {text!r} (e.g. 30s, 5m, 1h)")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds < 0.1:
        raise UsageError(f"--interval: {text!r} is too short (at least 100ms)")
    return seconds


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6); port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--listen takes HOST:PORT (e.g. 127.0.0.1:9464), not {text!r}")
    return host, int(port)


def error_delay(failures: int, interval: float) -> float:
    """The wait after ``failures`` failed cycles in a row (1-based)."""
    return min(interval, ERROR_BASE_DELAY * 2.0 ** min(failures - 1, 30))


class Readiness:
    """The outcome of the last cycle, shared with the HTTP server's thread."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ok: bool | None = None
        self._last_success: float | None = None
        self._last_error = ""

    def succeeded(self) -> None:
        with self._lock:
            self._last_ok, self._last_success = True, self._clock()

    def failed(self, error: str) -> None:
        with self._lock:
            self._last_ok, self._last_error = False, error

    def ready(self) -> tuple[bool, str]:
        """Whether the last cycle succeeded within ``READY_INTERVALS`` intervals, and why."""
        with self._lock:
            if self._last_ok is False:
                return False, f"the last cycle failed: {self._last_error}"
            if self._last_ok is None or self._last_success is None:
                return False, "no cycle has finished yet"
            age = self._clock() - self._last_success
            if age > READY_INTERVALS * self.interval:
                return False, f"the last successful cycle ended {age:.0f}s ago"
            return True, "the last cycle succeeded"


@dataclass(frozen=True, slots=True)
class LoopResult:
    cycles: int
    last_ok: bool


def run_loop(
    cycle: Callable[[], None],
    *,
    interval: float,
    stop: threading.Event,
    readiness: Readiness,
    on_done: Callable[[float, bool], None] | None = None,
    max_cycles: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    redact: Callable[[str], str] = lambda text: text,
) -> LoopResult:
    """Run ``cycle`` until ``stop`` is set (or ``max_cycles`` ran). ``on_done(duration, ok)``
    hears of every cycle; failures are logged (through ``redact``) and never propagate."""
    cycles, failures, ok = 0, 0, False
    while not stop.is_set():
        started = clock()
        try:
            cycle()
        except Exception as error:  # no error may end the loop
            failures += 1
            ok, delay = False, error_delay(failures, interval)
            message = redact(str(error) or describe(error))
            readiness.failed(message)
            log.error(
                "cycle failed: %s", message,
                extra={"data": {"event": "cycle_failed", "retry_in_s": delay}},
            )  # fmt: skip
        else:
            failures, ok = 0, True
            readiness.succeeded()
            delay = max(0.0, interval - (clock() - started))
        cycles += 1
        if on_done is not None:
            on_done(clock() - started, ok)
        if max_cycles is not None and cycles >= max_cycles:
            break
        stop.wait(delay)
    return LoopResult(cycles, ok)
