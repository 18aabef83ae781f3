"""Verify declared stores from the user's side: can LaunchDarkly's data really get there?

The LaunchDarkly API only reports ``_status``; this module looks at the store itself, with the
connection settings the manifests declare, and reports what it finds as ``Check`` values:

- Redis (``reconciler.verify.redis_store``): ``reachable`` (connection refused, timeout, DNS),
  ``auth`` (``WRONGPASS``/``NOAUTH``), and ``marker``: the synchronisation marker LaunchDarkly
  writes and the SDKs read. When the environment's client-side ID (the key prefix) is known,
  ``{prefix}:big_segments_synchronized_on`` is read; otherwise the keyspace is scanned (bounded)
  for ``*:big_segments_synchronized_on`` and every marker found is reported. A marker older than
  ``max_marker_age`` seconds is stale.
- DynamoDB (``dynamodb_store``): the table exists, is active, and its key schema is
  exactly partition key ``namespace`` (S) and sort key ``key`` (S); with a known client-side ID,
  the ``synchronizedOn`` attribute of the ``{prefix}:big_segments_metadata`` item. It uses the
  caller's own AWS credentials (the default boto3 chain), never the declared ``roleArn`` /
  ``externalId``.

Key layout, as LaunchDarkly's server-side SDKs read it (and the constants here and in
``reconciler.verify.redis_store`` spell it):

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

import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from reconciler.model import Address, DesiredStore, Secret
from reconciler.verify.base import (
    DYNAMODB_METADATA,
    DYNAMODB_PARTITION_KEY,
    DYNAMODB_SORT_KEY,
    DYNAMODB_SYNC_ATTR,
    Check,
    Findings,
    StoreReport,
    dynamodb_metadata_key,
)
from reconciler.verify.redis_store import (
    MARKER_REPORT_LIMIT,
    MARKER_SCAN_LIMIT,
    REDIS_EXCLUDE,
    REDIS_INCLUDE,
    REDIS_SYNC_MARKER,
    RedisTarget,
    describe_redis_error,
    redis_error_kind,
    redis_marker_key,
    redis_membership_key,
    verify_redis,
)
from reconciler.verify.text import describe_age, iso_ms, plain, scrub

__all__ = [
    "DYNAMODB_METADATA",
    "DYNAMODB_PARTITION_KEY",
    "DYNAMODB_SORT_KEY",
    "DYNAMODB_SYNC_ATTR",
    "MARKER_REPORT_LIMIT",
    "MARKER_SCAN_LIMIT",
    "REDIS_EXCLUDE",
    "REDIS_INCLUDE",
    "REDIS_SYNC_MARKER",
    "Check",
    "Findings",
    "RedisTarget",
    "StoreReport",
    "describe_age",
    "describe_redis_error",
    "dynamodb_metadata_key",
    "iso_ms",
    "plain",
    "redis_error_kind",
    "redis_marker_key",
    "redis_membership_key",
    "scrub",
    "store_address",
    "verify_all",
    "verify_redis",
    "verify_store",
]


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
        from reconciler.verify.dynamodb_store import verify_dynamodb

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
