"""The emulator's DynamoDB writer: LaunchDarkly's synchronisation marker, put into a store's table.

LaunchDarkly writes big segments into a table the customer created, with partition key
``namespace`` (S) and sort key ``key`` (S); the synchronisation marker is the item whose
``namespace`` and ``key`` are both ``{prefix}:big_segments_metadata``, with the number attribute
``synchronizedOn`` (Unix ms). The SDKs read exactly that (``launchdarkly/python-server-sdk``
``ldclient/impl/integrations/dynamodb/dynamodb_big_segment_store.py``).

``write_dynamo_marker`` talks (through a ``DynamoClients`` cache: making a boto3 client costs far
more than a call) to a DynamoDB-compatible ``endpoint`` (moto's server in tests and
the demo), never to AWS itself: LaunchDarkly would assume the store's ``roleArn`` with its
``externalId``, which an emulator cannot; it signs with fixed fake credentials instead. It first
describes the table (a missing table or a wrong key schema is a ``SyncFailure`` saying so), then
puts the marker item. AWS errors keep their code (``AccessDeniedException: ...``); the store's
``externalId`` is scrubbed from every message.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler.emulator.dataplane_common import SyncFailure, require_loopback, scrub

PARTITION_KEY = "namespace"
SORT_KEY = "key"
METADATA_SUFFIX = ":big_segments_metadata"
SYNC_ATTRIBUTE = "synchronizedOn"
FAKE_CREDENTIALS = {"aws_access_key_id": "emulator", "aws_secret_access_key": "emulator"}
"""What the emulator signs with; moto and DynamoDB Local accept any credentials."""
EXPECTED_SCHEMA = f"partition key {PARTITION_KEY!r} (S) and sort key {SORT_KEY!r} (S)"


def dynamo_marker_key(prefix: str) -> str:
    """``{prefix}:big_segments_metadata``: both the ``namespace`` and the ``key`` of the marker."""
    return prefix + METADATA_SUFFIX


def endpoint_host(endpoint: str) -> str:
    """The host of an endpoint URL (``SyncFailure`` if it has none)."""
    host = urlsplit(endpoint).hostname
    if not host:
        raise SyncFailure(f"the DynamoDB endpoint {endpoint!r} is not a URL with a host")
    return host


def _schema(table: Mapping[str, Any]) -> str:
    """The table's key schema described like ``EXPECTED_SCHEMA``."""
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    roles = {"HASH": "partition key", "RANGE": "sort key"}
    parts = [
        f"{roles.get(k['KeyType'], k['KeyType'])} {k['AttributeName']!r}"
        f" ({types.get(k['AttributeName'], '?')})"
        for k in table.get("KeySchema", [])
    ]
    return " and ".join(parts) or "no key schema"


def check_schema(name: str, table: Mapping[str, Any]) -> None:
    """``SyncFailure`` unless the table's keys are the ones LaunchDarkly writes."""
    found = _schema(table)
    if found != EXPECTED_SCHEMA:
        raise SyncFailure(
            f"table {name!r} has the wrong key schema: {found};"
            f" LaunchDarkly needs {EXPECTED_SCHEMA}"
        )


def _describe(exc: ClientError, name: str, region: str) -> str:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Error"))
    message = str(error.get("Message", "")) or str(exc)
    if code == "ResourceNotFoundException":
        return f"table {name!r} not found in {region} ({code}: {message})"
    return f"{code}: {message}"


class DynamoClients:
    """boto3 DynamoDB clients by (endpoint, region), made once and shared (boto3 clients are
    thread-safe, sessions are not: clients are made under a lock). ``close()`` closes them all;
    later calls make new ones."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], Any] = {}

    def get(self, endpoint: str, region: str) -> Any:
        with self._lock:
            client = self._clients.get((endpoint, region))
            if client is None:
                client = boto3.session.Session(region_name=region, **FAKE_CREDENTIALS).client(
                    "dynamodb",
                    endpoint_url=endpoint,
                    config=Config(
                        connect_timeout=self.timeout,
                        read_timeout=self.timeout,
                        retries={"max_attempts": 1, "mode": "standard"},
                    ),
                )
                self._clients[(endpoint, region)] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


def write_dynamo_marker(
    config: Mapping[str, Any],
    prefix: str,
    now_ms: int,
    *,
    endpoint: str,
    clients: DynamoClients,
    any_host: bool,
) -> str:
    """Put the marker item with ``synchronizedOn = now_ms`` into the store's table through
    ``endpoint``; the marker's key (``SyncFailure`` with the reason otherwise)."""
    require_loopback(endpoint_host(endpoint), any_host)
    name = str(config.get("tableName") or "")
    region = str(config.get("region") or "")
    if not name or not region:
        raise SyncFailure("config.tableName and config.region are required")
    secrets = [str(config.get("externalId") or "")]
    key = dynamo_marker_key(prefix)
    client = clients.get(endpoint, region)
    try:
        check_schema(name, client.describe_table(TableName=name)["Table"])
        client.put_item(
            TableName=name,
            Item={
                PARTITION_KEY: {"S": key},
                SORT_KEY: {"S": key},
                SYNC_ATTRIBUTE: {"N": str(now_ms)},
            },
        )
    except ClientError as exc:
        raise SyncFailure(scrub(_describe(exc, name, region), secrets)) from None
    except BotoCoreError as exc:
        raise SyncFailure(scrub(str(exc), secrets)) from None
    return key
