"""Store health: reading LaunchDarkly's connection ``_status``, describing it, waiting for it.

``_status`` is the only signal LaunchDarkly gives that big segments really reach a store:
``available`` (synced recently), ``potentiallyStale``, ``lastSync`` and the last ``errors``.
This module says whether a status is healthy, describes it in one line for humans, renders it
as JSON, and polls changed stores after ``apply --wait-healthy`` until they are available or
the time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import ReconcilerError
from reconciler.model import LiveStore, StoreStatus

if TYPE_CHECKING:
    from reconciler.api.client import Client


class UnhealthyError(ReconcilerError):
    """Stores did not become available in time; names each with LaunchDarkly's errors."""


def is_healthy(status: StoreStatus) -> bool:
    return status.available is True and status.potentially_stale is not True


def _age(ms: int, now_ms: int) -> str:
    seconds = max(0, (now_ms - ms) // 1000)
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 7200:
        return f"{seconds // 60}m ago"
    return f"{seconds // 3600}h ago"


def describe(status: StoreStatus, *, now_ms: int) -> str:
    """One line: ``available, last sync 3m ago`` or ``unavailable: <last error>``."""
    if status == StoreStatus():
        return "status unknown"
    parts = [
        "available" if status.available else "unavailable"
        if status.available is False else "availability unknown"
    ]  # fmt: skip
    if status.potentially_stale:
        parts.append("potentially stale")
    if status.last_sync is not None:
        parts.append(f"last sync {_age(status.last_sync, now_ms)}")
    elif status.available is not None:
        parts.append("never synced")
    if status.errors:
        last = max(status.errors, key=lambda e: e.timestamp or 0)
        code = f" (status {last.status_code})" if last.status_code is not None else ""
        parts.append(f"last error{code}: {last.message}")
    return ", ".join(parts)


def status_to_dict(status: StoreStatus) -> dict[str, object]:
    """The status as it appears in JSON plans (no derived, time-dependent values)."""
    return {
        "available": status.available,
        "potentiallyStale": status.potentially_stale,
        "lastSync": status.last_sync,
        "lastError": status.last_error,
        "errors": [
            {"statusCode": e.status_code, "message": e.message, "timestamp": e.timestamp}
            for e in status.errors
        ],
    }


@dataclass(frozen=True, slots=True)
class Waited:
    address: str
    store: LiveStore


def wait_healthy(
    client: Client,
    stores: Sequence[Waited],
    *,
    timeout: float,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_poll: Callable[[int, int], None] | None = None,
) -> None:
    """Poll each store's ``_status`` until all are healthy; raise ``UnhealthyError`` naming
    the stores that were not, with LaunchDarkly's errors, when ``timeout`` seconds pass."""
    deadline = clock() + timeout
    pending = {w.store.id: w for w in stores}
    latest: dict[str, LiveStore] = {}
    while True:
        for store_id, waited in list(pending.items()):
            s = waited.store
            current = client.get_store(
                s.project, s.environment, s.integration_key, s.id, address=waited.address
            )
            latest[store_id] = current
            if is_healthy(current.status):
                del pending[store_id]
        if on_poll is not None:
            on_poll(len(stores) - len(pending), len(stores))
        if not pending or clock() >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
    if pending:
        now_ms = int(time.time() * 1000)
        lines = [
            f"  {w.address}: {describe(latest[i].status, now_ms=now_ms)}"
            for i, w in sorted(pending.items(), key=lambda item: item[1].address)
        ]
        raise UnhealthyError(
            f"{len(pending)} store(s) not healthy after {timeout:g}s:\n" + "\n".join(lines)
        )
