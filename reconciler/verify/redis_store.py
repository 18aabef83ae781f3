"""Redis checks for ``verifier``: reachability, authentication and the sync marker.

``verify_redis`` connects to a declared Redis with the store's own settings (``RedisTarget``:
fail fast, no retries, one timeout) and records in ``Findings`` whether it is ``reachable``
(connection refused, timeout, DNS), whether ``auth`` succeeds (``WRONGPASS``/``NOAUTH``, with
the codes redis-py strips put back), and the ``marker``: the synchronisation time LaunchDarkly
writes and the SDKs read. With the environment's client-side ID (the key prefix) it reads
``{prefix}:big_segments_synchronized_on``; without it, it scans the keyspace (bounded) for
``*:big_segments_synchronized_on`` and reports every marker found. The constants spell the key
layout LaunchDarkly's SDKs read (sources cited in ``reconciler.verify.verifier``); every message is
scrubbed of the store's secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    NoPermissionError,
    RedisError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from reconciler.model import DesiredStore
from reconciler.verify.base import Findings
from reconciler.verify.text import plain, scrub

REDIS_SYNC_MARKER = "big_segments_synchronized_on"
"""Suffix of the Redis key holding the last synchronisation time (Unix ms, a decimal string)."""
REDIS_INCLUDE = "big_segment_include"
"""``{prefix}:big_segment_include:{contextHash}``: a set of segment refs the context is in."""
REDIS_EXCLUDE = "big_segment_exclude"
"""``{prefix}:big_segment_exclude:{contextHash}``: a set of segment refs the context is not in."""

MARKER_SCAN_LIMIT = 10_000
"""At most this many keys are looked at when scanning for markers of unknown prefixes."""
MARKER_REPORT_LIMIT = 20
"""At most this many markers found by a scan are reported."""


def redis_marker_key(prefix: str) -> str:
    """``{prefix}:big_segments_synchronized_on``."""
    return f"{prefix}:{REDIS_SYNC_MARKER}"


def redis_membership_key(prefix: str, context_hash: str, *, include: bool = True) -> str:
    """``{prefix}:big_segment_include:{hash}`` (or ``..._exclude:...``)."""
    return f"{prefix}:{REDIS_INCLUDE if include else REDIS_EXCLUDE}:{context_hash}"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """Where and how to connect to one Redis, from a store's ``config``."""

    host: str
    port: int
    username: str | None
    password: str | None = field(repr=False)
    tls: bool

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> RedisTarget:
        """Settings from a desired (``Secret``-holding) or emulator (plain) config.
        ``ValueError`` when ``host`` is missing or ``port`` is not a number."""
        host = plain(config.get("host"))
        if not isinstance(host, str) or not host:
            raise ValueError("config.host is missing")
        port_value = plain(config.get("port", "6379"))
        if port_value in (None, ""):
            port_value = "6379"
        try:
            port = int(str(port_value))
        except ValueError:
            raise ValueError(f"config.port {port_value!r} is not a number") from None
        username = plain(config.get("username"))
        password = plain(config.get("password"))
        tls = plain(config.get("tlsEnabled", False))
        return cls(
            host=host,
            port=port,
            username=username if isinstance(username, str) and username else None,
            password=password if isinstance(password, str) and password else None,
            tls=tls is True or (isinstance(tls, str) and tls.lower() == "true"),
        )

    @property
    def where(self) -> str:
        hostport = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        return f"{hostport}{' (TLS)' if self.tls else ''}"

    def client(self, timeout: float) -> redis.Redis:
        """A client that fails fast: no retries, ``timeout`` seconds for connect and reads,
        RESP2 (so a missing password surfaces as Redis's own ``NOAUTH``)."""
        return redis.Redis(
            host=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            ssl=self.tls,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            protocol=2,
        )


def redis_error_kind(exc: BaseException) -> str:
    """``auth``, ``permission``, ``reachable`` or ``redis`` for a redis-py exception."""
    if isinstance(exc, AuthenticationError | AuthenticationWrongNumberOfArgsError):
        return "auth"
    if isinstance(exc, NoPermissionError):
        return "permission"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return "reachable"
    return "redis"


def describe_redis_error(exc: BaseException, secrets: Sequence[str] = ()) -> str:
    """Redis's own error text, with the error code redis-py strips put back (``WRONGPASS``,
    ``NOAUTH``, ``NOPERM``) and any secret scrubbed."""
    message = str(exc).strip() or type(exc).__name__
    if isinstance(exc, AuthenticationError):
        if "username-password pair" in message and not message.startswith("WRONGPASS"):
            message = f"WRONGPASS {message}"
        elif message.startswith("Authentication required"):
            message = f"NOAUTH {message}"
    elif isinstance(exc, AuthenticationWrongNumberOfArgsError):
        message = f"{message} (a username needs Redis 6 or later)"
    elif isinstance(exc, NoPermissionError) and not message.startswith("NOPERM"):
        message = f"NOPERM {message}"
    return scrub(message, secrets)


def _marker_ms(raw: object) -> int | None:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return int(str(raw))
    except ValueError:
        return None


def _check_marker(
    findings: Findings, key: str, raw: object, now: float, max_age: float, label: str
) -> float | None:
    ms = _marker_ms(raw)
    if ms is None:
        findings.add("marker", False, f"{label}{key} holds {raw!r}, not a Unix-millisecond time")
        return None
    return findings.add_marker(ms, now, max_age, label)


def verify_redis(
    findings: Findings,
    store: DesiredStore,
    *,
    client_side_id: str | None,
    now: Callable[[], float],
    timeout: float,
    max_marker_age: float,
) -> None:
    try:
        target = RedisTarget.from_config(store.config)
    except ValueError as exc:
        findings.add("config", False, str(exc))
        return
    client = target.client(timeout)
    try:
        if _connected(findings, target, client):
            _marker_checks(findings, store, client, client_side_id, now(), max_marker_age)
    except RedisError as exc:
        kind = redis_error_kind(exc)
        text = describe_redis_error(exc, findings.secrets)
        findings.add(
            "marker" if kind in ("redis", "reachable") else kind,
            False,
            f"reading the marker failed: {text}",
        )
    finally:
        client.close()


def _connected(findings: Findings, target: RedisTarget, client: redis.Redis) -> bool:
    """The ``reachable`` and ``auth`` checks (one PING); whether the marker can be read."""
    try:
        client.ping()
    except RedisError as exc:
        kind = redis_error_kind(exc)
        text = describe_redis_error(exc, findings.secrets)
        if kind == "reachable":
            hint = " (TLS is enabled: does the server speak TLS?)" if target.tls else ""
            findings.add("reachable", False, f"cannot reach {target.where}: {text}{hint}")
            return False
        findings.add("reachable", True, f"{target.where} answered")
        if kind == "auth":
            who = f"user {target.username!r}" if target.username else "the default user"
            findings.add("auth", False, f"authentication as {who} failed: {text}")
        else:
            findings.add(kind, False, f"PING failed: {text}")
        return False
    findings.add("reachable", True, f"{target.where} answered")
    if target.username:
        findings.add("auth", True, f"authenticated as user {target.username!r}")
    elif target.password:
        findings.add("auth", True, "authenticated with the password")
    else:
        findings.add("auth", True, "no credentials declared; the server accepts commands")
    return True


def _marker_checks(
    findings: Findings,
    store: DesiredStore,
    client: redis.Redis,
    client_side_id: str | None,
    now: float,
    max_age: float,
) -> None:
    """The ``marker`` check: the environment's marker when its prefix is known, else a scan."""
    if not store.on:
        findings.add(
            "marker",
            True,
            "skipped: the store is off, so LaunchDarkly does not synchronise into it",
        )
        return
    if not client_side_id:
        _scan_markers(findings, client, now=now, max_age=max_age)
        return
    key = redis_marker_key(client_side_id)
    raw = client.get(key)
    if raw is None:
        findings.add(
            "marker",
            False,
            f"no marker at {key}: LaunchDarkly has never synchronised big segments"
            " into this Redis for this environment",
        )
        return
    findings.marker_age = _check_marker(findings, key, raw, now, max_age, "")


def _scan_markers(findings: Findings, client: redis.Redis, *, now: float, max_age: float) -> None:
    pattern = f"*:{REDIS_SYNC_MARKER}"
    found: list[str] = []
    seen = 0
    cursor: int = 0
    while True:
        cursor, keys = client.scan(cursor=cursor, match=pattern, count=1000)
        seen += 1000
        found.extend(k.decode("utf-8", "replace") if isinstance(k, bytes) else k for k in keys)
        if cursor == 0 or seen >= MARKER_SCAN_LIMIT or len(found) >= MARKER_REPORT_LIMIT:
            break
    complete = cursor == 0
    if not found:
        if complete:
            findings.add(
                "marker",
                False,
                "no marker found: LaunchDarkly has never synchronised big segments into this"
                " Redis (no key matches *:big_segments_synchronized_on)",
            )
        else:
            findings.add(
                "marker",
                False,
                f"no marker found in the first {MARKER_SCAN_LIMIT} keys scanned; declare the"
                " environment's client-side ID to check the marker directly",
            )
        return
    ages: list[float] = []
    for key in sorted(found)[:MARKER_REPORT_LIMIT]:
        prefix = key[: -len(REDIS_SYNC_MARKER) - 1]
        age = _check_marker(findings, key, client.get(key), now, max_age, f"prefix {prefix!r}: ")
        if age is not None:
            ages.append(age)
    if ages:
        findings.marker_age = min(ages)
