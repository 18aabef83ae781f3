"""Prometheus metrics of ``watch`` and of ``drift --metrics-file``, in their own registry.

``Metrics`` owns a dedicated ``CollectorRegistry`` (never the process-global one) holding the
per-store gauges ``reconciler_store_drift`` and ``reconciler_store_healthy`` (labelled
``project``, ``environment``, ``integration_key`` and ``name``: one environment may hold
several stores of one kind, and a label set must be the same for every series), the
account-level gauges and counters, and the run-duration histogram. ``record_plan`` turns a
``Plan`` into store samples (``store_samples``, pure) and removes the series of stores that
left the plan, so a deleted or undeclared store stops being reported. ``observe_response`` is
the ``ResponseObserver`` the API client calls after every attempt: it counts requests by route
(method + URL pattern) and status and keeps the rate-limit budget LaunchDarkly reports. This is
the only module that imports ``prometheus_client`` (the ``reconciler[watch]`` extra).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    write_to_textfile,
)

from reconciler.errors import ConfigError
from reconciler.model import NO_STATUS, Address
from reconciler.plan.changes import Change, Plan
from reconciler.render.status import is_healthy

STORE_LABELS = ("project", "environment", "integration_key", "name")
ROUTE_REMAINING = "x-ratelimit-route-remaining"
GLOBAL_REMAINING = "x-ratelimit-global-remaining"
GLOBAL_ROUTE = "global"
"""The ``route`` label of the account-wide rate-limit budget."""
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

StoreLabels = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class StoreSample:
    """What one cycle found about one store: ``healthy`` is ``None`` when there is nothing to
    judge (not created yet, or LaunchDarkly reported no status)."""

    labels: StoreLabels
    drift: bool
    healthy: bool | None


def store_samples(plan: Plan, repaired: Collection[Address] = ()) -> list[StoreSample]:
    """One sample per store the plan manages (declared, or owned and about to be deleted).
    A store in ``repaired`` was fixed by this cycle's auto-apply, so it no longer drifts. A
    store that is off is healthy: LaunchDarkly does not synchronise it, and that is no fault."""
    samples = []
    for change in plan.changes:
        healthy: bool | None = None
        live = change.live
        if live is not None and not live.on:
            healthy = True
        elif live is not None and live.status != NO_STATUS:
            healthy = is_healthy(live.status)
        drift = change.is_change and change.address not in repaired
        samples.append(StoreSample(_labels(change), drift, healthy))
    return samples


def _labels(change: Change) -> StoreLabels:
    name = (
        change.desired.name
        if change.desired is not None
        else change.live.name
        if change.live is not None
        else change.address.name or ""
    )
    project, environment, key = change.address.slot
    return (project, environment, key, name)


class Metrics:
    """Every metric reconciler exports, in one registry."""

    def __init__(self) -> None:
        # No ``*_created`` series: noise in dashboards and textfiles (the function is untyped).
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = CollectorRegistry()
        reg = self.registry
        self.drift = Gauge(
            "reconciler_store_drift", "1 when the store differs from its manifest",
            STORE_LABELS, registry=reg,
        )  # fmt: skip
        self.healthy = Gauge(
            "reconciler_store_healthy", "1 when LaunchDarkly reports the store available",
            STORE_LABELS, registry=reg,
        )  # fmt: skip
        self.unmanaged = Gauge(
            "reconciler_unmanaged_stores", "Live stores in scope that no manifest declares",
            registry=reg,
        )  # fmt: skip
        self.last_success = Gauge(
            "reconciler_last_run_success_timestamp_seconds",
            "Unix time at which the last successful run ended", registry=reg,
        )  # fmt: skip
        self.duration = Histogram(
            "reconciler_run_duration_seconds", "Duration of a run (read, plan, apply)",
            buckets=DURATION_BUCKETS, registry=reg,
        )  # fmt: skip
        self.runs = Counter(
            "reconciler_runs", "Runs by result (success or error)", ("result",), registry=reg
        )
        self.requests = Counter(
            "reconciler_api_requests", "LaunchDarkly API requests (attempts) by route and status",
            ("route", "code"), registry=reg,
        )  # fmt: skip
        self.rate_limit = Gauge(
            "reconciler_rate_limit_remaining",
            "Requests left in LaunchDarkly's current rate-limit window, per route"
            f" (route={GLOBAL_ROUTE!r}: account-wide)", ("route",), registry=reg,
        )  # fmt: skip
        self.applied = Counter(
            "reconciler_applied_changes", "Changes auto-apply made, by action", ("action",),
            registry=reg,
        )  # fmt: skip
        self._lock = threading.Lock()
        self._stores: set[StoreLabels] = set()

    def record_plan(self, plan: Plan, repaired: Collection[Address] = ()) -> None:
        """Set the store gauges from ``plan``; drop the series of stores no longer in it."""
        samples = store_samples(plan, repaired)
        with self._lock:
            seen = {s.labels for s in samples}
            for gone in self._stores - seen:
                self.drift.remove(*gone)
                self._remove_healthy(gone)
            for sample in samples:
                self.drift.labels(*sample.labels).set(1 if sample.drift else 0)
                if sample.healthy is None:
                    self._remove_healthy(sample.labels)
                else:
                    self.healthy.labels(*sample.labels).set(1 if sample.healthy else 0)
            self._stores = seen
            self.unmanaged.set(len(plan.unmanaged))

    def _remove_healthy(self, labels: StoreLabels) -> None:
        with contextlib.suppress(KeyError):  # it never had a status
            self.healthy.remove(*labels)

    def record_run(self, *, duration: float, ok: bool, finished_at: float) -> None:
        """One run ended after ``duration`` seconds; ``finished_at`` is Unix time."""
        self.duration.observe(duration)
        self.runs.labels("success" if ok else "error").inc()
        if ok:
            self.last_success.set(finished_at)

    def record_applied(self, action: str) -> None:
        self.applied.labels(action).inc()

    def observe_response(self, route: str, code: str, headers: Mapping[str, str] | None) -> None:
        """The API client's observer: count the attempt, keep the rate-limit budgets."""
        self.requests.labels(route, code).inc()
        if headers is None:
            return
        for header, label in ((ROUTE_REMAINING, route), (GLOBAL_REMAINING, GLOBAL_ROUTE)):
            value = headers.get(header)
            if value is not None and value.strip().isdigit():
                self.rate_limit.labels(label).set(int(value))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    def write_textfile(self, path: str) -> None:
        """Write the registry for node_exporter's textfile collector, atomically (a temporary
        file in the same directory, then a rename)."""
        try:
            write_to_textfile(path, self.registry)
        except OSError as error:
            raise ConfigError(f"cannot write {path}: {error.strerror}") from None
