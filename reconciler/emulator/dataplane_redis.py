"""The emulator's Redis writer: LaunchDarkly's synchronisation marker, written into a store's Redis.

``write_redis_marker`` connects with the store's ``config`` (``host``, ``port``, ``username``,
``password``, ``tlsEnabled``), fails fast (one attempt, one timeout, RESP2 so a missing password
is Redis's own ``NOAUTH``) and sets ``{prefix}:big_segments_synchronized_on`` to the Unix time in
milliseconds as a decimal string: the key and format the server-side SDKs read
(``launchdarkly/python-server-sdk`` ``ldclient/impl/integrations/redis/redis_big_segment_store.py``:
``KEY_LAST_UP_TO_DATE = ':big_segments_synchronized_on'``, read with ``int()``). Failures are
``SyncFailure`` carrying Redis's own error text with the codes redis-py strips put back and the
password scrubbed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError
from redis.retry import Retry

from reconciler.emulator.dataplane_common import SyncFailure, require_loopback, scrub

REDIS_MARKER_SUFFIX = ":big_segments_synchronized_on"
"""Appended to the environment's client-side ID to name the marker key."""


def redis_marker_key(prefix: str) -> str:
    """``{prefix}:big_segments_synchronized_on``."""
    return prefix + REDIS_MARKER_SUFFIX


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _port(config: Mapping[str, Any]) -> int:
    raw = _text(config.get("port")) or "6379"
    try:
        return int(raw)
    except ValueError:
        raise SyncFailure(f"config.port {raw!r} is not a number") from None


def _tls(config: Mapping[str, Any]) -> bool:
    value = config.get("tlsEnabled", False)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def describe(exc: BaseException, secrets: list[str]) -> str:
    """Redis's own error text, ``WRONGPASS``/``NOAUTH``/``NOPERM`` restored, secrets scrubbed."""
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        if "username-password pair" in message and not message.startswith("WRONGPASS"):
            message = f"WRONGPASS {message}"
        elif message.startswith("Authentication required"):
            message = f"NOAUTH {message}"
    elif isinstance(exc, NoPermissionError) and not message.startswith("NOPERM"):
        message = f"NOPERM {message}"
    return scrub(message, secrets)


def write_redis_marker(
    config: Mapping[str, Any], prefix: str, now_ms: int, *, timeout: float, any_host: bool
) -> str:
    """Set the marker to ``now_ms`` in the Redis ``config`` names; the key written
    (``SyncFailure`` with the reason otherwise)."""
    host = _text(config.get("host"))
    if not host:
        raise SyncFailure("config.host is missing")
    require_loopback(host, any_host)
    password = _text(config.get("password"))
    username = _text(config.get("username"))
    key = redis_marker_key(prefix)
    client = redis.Redis(
        host=host,
        port=_port(config),
        username=username or None,
        password=password or None,
        ssl=_tls(config),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )
    try:
        client.set(key, str(now_ms))
    except (RedisError, OSError) as exc:
        raise SyncFailure(describe(exc, [password])) from None
    finally:
        client.close()
    return key
