"""The emulator's data plane: LaunchDarkly's synchronisation into the declared stores, for real.

When enabled (``EmulatorServer(..., dataplane=True)``, ``run(..., dataplane=True)``), every store
that is ``on`` is synchronised: the data plane writes the marker LaunchDarkly's server-side SDKs
read to decide whether big-segment data is current, under the environment's client-side ID
(``EmulatorState.client_side_id``; derived from the project and environment keys unless the seed
sets ``clientSideId``):

- Redis (``dataplane_redis``): ``SET {clientSideId}:big_segments_synchronized_on <Unix ms>`` in
  the Redis the store's ``config`` names;
- DynamoDB (``dataplane_dynamo``), only when a ``dynamodb_endpoint`` is given (a
  DynamoDB-compatible server such as moto's; the emulator never talks to AWS): the item
  ``namespace = key = {clientSideId}:big_segments_metadata`` with ``synchronizedOn`` (ms) in the
  declared table, after checking that the table exists with LaunchDarkly's key schema.

The emulator has no segments, so it writes no membership data. The time written and recorded is
the emulator's clock (``EmulatorState.clock``), so tests with a ``FakeClock`` see exact values
(and can write old markers). Each attempt is recorded per store, and ``_status`` says what
really happened:

- success: ``available: true`` and ``lastSync`` (epoch ms);
- failure: ``available: false``, ``lastError`` and ``errors`` (the last ``MAX_ERRORS`` failures,
  each ``{message, timestamp}``: Redis's own error text, e.g. ``WRONGPASS invalid
  username-password pair or user is disabled.``, or DynamoDB's, e.g. ``table 't' not found in
  us-east-1 (ResourceNotFoundException: Requested resource not found)``; no ``statusCode``);
- ``potentiallyStale: true`` when the last successful sync is older than ``stale_after``
  seconds (the SDKs' default, 120 s), or there has been none (the SDKs treat a missing marker as
  stale); stale is never ``available``.

Stores that are ``off`` are not synchronised and keep the built-in status; so do DynamoDB stores
when there is no ``dynamodb_endpoint`` (the built-in status of an ``on`` DynamoDB store is
``{"available": false, "potentiallyStale": true}``: nothing was ever synced). A ``_status`` set
through the side door still overrides everything. Secrets (Redis passwords, DynamoDB
``externalId``) are never logged and are scrubbed from recorded messages. Safe by default: it
connects only to loopback hosts (``localhost``, ``127.0.0.0/8``, ``::1``, decided without DNS),
for Redis hosts and the DynamoDB endpoint alike; any other host is a sync failure saying so,
unless ``any_host=True`` (``reconciler emulator --dataplane-any-host``).

Tests call ``sync_now()`` (and advance the ``FakeClock``); with a ``sync_interval`` the data plane
also runs in a background thread, syncing every interval and soon after any store change. This
module is an independent implementation of what LaunchDarkly does: it imports nothing from the
product (``reconciler.verify`` reads what it writes).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.dataplane_common import SyncFailure, is_loopback_host
from reconciler.emulator.dataplane_dynamo import (
    DynamoClients,
    dynamo_marker_key,
    write_dynamo_marker,
)
from reconciler.emulator.dataplane_redis import redis_marker_key, write_redis_marker
from reconciler.emulator.state import EmulatorState, Store

__all__ = ["DataPlane", "SyncResult", "is_loopback_host"]

log = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 30.0
"""Seconds between synchronisations in the background thread."""
DEFAULT_STALE_AFTER = 120.0
"""Seconds after the last successful sync at which a store is ``potentiallyStale``: the
server-side SDKs' default ``staleAfter`` (``launchdarkly/go-server-sdk``
``ldcomponents/big_segments_configuration_builder.go``: ``DefaultBigSegmentsStaleAfter``)."""
DEFAULT_TIMEOUT = 2.0
"""Seconds allowed to connect to a store (Redis or the DynamoDB endpoint) and for each call."""
MAX_ERRORS = 5
"""How many recent errors ``_status.errors`` keeps."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The outcome of one synchronisation attempt of one store."""

    store_id: str
    ok: bool
    time_ms: int
    key: str
    message: str | None = None


@dataclass(slots=True)
class _Record:
    last_sync_ms: int | None = None
    last_error_ms: int | None = None
    last_ok: bool = False
    errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_ERRORS))


class DataPlane:
    """Synchronises the ``on`` stores of one ``EmulatorState`` (Redis always, DynamoDB through
    ``dynamodb_endpoint``); installs itself as the state's status provider. Thread-safe."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        sync_interval: float | None = DEFAULT_SYNC_INTERVAL,
        stale_after: float = DEFAULT_STALE_AFTER,
        timeout: float = DEFAULT_TIMEOUT,
        parallelism: int = 8,
        any_host: bool = False,
        dynamodb_endpoint: str | None = None,
    ) -> None:
        if sync_interval is not None and sync_interval <= 0:
            raise ValueError("sync_interval must be positive (or None for no background sync)")
        self.state = state
        self.sync_interval = sync_interval
        self.stale_after = stale_after
        self.timeout = timeout
        self.parallelism = parallelism
        self.any_host = any_host
        self.dynamodb_endpoint = dynamodb_endpoint or None
        self._dynamo_clients = DynamoClients(timeout)
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        state.status_provider = self.status_for
        state.on_store_change = self._store_changed

    # -- synchronising -----------------------------------------------------------------

    def syncable(self, store: Store) -> bool:
        """Whether the data plane writes into this store: an ``on`` Redis store, or an ``on``
        DynamoDB store when there is a DynamoDB endpoint."""
        if not store.on:
            return False
        return store.integration_key == "redis" or (
            store.integration_key == "dynamodb" and self.dynamodb_endpoint is not None
        )

    def sync_now(self) -> list[SyncResult]:
        """Synchronise every syncable store once (concurrently); the results by store id."""
        stores = [s for s in self.state.stores() if self.syncable(s)]
        self._forget_missing()
        if not stores:
            return []
        workers = max(1, min(self.parallelism, len(stores)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ld-dataplane") as pool:
            results = list(pool.map(self._sync, stores))
        return sorted(results, key=lambda r: r.store_id)

    def sync_store(self, store_id: str) -> SyncResult:
        """Synchronise one store now (``ValueError`` unless ``syncable``; ``KeyError`` if
        unknown)."""
        store = self.state.store(store_id)
        if not self.syncable(store):
            raise ValueError(f"store {store_id} is not an 'on' store the data plane syncs")
        return self._sync(store)

    def _write(self, kind: str, config: dict[str, Any], prefix: str, now_ms: int) -> str:
        """Write one marker; the key written (``SyncFailure`` otherwise)."""
        if kind == "dynamodb" and self.dynamodb_endpoint is not None:
            return write_dynamo_marker(
                config,
                prefix,
                now_ms,
                endpoint=self.dynamodb_endpoint,
                clients=self._dynamo_clients,
                any_host=self.any_host,
            )
        return write_redis_marker(
            config, prefix, now_ms, timeout=self.timeout, any_host=self.any_host
        )

    def _sync(self, store: Store) -> SyncResult:
        with self.state.lock:
            config = dict(store.config)
            kind = store.integration_key
            prefix = self.state.client_side_id(store.project, store.environment)
            where = f"{store.project}/{store.environment}/{kind} ({store.id})"
        key = dynamo_marker_key(prefix) if kind == "dynamodb" else redis_marker_key(prefix)
        now_ms = self.state.now_ms()
        message: str | None = None
        try:
            key = self._write(kind, config, prefix, now_ms)
        except SyncFailure as exc:
            message = str(exc)
        with self._lock:
            record = self._records.setdefault(store.id, _Record())
            repeated = bool(record.errors) and record.errors[-1]["message"] == message
            if message is None:
                record.last_sync_ms, record.last_ok = now_ms, True
            else:
                record.last_error_ms, record.last_ok = now_ms, False
                record.errors.append({"message": message, "timestamp": now_ms})
        if message is None:
            log.debug("synchronised %s: %s = %d", where, key, now_ms)
        elif not repeated:  # say each new failure once, not every round
            log.warning("synchronising %s failed: %s", where, message)
        return SyncResult(store.id, message is None, now_ms, key, message)

    def _forget_missing(self) -> None:
        ids = {s.id for s in self.state.stores()}
        with self._lock:
            for gone in set(self._records) - ids:
                del self._records[gone]

    # -- status ------------------------------------------------------------------------

    def status_for(self, store: Store) -> dict[str, Any] | None:
        """``_status`` from what the data plane did (``None`` for stores it does not sync)."""
        if not self.syncable(store):
            return None
        now_ms = self.state.now_ms()
        with self._lock:
            record = self._records.get(store.id)
            if record is None:
                return {"available": False, "potentiallyStale": True}
            last_sync = record.last_sync_ms
            stale = last_sync is None or now_ms - last_sync > self.stale_after * 1000
            status: dict[str, Any] = {
                "available": record.last_ok and not stale,
                "potentiallyStale": stale,
            }
            if last_sync is not None:
                status["lastSync"] = last_sync
            if record.last_error_ms is not None:
                status["lastError"] = record.last_error_ms
            if record.errors:
                status["errors"] = [dict(e) for e in record.errors]
            return status

    def records(self) -> dict[str, dict[str, Any]]:
        """What the data plane recorded, by store id (for inspection)."""
        with self._lock:
            return {
                store_id: {
                    "lastSync": r.last_sync_ms,
                    "lastError": r.last_error_ms,
                    "ok": r.last_ok,
                    "errors": [dict(e) for e in r.errors],
                }
                for store_id, r in self._records.items()
            }

    # -- background thread -------------------------------------------------------------

    def _store_changed(self, store: Store) -> None:
        if self.syncable(store):
            self._wake.set()

    def start(self) -> DataPlane:
        """Sync in a background thread every ``sync_interval`` seconds and soon after a store
        changes (no-op when ``sync_interval`` is ``None`` or already started)."""
        if self.sync_interval is None or self._thread is not None:
            return self
        self._stopping.clear()
        self._wake.set()  # first sync right away
        self._thread = threading.Thread(
            target=self._loop, args=(self.sync_interval,), name="ld-dataplane", daemon=True
        )
        self._thread.start()
        return self

    def _loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            self._wake.wait(interval)
            if self._stopping.is_set():
                break
            self._wake.clear()
            try:
                self.sync_now()
            except Exception:  # keep the data plane alive whatever one round does
                log.exception("data plane round failed")

    def stop(self) -> None:
        """Stop the background thread (idempotent); ``sync_now`` keeps working."""
        if self._thread is not None:
            self._stopping.set()
            self._wake.set()
            self._thread.join(timeout=10)
            self._thread = None
        self._dynamo_clients.close()

    def detach(self) -> None:
        """Stop, and give the state back its built-in status computation."""
        self.stop()
        if self.state.status_provider == self.status_for:
            self.state.status_provider = None
        if self.state.on_store_change == self._store_changed:
            self.state.on_store_change = None
