"""``reconciler watch``: re-plan every interval, serve metrics, optionally repair drift.

Wires the parts of ``reconciler.watch`` together: the metrics (the ``reconciler[watch]``
extra), one API client for the whole run (its response observer feeds the metrics; its retry
waits end early once a stop is requested), the redacting log formatter, the endpoints server
and the loop. SIGTERM and SIGINT set the stop event: the cycle in progress finishes and the
command exits 0. With ``--cycles N`` it stops after N cycles, prints the metrics to stdout and
exits 0 when the last cycle succeeded, else 1.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from reconciler.api.client import Client, RetryPolicy, settings_from_env
from reconciler.api.limits import NetLimits
from reconciler.cli.commands.apply import DEFAULT_JOURNAL, JOURNAL_VAR
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import limits_of
from reconciler.errors import EXIT_ERROR, EXIT_OK
from reconciler.watch.cycle import Options, Watcher
from reconciler.watch.endpoints import StatusServer
from reconciler.watch.extra import new_metrics
from reconciler.watch.logformat import RedactingFormatter, Redactor
from reconciler.watch.loop import Readiness, parse_interval, parse_listen, run_loop

log = logging.getLogger("reconciler.watch")


def main(args: argparse.Namespace, io: IO) -> int:
    interval = parse_interval(args.interval)
    host, port = parse_listen(args.listen)
    metrics = new_metrics()
    settings = settings_from_env(io.env, api_host=args.api_host)
    redactor = Redactor([settings.token])
    _log_to(io, args.log_format, redactor)
    stop = threading.Event()
    readiness = Readiness(interval)
    client = Client(
        settings, retry=RetryPolicy(max_attempts=args.max_attempts),
        connections=args.parallelism, limits=NetLimits(timeout=args.timeout),
        observer=metrics.observe_response, sleep=_waiter(stop),
    )  # fmt: skip
    watcher = Watcher(
        _options(args, io), env=io.env, client=client, metrics=metrics, redactor=redactor,
        token=settings.token,
    )  # fmt: skip
    server = StatusServer(host, port, metrics=metrics.exposition, ready=readiness.ready)
    with client, _stop_on_signals(stop):
        server.start()
        log.info(
            "watching every %gs; metrics on http://%s:%d/metrics", interval, host, server.port,
            extra={"data": {"event": "listening", "host": host, "port": server.port}},
        )  # fmt: skip
        try:
            result = run_loop(
                watcher.cycle, interval=interval, stop=stop, readiness=readiness,
                on_done=lambda d, ok: metrics.record_run(duration=d, ok=ok,
                                                         finished_at=time.time()),
                max_cycles=args.cycles, redact=redactor,
            )  # fmt: skip
        finally:
            server.stop()
    why = "on a signal" if stop.is_set() else "as asked (--cycles)"
    log.info("stopped %s after %d cycle(s)", why, result.cycles,
             extra={"data": {"event": "stopped", "cycles": result.cycles}})  # fmt: skip
    if args.cycles is not None:
        io.stdout.write(metrics.exposition().decode())
        return EXIT_OK if result.last_ok else EXIT_ERROR
    return EXIT_OK


def _options(args: argparse.Namespace, io: IO) -> Options:
    journal = (
        None if args.no_journal else args.journal or io.env.get(JOURNAL_VAR) or DEFAULT_JOURNAL
    )
    return Options(
        paths=tuple(args.paths), owner_tag=args.owner_tag, parallelism=args.parallelism,
        auto_apply=args.auto_apply, allow_delete=args.allow_delete, force=args.force,
        journal=journal, limits=limits_of(args),
    )  # fmt: skip


def _waiter(stop: threading.Event) -> Callable[[float], None]:
    """The client's sleep: a wait that a stop request cuts short, so retries end quickly."""

    def wait(seconds: float) -> None:
        stop.wait(seconds)

    return wait


def _log_to(io: IO, style: str, redactor: Redactor) -> None:
    """Every ``reconciler`` log line through the redacting formatter; watch events at INFO."""
    root = logging.getLogger("reconciler")
    if not root.handlers:
        root.addHandler(logging.StreamHandler(io.stderr))
    for handler in root.handlers:
        handler.setFormatter(RedactingFormatter(style, redactor))
    log.setLevel(min(root.getEffectiveLevel(), logging.INFO))


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()  # nothing else: logging from a signal handler may interleave lines

    previous: dict[int, Callable[..., Any] | int | None] = {
        sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
