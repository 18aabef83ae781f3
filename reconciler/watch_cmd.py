"""The ``watch`` command and ``drift --metrics-file``: wiring, one cycle, auto-apply.

Each cycle does what ``drift`` and ``apply`` do, with the same code: load the manifests
(``load_manifests``), read the live state (``read_live``), plan (``build_plan``), and with
``--auto-apply`` execute (``apply.execute``, same journal, pacing and retries) the creates and
updates, plus deletes only with ``--allow-delete``, once the plan passes ``check_safety``
(threshold unless ``--force``; protected stores never). A refused plan is logged and left for
a human; the drift gauges keep showing it. Metrics come from ``reconciler.metrics`` (the
``reconciler[watch]`` extra); the loop, backoff and readiness from ``reconciler.watch``; the
endpoints from ``reconciler.watch_http``. SIGTERM and SIGINT set the stop event: the cycle in
progress finishes (its retry waits are cut short) and the command exits 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from reconciler.apply import Outcome, execute
from reconciler.client import Client, RetryPolicy, settings_from_env
from reconciler.commands import DEFAULT_JOURNAL, IO, JOURNAL_VAR
from reconciler.errors import EXIT_ERROR, EXIT_OK, UnsafePlanError
from reconciler.journal import Journal
from reconciler.logformat import RedactingFormatter, Redactor
from reconciler.manifest import LoadResult, load_manifests
from reconciler.model import Address, LiveStore, Secret
from reconciler.plan import Plan, build_plan
from reconciler.refresh import read_live
from reconciler.safety import check_safety
from reconciler.watch import (
    Readiness,
    parse_interval,
    parse_listen,
    require_metrics,
    run_loop,
)

if TYPE_CHECKING:
    from reconciler.metrics import Metrics

log = logging.getLogger("reconciler.watch")


def manifest_secrets(loaded: LoadResult) -> list[str]:
    """Every secret value the manifests resolved (to keep out of log lines)."""
    return [
        v.value for s in loaded.state.stores for v in s.config.values() if isinstance(v, Secret)
    ]


def new_metrics() -> Metrics:
    require_metrics()
    from reconciler.metrics import Metrics

    return Metrics()


def write_drift_metrics(path: str, plan: Plan, *, duration: float) -> None:
    """``drift --metrics-file``: the store gauges of ``plan`` for node_exporter, atomically."""
    metrics = new_metrics()
    metrics.record_plan(plan)
    metrics.record_run(duration=duration, ok=True, finished_at=time.time())
    metrics.write_textfile(path)


class _Watcher:
    """One cycle's work, with what lasts between cycles (client, metrics, warnings seen)."""

    def __init__(
        self, args: argparse.Namespace, io: IO, client: Client, metrics: Metrics, redactor: Redactor
    ) -> None:
        self.args, self.io, self.client, self.metrics = args, io, client, metrics
        self.redactor = redactor
        self.token = settings_from_env(io.env, api_host=args.api_host).token
        self.warned: set[str] = set()

    def cycle(self) -> None:
        loaded = load_manifests(self.args.paths, env=self.io.env)
        self.redactor.update([self.token, *manifest_secrets(loaded)])
        for warning in loaded.warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                log.warning("%s", warning, extra={"data": {"event": "manifest_warning"}})
        live = read_live(self.client, loaded.state.projects, parallelism=self.args.parallelism)
        plan = build_plan(loaded.state, live, owner_tag=self.args.owner_tag)
        self.metrics.record_plan(plan)
        repaired = self._auto_apply(plan, live) if self.args.auto_apply else set()
        if repaired:
            self.metrics.record_plan(plan, repaired)
        drifted = sorted(str(c.address) for c in plan.changes if c.is_change)
        log.info(
            "cycle done: %d store(s), %d drifted, %d repaired, %d unmanaged",
            len(plan.changes), len(drifted), len(repaired), len(plan.unmanaged),
            extra={"data": {"event": "cycle_done", "stores": len(plan.changes),
                            "drifted": drifted, "repaired": sorted(map(str, repaired)),
                            "unmanaged": len(plan.unmanaged)}},
        )  # fmt: skip

    def _auto_apply(self, plan: Plan, live: list[LiveStore]) -> set[Address]:
        args = self.args
        allowed = tuple(c for c in plan.changes if c.action != "delete" or args.allow_delete)
        subset = dataclasses.replace(plan, changes=allowed)
        if not subset.has_changes:
            return set()
        try:
            check_safety(subset, allow_delete=args.allow_delete, force=args.force)
        except UnsafePlanError as error:
            log.warning("auto-apply skipped: %s", error, extra={"data": {"event": "refused"}})
            return set()
        repaired: set[Address] = set()

        def done(outcome: Outcome) -> None:
            self.metrics.record_applied(outcome.change.action)
            repaired.add(outcome.change.address)
            log.info(
                "%s: %s done", outcome.change.address, outcome.change.action,
                extra={"data": {"event": "applied", "address": str(outcome.change.address),
                                "action": outcome.change.action}},
            )  # fmt: skip

        path = args.journal or self.io.env.get(JOURNAL_VAR) or DEFAULT_JOURNAL
        journal = Journal(None if args.no_journal else path)
        try:
            execute(subset, self.client, parallelism=args.parallelism, on_outcome=done,
                    live=live, journal=journal)  # fmt: skip
        finally:
            journal.close()
        return repaired


def watch(args: argparse.Namespace, io: IO) -> int:
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
        connections=args.parallelism, observer=metrics.observe_response, sleep=_waiter(stop),
    )  # fmt: skip
    watcher = _Watcher(args, io, client, metrics, redactor)
    from reconciler.watch_http import StatusServer

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
