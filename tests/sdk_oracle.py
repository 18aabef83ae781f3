"""LaunchDarkly's own server-side SDK as a test oracle for what the big-segment stores hold.

``sdk_status(kind, conn, client_side_id)`` builds a real ``ldclient.client.LDClient`` (offline,
every URI pointed at a dead loopback port, no events) whose ``BigSegmentsConfig`` has the SDK's
own store for ``kind`` (``Redis.new_big_segment_store`` / ``DynamoDB.new_big_segment_store``
from ``ldclient.integrations``) with ``prefix=client_side_id`` and every other setting at the
SDK's default (notably ``stale_after``, 120 s), reads
``client.big_segment_store_status_provider.status`` once and closes the client. It returns
``SdkStatus(available, stale)``: ``available`` is "the SDK could query the store" (``False``
on any error, and then ``stale`` is ``False``: the SDK cannot tell), ``stale`` is "the marker is
missing or older than ``stale_after``". The SDK compares the marker with the real wall clock.

``conn`` uses the store ``config`` field names, so a store's config can be passed as is:

- ``redis``: ``host``, ``port``, ``username``, ``password``, ``tlsEnabled``;
- ``dynamodb``: ``tableName``, ``region`` and ``endpoint`` (the DynamoDB-compatible server; the
  SDK signs with fake credentials).

``same_verdict(api_status, sdk)`` is the comparison with LaunchDarkly's API ``_status``:
``available`` there means "synchronised and fresh" (the SDK's ``available and not stale``), and
``potentiallyStale`` is the SDK's ``stale``. It is only meaningful when the SDK can read the
store; when the store cannot be read (wrong password, missing table) compare availability alone.

Importing this module skips the importing test module when ``launchdarkly-server-sdk`` is not
installed (it is in the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip(
    "ldclient", reason="launchdarkly-server-sdk is not installed (pip install -e '.[dev]')"
)

from ldclient.client import LDClient
from ldclient.config import BigSegmentsConfig, Config
from ldclient.integrations import DynamoDB, Redis
from redis_support import free_port

TIMEOUT = 2.0
"""Seconds the SDK's store clients wait for the store."""
FRESH_AGE = 110.0
"""Seconds: fresh for the SDK's default ``stale_after`` (120 s)."""
OLD_AGE = 130.0
"""Seconds: stale for the SDK's default ``stale_after``."""
TABLE = "ld-big-segments"
"""The DynamoDB table the oracle tests create and declare."""


@dataclass(frozen=True, slots=True)
class SdkStatus:
    """What ``client.big_segment_store_status_provider.status`` said."""

    available: bool
    stale: bool

    @property
    def healthy(self) -> bool:
        """Readable and fresh: what the API's ``_status.available`` claims."""
        return self.available and not self.stale


def _redis_store(conn: Mapping[str, Any], prefix: str) -> Any:
    host = str(conn.get("host") or "127.0.0.1")
    netloc = f"[{host}]" if ":" in host else host
    tls = conn.get("tlsEnabled") in (True, "true")
    url = f"{'rediss' if tls else 'redis'}://{netloc}:{conn.get('port') or 6379}/0"
    options: dict[str, Any] = {"socket_timeout": TIMEOUT, "socket_connect_timeout": TIMEOUT}
    if conn.get("username"):
        options["username"] = conn["username"]
    if conn.get("password"):
        options["password"] = conn["password"]
    return Redis.new_big_segment_store(url=url, prefix=prefix, redis_opts=options)


def _dynamo_store(conn: Mapping[str, Any], prefix: str) -> Any:
    from botocore.config import Config as BotoConfig

    options = {
        "endpoint_url": conn["endpoint"],
        "region_name": conn["region"],
        "aws_access_key_id": "sdk-oracle",
        "aws_secret_access_key": "sdk-oracle",
        "config": BotoConfig(
            connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 1}
        ),
    }
    return DynamoDB.new_big_segment_store(conn["tableName"], prefix=prefix, dynamodb_opts=options)


def sdk_status(kind: str, conn: Mapping[str, Any], client_side_id: str) -> SdkStatus:
    """The SDK's verdict on the ``kind`` (``redis``/``dynamodb``) store ``conn`` describes, for
    the environment whose client-side ID is ``client_side_id``."""
    if kind == "redis":
        store = _redis_store(conn, client_side_id)
    elif kind == "dynamodb":
        store = _dynamo_store(conn, client_side_id)
    else:
        raise ValueError(f"no SDK big segment store for {kind!r}")
    dead = f"http://127.0.0.1:{free_port()}"
    config = Config(
        sdk_key="sdk-oracle-not-a-key",
        offline=True,
        base_uri=dead,
        stream_uri=dead,
        events_uri=dead,
        send_events=False,
        diagnostic_opt_out=True,
        big_segments=BigSegmentsConfig(store=store),
    )
    client = LDClient(config=config, start_wait=0)
    try:
        status = client.big_segment_store_status_provider.status
        return SdkStatus(available=bool(status.available), stale=bool(status.stale))
    finally:
        client.close()


def same_verdict(api_status: Mapping[str, Any], sdk: SdkStatus) -> bool:
    """Whether LaunchDarkly's ``_status`` and the SDK agree (see the module docstring)."""
    return (
        api_status.get("available") is sdk.healthy
        and api_status.get("potentiallyStale") is sdk.stale
    )
