"""DynamoDB checks for ``reconciler.verify.verifier``: table, key schema and synchronisation marker.

LaunchDarkly writes big segments into a table the user creates, whose partition key must be
``namespace`` (S) and sort key ``key`` (S) (the API's create description; the SDKs read the
same names: ``launchdarkly/python-server-sdk``
``ldclient/impl/integrations/dynamodb/dynamodb_big_segment_store.py``). The synchronisation time
is the ``synchronizedOn`` number attribute (Unix ms) of the item whose ``namespace`` and ``key``
are both ``{prefix}:big_segments_metadata``.

The checks run with the caller's own AWS credentials (boto3's default chain) in the declared
``region``; the declared ``roleArn``/``externalId`` are for LaunchDarkly and are never used or
shown. Each call gets its own boto3 session (sessions are not thread-safe) and one attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from reconciler.model import DesiredStore
from reconciler.verify.base import (
    DYNAMODB_PARTITION_KEY,
    DYNAMODB_SORT_KEY,
    DYNAMODB_SYNC_ATTR,
    Findings,
    dynamodb_metadata_key,
)
from reconciler.verify.text import plain

ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "MissingAuthenticationTokenException",
    }
)
EXPECTED_SCHEMA = (
    f"partition key {DYNAMODB_PARTITION_KEY!r} (S) and sort key {DYNAMODB_SORT_KEY!r} (S)"
)


def credentials_problem() -> str | None:
    """Why boto3's default chain (environment, shared files, profile, container or instance
    role) yields no AWS credentials, or ``None`` when it does: without them no DynamoDB check
    can run."""
    try:
        found = boto3.session.Session().get_credentials()
    except (BotoCoreError, ValueError) as exc:  # e.g. AWS_PROFILE names no profile
        return str(exc)
    return None if found is not None else "no AWS credentials found"


def _client(region: str, endpoint: str | None, timeout: float) -> Any:
    session = boto3.session.Session()
    return session.client(
        "dynamodb",
        region_name=region,
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def _error(exc: Exception) -> tuple[str, str]:
    """(check kind, message) for a boto3 failure."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Error"))
        message = str(error.get("Message", "")) or str(exc)
        if code == "ResourceNotFoundException":
            return "table", f"{code}: {message}"
        if code in ACCESS_CODES:
            return "access", f"{code}: {message}"
        return "table", f"{code}: {message}"
    if isinstance(exc, NoCredentialsError | NoRegionError):
        return "access", f"{exc} (the check uses your own AWS credentials, not the role)"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return "reachable", str(exc)
    return "access", str(exc)


def _describe_keys(table: dict[str, Any]) -> tuple[bool, str]:
    """Whether the key schema is what LaunchDarkly needs, and a description of it."""
    types = {
        d.get("AttributeName"): d.get("AttributeType")
        for d in table.get("AttributeDefinitions", [])
    }
    keys = {k.get("KeyType"): k.get("AttributeName") for k in table.get("KeySchema", [])}
    hash_name, range_name = keys.get("HASH"), keys.get("RANGE")
    parts = [f"partition key {hash_name!r} ({types.get(hash_name, '?')})"]
    parts.append(
        f"sort key {range_name!r} ({types.get(range_name, '?')})" if range_name else "no sort key"
    )
    ok = (
        hash_name == DYNAMODB_PARTITION_KEY
        and range_name == DYNAMODB_SORT_KEY
        and types.get(hash_name) == "S"
        and types.get(range_name) == "S"
        and len(keys) == 2
    )
    return ok, " and ".join(parts)


def verify_dynamodb(
    findings: Findings,
    store: DesiredStore,
    *,
    client_side_id: str | None,
    now: Callable[[], float],
    timeout: float,
    max_marker_age: float,
    endpoint: str | None,
) -> None:
    """Add the table, schema and marker checks of one DynamoDB store to ``findings``."""
    table_name = plain(store.config.get("tableName"))
    region = plain(store.config.get("region"))
    if not isinstance(table_name, str) or not table_name:
        findings.add("config", False, "config.tableName is missing")
        return
    if not isinstance(region, str) or not region:
        findings.add("config", False, "config.region is missing")
        return
    where = f"table {table_name!r} in {region}"
    try:
        client = _client(region, endpoint, timeout)
        table = client.describe_table(TableName=table_name)["Table"]
    except (ClientError, BotoCoreError) as exc:
        kind, message = _error(exc)
        if kind == "table" and "ResourceNotFound" in message:
            findings.add("table", False, f"{where} does not exist ({message})")
        else:
            findings.add(kind, False, f"cannot describe {where}: {message}")
        return
    status = table.get("TableStatus", "?")
    findings.add("table", status == "ACTIVE", f"{where} exists (status {status})")
    ok, keys = _describe_keys(table)
    if not ok:
        findings.add("schema", False, f"{where} has {keys}; LaunchDarkly needs {EXPECTED_SCHEMA}")
        return
    findings.add("schema", True, f"{where} has {keys}")
    if not store.on:
        findings.add(
            "marker",
            True,
            "skipped: the store is off, so LaunchDarkly does not synchronise into it",
        )
    elif not client_side_id:
        findings.add(
            "marker",
            True,
            "skipped: the environment's client-side ID is unknown (the table is not scanned)",
        )
    else:
        _check_marker(findings, client, table_name, client_side_id, now(), max_marker_age)


def _check_marker(
    findings: Findings, client: Any, table_name: str, prefix: str, now: float, max_age: float
) -> None:
    """The ``marker`` check: the metadata item's ``synchronizedOn``, fresh or stale."""
    key = dynamodb_metadata_key(prefix)
    try:
        item = client.get_item(
            TableName=table_name,
            Key={DYNAMODB_PARTITION_KEY: {"S": key}, DYNAMODB_SORT_KEY: {"S": key}},
        ).get("Item")
    except (ClientError, BotoCoreError) as exc:
        kind, message = _error(exc)
        findings.add("marker" if kind == "table" else kind, False, f"reading {key!r}: {message}")
        return
    raw = (item or {}).get(DYNAMODB_SYNC_ATTR, {}).get("N")
    if raw is None:
        findings.add(
            "marker",
            False,
            f"no marker ({key!r} has no {DYNAMODB_SYNC_ATTR}): LaunchDarkly has never"
            " synchronised big segments into this table for this environment",
        )
        return
    try:
        ms = int(raw)
    except ValueError:
        findings.add("marker", False, f"{DYNAMODB_SYNC_ATTR} holds {raw!r}, not Unix ms")
        return
    findings.marker_age = findings.add_marker(ms, now, max_age)
