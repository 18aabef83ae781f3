"""Verify declared stores from the user's side: can LaunchDarkly's data really get there?

The LaunchDarkly API only reports ``_status``; this module looks at the store itself, with the
connection settings the manifests declare, and reports what it finds as ``Check`` values:

- Redis: ``reachable`` (connection refused, timeout, DNS), ``auth`` (``WRONGPASS``/``NOAUTH``),
  and ``marker``: the synchronisation marker LaunchDarkly writes and the SDKs read. When the
  environment's client-side ID (the key prefix) is known, ``{prefix}:big_segments_synchronized_on``
  is read; otherwise the keyspace is scanned (bounded) for ``*:big_segments_synchronized_on`` and
  every marker found is reported. A marker older than ``max_marker_age`` seconds is stale.
- DynamoDB (``reconciler.verify_dynamo``): the table exists, is active, and its key schema is
  exactly partition key ``namespace`` (S) and sort key ``key`` (S); with a known client-side ID,
  the ``synchronizedOn`` attribute of the ``{prefix}:big_segments_metadata`` item. It uses the
  caller's own AWS credentials (the default boto3 chain), never the declared ``roleArn`` /
  ``externalId``.

Key layout, as LaunchDarkly's server-side SDKs read it (and this module's constants spell it):

- ``launchdarkly/python-server-sdk`` ``ldclient/impl/integrations/redis/redis_big_segment_store.py``
  (``KEY_LAST_UP_TO_DATE = ':big_segments_synchronized_on'``, ``KEY_USER_INCLUDE =
  ':big_segment_include:'``, ``KEY_USER_EXCLUDE = ':big_segment_exclude:'``; the marker value is
  parsed with ``int()``) and ``launchdarkly/go-server-sdk-redis-redigo``
  ``redis_big_segments_impl.go`` (``%s:big_segments_synchronized_on``, parsed as an unsigned
  Unix-millisecond time; include/exclude are Redis sets of segment refs).
- ``launchdarkly/python-server-sdk``
  ``ldclient/impl/integrations/dynamodb/dynamodb_big_segment_store.py``: partition key
  ``namespace``, sort key ``key``, metadata item with both keys ``{prefix}:big_segments_metadata``
  and attribute ``synchronizedOn`` (N, Unix milliseconds).

With a persistent store integration the prefix is the environment's client-side ID
(``shared/launchdarkly/API-NOTES.md`` §4). Messages never contain a password or external ID:
secrets are read (``Secret.value``) only to open the connection, and every message is scrubbed.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
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

from reconciler.model import SENSITIVE, Address, DesiredStore, Secret

REDIS_SYNC_MARKER = "big_segments_synchronized_on"
"""Suffix of the Redis key holding the last synchronisation time (Unix ms, a decimal string)."""
REDIS_INCLUDE = "big_segment_include"
"""``{prefix}:big_segment_include:{contextHash}``: a set of segment refs the context is in."""
REDIS_EXCLUDE = "big_segment_exclude"
"""``{prefix}:big_segment_exclude:{contextHash}``: a set of segment refs the context is not in."""
DYNAMODB_PARTITION_KEY = "namespace"
DYNAMODB_SORT_KEY = "key"
DYNAMODB_METADATA = "big_segments_metadata"
DYNAMODB_SYNC_ATTR = "synchronizedOn"

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


def dynamodb_metadata_key(prefix: str) -> str:
    """``{prefix}:big_segments_metadata``: both the ``namespace`` and ``key`` of the item."""
    return f"{prefix}:{DYNAMODB_METADATA}" if prefix else DYNAMODB_METADATA


# -- findings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One finding about one store. ``message`` is for humans and never holds a secret."""

    address: str
    ok: bool
    kind: str  # "reachable" | "auth" | "permission" | "marker" | "table" | "schema" | "access"
    message: str


@dataclass(frozen=True, slots=True)
class StoreReport:
    """Every finding about one store; ``healthy`` when all checks passed."""

    address: str
    integration_key: str
    healthy: bool
    checks: tuple[Check, ...]
    marker_age_seconds: float | None = None


@dataclass(slots=True)
class Findings:
    address: str
    secrets: tuple[str, ...]
    checks: list[Check] = field(default_factory=list)
    marker_age: float | None = None

    def add(self, kind: str, ok: bool, message: str) -> None:
        self.checks.append(Check(self.address, ok, kind, scrub(message, self.secrets)))

    def report(self, integration_key: str) -> StoreReport:
        return StoreReport(
            address=self.address,
            integration_key=integration_key,
            healthy=bool(self.checks) and all(c.ok for c in self.checks),
            checks=tuple(self.checks),
            marker_age_seconds=self.marker_age,
        )


def scrub(message: str, secrets: Sequence[str]) -> str:
    """``message`` with every secret of four characters or more replaced by ``(sensitive)``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            message = message.replace(secret, SENSITIVE)
    return message


def plain(value: object) -> object:
    """A config value with a ``Secret`` unwrapped (only for opening a connection)."""
    return value.value if isinstance(value, Secret) else value


def _secrets_of(config: Mapping[str, object]) -> tuple[str, ...]:
    out = []
    for value in config.values():
        if isinstance(value, Secret) and value.value:
            out.append(value.value)
    for key in ("password", "externalId"):
        raw = config.get(key)
        if isinstance(raw, str) and raw:
            out.append(raw)
    return tuple(out)


def describe_age(seconds: float) -> str:
    if seconds < 0:
        return f"{-seconds:.0f} s in the future (clock skew?)"
    if seconds < 120:
        return f"{seconds:.0f} s old"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min old"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h old"
    return f"{seconds / 86400:.1f} days old"


def iso_ms(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


# -- Redis ----------------------------------------------------------------------------------


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
    age = now - ms / 1000
    fresh = age <= max_age
    verdict = "" if fresh else f" (stale: older than {max_age:.0f} s)"
    findings.add(
        "marker",
        fresh,
        f"{label}LaunchDarkly last synchronised at {iso_ms(ms)}, {describe_age(age)}{verdict}",
    )
    return age


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
        try:
            client.ping()
        except RedisError as exc:
            kind = redis_error_kind(exc)
            text = describe_redis_error(exc, findings.secrets)
            if kind == "reachable":
                hint = " (TLS is enabled: does the server speak TLS?)" if target.tls else ""
                findings.add("reachable", False, f"cannot reach {target.where}: {text}{hint}")
                return
            findings.add("reachable", True, f"{target.where} answered")
            if kind == "auth":
                who = f"user {target.username!r}" if target.username else "the default user"
                findings.add("auth", False, f"authentication as {who} failed: {text}")
            else:
                findings.add(kind, False, f"PING failed: {text}")
            return
        findings.add("reachable", True, f"{target.where} answered")
        if target.username:
            findings.add("auth", True, f"authenticated as user {target.username!r}")
        elif target.password:
            findings.add("auth", True, "authenticated with the password")
        else:
            findings.add("auth", True, "no credentials declared; the server accepts commands")
        if not store.on:
            findings.add(
                "marker",
                True,
                "skipped: the store is off, so LaunchDarkly does not synchronise into it",
            )
            return
        if client_side_id:
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
            findings.marker_age = _check_marker(findings, key, raw, now(), max_marker_age, "")
            return
        _scan_markers(findings, client, now=now(), max_age=max_marker_age)
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


# -- entry points ---------------------------------------------------------------------------


def store_address(store: DesiredStore, *, with_name: bool = False) -> str:
    return str(
        Address(
            store.project,
            store.environment,
            store.integration_key,
            store.name if with_name else None,
        )
    )


def verify_store(
    store: DesiredStore,
    *,
    client_side_id: str | None,
    now: Callable[[], float] = time.time,
    timeout: float = 5.0,
    max_marker_age: float = 300.0,
    dynamodb_endpoint: str | None = None,
    address: str | None = None,
) -> StoreReport:
    """Check one declared store from the user's side (never raises for store problems).

    ``client_side_id`` is the environment's client-side ID, LaunchDarkly's key prefix
    (``None``: scan for markers). ``now`` returns epoch seconds; ``timeout`` bounds each network
    step; ``dynamodb_endpoint`` overrides the AWS endpoint (tests, local DynamoDB); ``address``
    overrides the reported address (``verify_all`` adds the name when a slot holds several)."""
    findings = Findings(address=address or store_address(store), secrets=_secrets_of(store.config))
    if store.integration_key == "redis":
        verify_redis(
            findings,
            store,
            client_side_id=client_side_id,
            now=now,
            timeout=timeout,
            max_marker_age=max_marker_age,
        )
    elif store.integration_key == "dynamodb":
        from reconciler.verify_dynamo import verify_dynamodb

        verify_dynamodb(
            findings,
            store,
            client_side_id=client_side_id,
            now=now,
            timeout=timeout,
            max_marker_age=max_marker_age,
            endpoint=dynamodb_endpoint,
        )
    else:
        findings.add("config", False, f"unknown integration {store.integration_key!r}")
    return findings.report(store.integration_key)


def verify_all(
    stores: Sequence[DesiredStore],
    *,
    client_side_ids: Mapping[tuple[str, str], str] | None,
    now: Callable[[], float] = time.time,
    timeout: float = 5.0,
    max_marker_age: float = 300.0,
    dynamodb_endpoint: str | None = None,
    parallelism: int = 8,
) -> list[StoreReport]:
    """``verify_store`` for every store, ``parallelism`` at a time, sorted by address.
    ``client_side_ids`` maps ``(project, environment)`` to the client-side ID."""
    ids = client_side_ids or {}
    per_slot: dict[tuple[str, str, str], int] = {}
    for store in stores:
        per_slot[store.slot] = per_slot.get(store.slot, 0) + 1

    def one(store: DesiredStore) -> StoreReport:
        return verify_store(
            store,
            client_side_id=ids.get((store.project, store.environment)),
            now=now,
            timeout=timeout,
            max_marker_age=max_marker_age,
            dynamodb_endpoint=dynamodb_endpoint,
            address=store_address(store, with_name=per_slot[store.slot] > 1),
        )

    if not stores:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(stores)))) as pool:
        reports = list(pool.map(one, stores))
    return sorted(reports, key=lambda r: r.address)
