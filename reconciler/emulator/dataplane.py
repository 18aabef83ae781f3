"""The emulator's data plane: LaunchDarkly's synchronisation into Redis stores, for real.

When enabled (``EmulatorServer(..., dataplane=True)``, ``run(..., dataplane=True)``), every Redis
store that is ``on`` is synchronised: the data plane connects to the Redis its ``config`` names
(``host``, ``port``, ``username``, ``password``, ``tlsEnabled`` -> TLS) and writes the marker
LaunchDarkly's server-side SDKs read to decide whether big-segment data is current::

    SET {clientSideId}:big_segments_synchronized_on <Unix ms, decimal string>

The key and value format are those of the SDKs' Redis big segment stores:
``launchdarkly/python-server-sdk`` ``ldclient/impl/integrations/redis/redis_big_segment_store.py``
(``KEY_LAST_UP_TO_DATE = ':big_segments_synchronized_on'``, read with ``int()``) and
``launchdarkly/go-server-sdk-redis-redigo`` ``redis_big_segments_impl.go``
(``bigSegmentsSyncTimeKey``: ``%s:big_segments_synchronized_on``, parsed as Unix ms). The
prefix is the environment's client-side ID (``EmulatorState.client_side_id``; derived from the
project and environment keys unless the seed sets ``clientSideId``). The emulator has no
segments, so it writes no ``{prefix}:big_segment_include:{hash}`` /
``big_segment_exclude`` membership sets.

The time written and recorded is the emulator's clock (``EmulatorState.clock``), so tests with a
``FakeClock`` see exact values. Each attempt is recorded per store, and the store's ``_status``
then says what really happened:

- success: ``available: true`` and ``lastSync`` (epoch ms);
- failure: ``available: false``, ``lastError`` and ``errors`` (the last ``MAX_ERRORS`` failures,
  each ``{message, timestamp}`` with Redis's own error text, e.g. ``WRONGPASS invalid
  username-password pair or user is disabled.`` or ``Error 111 connecting to 127.0.0.1:6390.
  Connection refused.``; no ``statusCode``, as there is no HTTP status);
- ``potentiallyStale: true`` when the last successful sync is older than ``stale_after``
  seconds, or there has been none (the SDKs treat a missing marker as stale); stale is never
  ``available``.

Stores that are ``off`` are not synchronised and keep the built-in status; so do DynamoDB stores
(there is no DynamoDB data plane: LaunchDarkly would assume an IAM role in the user's account).
A ``_status`` set through the side door still overrides everything. Passwords are never logged
and are scrubbed from recorded messages. Safe by default: it connects only to loopback hosts
(``localhost``, ``127.0.0.0/8``, ``::1``, decided without DNS); any other host is a sync failure
saying so, unless ``any_host=True`` (``reconciler emulator --dataplane-any-host``).

Tests call ``sync_now()`` (and advance the ``FakeClock``); with a ``sync_interval`` the data plane
also runs in a background thread, syncing every interval and soon after any store change.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError

from reconciler.emulator.state import EmulatorState, Store
from reconciler.verify.redis_store import RedisTarget, describe_redis_error, redis_marker_key

log = logging.getLogger(__name__)

DEFAULT_SYNC_INTERVAL = 30.0
"""Seconds between synchronisations in the background thread."""
DEFAULT_STALE_AFTER = 120.0
"""Seconds after the last successful sync at which a store is ``potentiallyStale``: the
server-side SDKs' default ``staleAfter`` (``launchdarkly/go-server-sdk``
``ldcomponents/big_segments_configuration_builder.go``: ``DefaultBigSegmentsStaleAfter``)."""
DEFAULT_TIMEOUT = 2.0
"""Seconds allowed to connect to a store's Redis and to each command."""
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


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``, decided without any DNS lookup."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DataPlane:
    """Synchronises the ``on`` Redis stores of one ``EmulatorState``; installs itself as the
    state's status provider. Thread-safe."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        sync_interval: float | None = DEFAULT_SYNC_INTERVAL,
        stale_after: float = DEFAULT_STALE_AFTER,
        timeout: float = DEFAULT_TIMEOUT,
        parallelism: int = 8,
        any_host: bool = False,
    ) -> None:
        if sync_interval is not None and sync_interval <= 0:
            raise ValueError("sync_interval must be positive (or None for no background sync)")
        self.state = state
        self.sync_interval = sync_interval
        self.stale_after = stale_after
        self.timeout = timeout
        self.parallelism = parallelism
        self.any_host = any_host
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        state.status_provider = self.status_for
        state.on_store_change = self._store_changed

    # -- synchronising -----------------------------------------------------------------

    @staticmethod
    def syncable(store: Store) -> bool:
        """Whether the data plane writes into this store: an ``on`` Redis store."""
        return store.on and store.integration_key == "redis"

    def sync_now(self) -> list[SyncResult]:
        """Synchronise every ``on`` Redis store once (concurrently); the results by store id."""
        stores = [s for s in self.state.stores() if self.syncable(s)]
        self._forget_missing()
        if not stores:
            return []
        workers = max(1, min(self.parallelism, len(stores)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ld-dataplane") as pool:
            results = list(pool.map(self._sync, stores))
        return sorted(results, key=lambda r: r.store_id)

    def sync_store(self, store_id: str) -> SyncResult:
        """Synchronise one store now, whatever its kind or state (``ValueError`` unless it is
        an ``on`` Redis store; ``KeyError`` if unknown)."""
        store = self.state.store(store_id)
        if not self.syncable(store):
            raise ValueError(f"store {store_id} is not an 'on' Redis store")
        return self._sync(store)

    def _sync(self, store: Store) -> SyncResult:
        with self.state.lock:
            config = dict(store.config)
            prefix = self.state.client_side_id(store.project, store.environment)
            where = f"{store.project}/{store.environment}/redis ({store.id})"
        key = redis_marker_key(prefix)
        password = config.get("password")
        secrets = [password] if isinstance(password, str) and password else []
        now_ms = self.state.now_ms()
        message: str | None = None
        try:
            host = str(config.get("host", ""))
            if not self.any_host and not is_loopback_host(host):
                raise ValueError(
                    f"the emulator's data plane only connects to loopback hosts, not {host!r}"
                )
            target = RedisTarget.from_config(config)
            client = target.client(self.timeout)
            try:
                client.set(key, str(now_ms))
            finally:
                client.close()
        except RedisError as exc:
            message = describe_redis_error(exc, secrets)
        except (ValueError, OSError) as exc:
            message = describe_redis_error(exc, secrets)
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
        self._thread = threading.Thread(target=self._loop, name="ld-dataplane", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        interval = self.sync_interval
        assert interval is not None
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

    def detach(self) -> None:
        """Stop, and give the state back its built-in status computation."""
        self.stop()
        if self.state.status_provider == self.status_for:
            self.state.status_provider = None
        if self.state.on_store_change == self._store_changed:
            self.state.on_store_change = None
