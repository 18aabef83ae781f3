"""A store's connection ``_status`` for people and JSON: healthy or not, one line, a dict.

``_status`` is the only signal LaunchDarkly gives that big segments really reach a store:
``available`` (synced recently), ``potentiallyStale``, ``lastSync`` and the last ``errors``.
Pure functions of ``StoreStatus``; ``apply.health`` waits on ``is_healthy``.
"""

from __future__ import annotations

from reconciler.model import NO_STATUS, StoreStatus


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
    if status == NO_STATUS:
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
