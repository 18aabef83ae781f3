"""When and how long the API client waits before trying a request again.

``RetryPolicy`` bounds the attempts and the waits. Server errors (``RETRYABLE_STATUSES``) and
connection failures back off exponentially (``backoff``), capped and jittered; a 429 waits for
``Retry-After`` (seconds or an HTTP date), else until ``X-Ratelimit-Reset`` (epoch ms), clamped
and jittered (``rate_limit_wait``; a negative wait from clock skew counts by its absolute value,
API-NOTES §5). ``patch_already_applied`` tells whether a PATCH whose retry failed its
``test /version`` op had in fact been applied by an earlier attempt. Everything here works on
plain values (status codes, header mappings, stores), never on HTTP objects: only
``reconciler.api.client`` imports httpx.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from reconciler.api.wire import as_float, as_int
from reconciler.model import LiveStore

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
MIN_RATE_LIMIT_WAIT = 0.05


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx and connection failures."""

    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_rate_limit_wait: float = 60.0
    jitter: float = 0.1


DEFAULT_RETRY = RetryPolicy()


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """The wait after failed ``attempt`` (1-based): exponential from ``base_delay``, capped at
    ``max_delay``, plus jitter."""
    delay = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 60))
    return delay + jitter(policy, delay, rng)


def rate_limit_wait(
    policy: RetryPolicy,
    headers: Mapping[str, str],
    attempt: int,
    now: float,
    rng: random.Random,
) -> float:
    """The wait after a 429 with response ``headers`` (a case-insensitive mapping):
    ``Retry-After`` seconds, else until ``X-Ratelimit-Reset`` (epoch ms), else ``backoff``. A
    negative wait (clock skew) counts by its absolute value (API-NOTES §5); clamped, then
    jittered."""
    wait = retry_after(headers.get("Retry-After"), now)
    if wait is None:
        reset = as_float(headers.get("X-Ratelimit-Reset"))
        wait = None if reset is None else abs(reset / 1000.0 - now)
    if wait is None:
        return backoff(policy, attempt, rng)
    wait = min(max(wait, MIN_RATE_LIMIT_WAIT), policy.max_rate_limit_wait)
    return wait + jitter(policy, wait, rng)


def jitter(policy: RetryPolicy, delay: float, rng: random.Random) -> float:
    """A random extra wait of up to ``policy.jitter`` times ``delay``."""
    return delay * policy.jitter * rng.random()


def retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), by absolute value."""
    if value is None:
        return None
    seconds = as_float(value)
    if seconds is None:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return abs(seconds)


def patch_already_applied(live: LiveStore, patch: Sequence[Mapping[str, object]]) -> bool:
    """Whether ``live`` is exactly what ``patch`` makes of the version it tests."""
    tests = [
        as_int(op.get("value"))
        for op in patch
        if (op.get("op"), op.get("path")) == ("test", "/version")
    ]
    if len(tests) != 1 or tests[0] is None or live.version != tests[0] + 1:
        return False
    observed: dict[str, object] = {"/name": live.name, "/on": live.on, "/tags": sorted(live.tags)}
    for op in patch:
        path, value = op.get("path"), op.get("value")
        if op.get("op") in ("add", "replace") and isinstance(path, str) and path in observed:
            wanted = sorted(str(t) for t in value) if isinstance(value, list) else value
            if observed[path] != wanted:
                return False
    return True


def create_made(store: LiveStore, body: Mapping[str, object]) -> bool:
    """Whether ``store`` may be what the create ``body`` made: its name and every tag of the
    body (a run-specific tag then tells one run's store from another's)."""
    name, tags = body.get("name"), body.get("tags")
    wanted = {str(t) for t in tags} if isinstance(tags, list | tuple) else set()
    return name in (None, store.name) and wanted <= set(store.tags)
