"""Unit tests of the watch loop: intervals, backoff, readiness, and errors that never kill it."""

from __future__ import annotations

import logging
import threading

import pytest

from reconciler.errors import TransportError, UsageError
from reconciler.watch.loop import (
    Readiness,
    error_delay,
    parse_interval,
    parse_listen,
    run_loop,
)


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("30s", 30), ("1h", 3600), ("250ms", 0.25), ("2", 2)]
)
def test_intervals_take_a_unit(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "5 minutes", "-1s", "50ms", "1d"])
def test_bad_intervals_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="--interval"):
        parse_interval(text)


def test_listen_addresses_are_host_and_port_ipv6_in_brackets() -> None:
    assert parse_listen("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("9464", ":9464", "host:", "host:99999", "host:http"):
        with pytest.raises(UsageError, match="--listen"):
            parse_listen(bad)


def test_errors_back_off_exponentially_up_to_the_interval() -> None:
    assert [error_delay(n, 10.0) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert error_delay(1000, 300.0) == 300
    assert error_delay(1, 0.5) == 0.5


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_readiness_needs_a_recent_success_and_no_failure_since() -> None:
    clock = Clock()
    readiness = Readiness(10.0, clock=clock)
    assert readiness.ready() == (False, "no cycle has finished yet")
    readiness.succeeded()
    assert readiness.ready()[0]
    clock.now += 20.0
    assert readiness.ready()[0]
    clock.now += 0.5
    ok, why = readiness.ready()
    assert not ok and "20s ago" in why
    readiness.succeeded()
    readiness.failed("could not reach LaunchDarkly")
    assert readiness.ready() == (False, "the last cycle failed: could not reach LaunchDarkly")


def test_no_error_ends_the_loop_and_a_success_restores_readiness() -> None:
    stop, readiness = threading.Event(), Readiness(0.01)
    outcomes: list[bool] = []
    errors: list[BaseException] = [TransportError("down"), RuntimeError("a bug"), KeyError("x")]

    def cycle() -> None:
        if errors:
            raise errors.pop(0)
        stop.set()

    def done(duration: float, ok: bool) -> None:
        outcomes.append(ok)
        assert readiness.ready()[0] is ok

    result = run_loop(cycle, interval=0.01, stop=stop, readiness=readiness, on_done=done)
    assert outcomes == [False, False, False, True]
    assert result.cycles == 4 and result.last_ok


def test_max_cycles_ends_the_loop_and_reports_the_last_result() -> None:
    calls: list[int] = []

    def cycle() -> None:
        calls.append(1)
        raise TransportError("down")

    stop = threading.Event()
    result = run_loop(cycle, interval=0.01, stop=stop, readiness=Readiness(0.01), max_cycles=2)
    assert (result.cycles, result.last_ok, len(calls)) == (2, False, 2)


def test_a_stop_request_ends_the_wait_between_cycles() -> None:
    stop, started = threading.Event(), threading.Event()

    def cycle() -> None:
        started.set()

    thread = threading.Thread(
        target=run_loop,
        args=(cycle,),
        kwargs={"interval": 3600.0, "stop": stop, "readiness": Readiness(3600.0)},
    )
    thread.start()
    assert started.wait(timeout=30)
    stop.set()
    thread.join(timeout=30)  # an hour's interval: only the event can end it
    assert not thread.is_alive()


def test_failure_messages_are_logged_through_the_redactor() -> None:
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("reconciler.watch")
    handler = Keep()
    logger.addHandler(handler)
    try:

        def cycle() -> None:
            raise TransportError("failed with hunter2-secret inside")

        run_loop(
            cycle, interval=0.01, stop=threading.Event(), readiness=Readiness(0.01),
            max_cycles=1, redact=lambda text: text.replace("hunter2-secret", "(redacted)"),
        )  # fmt: skip
    finally:
        logger.removeHandler(handler)
    (record,) = [r for r in records if r.levelno == logging.ERROR]
    assert "hunter2" not in record.getMessage() and "(redacted)" in record.getMessage()
