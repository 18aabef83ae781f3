"""Parsing LaunchDarkly's JSON responses into domain values, tolerant where the API is loose.

The API's ``_status`` fields may be missing, its timestamps may arrive as numeric strings (the
OpenAPI examples are strings while the type is int64), and list items may omit ``config``. This
module turns a decoded JSON body into ``LiveStore`` values (and a page of environments into
``Environment`` values, reading only ``key``, ``critical`` and ``_id``: the SDK and mobile keys
that come with them are secrets and are never looked at), or raises ``Malformed`` when a body
lacks the documented shape; it does no I/O.
"""

from __future__ import annotations

import math
import re

from reconciler.model import Environment, LiveStore, StoreError, StoreStatus


class Malformed(ValueError):
    """A response body without the documented shape."""


def as_float(value: str | None) -> float | None:
    try:
        number = float(value.strip()) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None


INT64_MAX = 2**63 - 1


def as_int(value: object) -> int | None:
    """An int from an int, an integral float or a numeric string (API-NOTES §3 quirk); ``None``
    for anything else, including numbers outside the signed 64-bit range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if -INT64_MAX <= value <= INT64_MAX else None
    number = as_float(value) if isinstance(value, str) and len(value) <= 40 else value
    if not isinstance(number, float) or not number.is_integer():
        return None
    return as_int(int(number))


def parse_list(data: object) -> list[LiveStore]:
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise Malformed("no 'items' list")
    return [parse_store(item, with_config=True) for item in items]


def parse_full(data: object) -> LiveStore:
    return parse_store(data, with_config=True)


def parse_store(data: object, *, with_config: bool) -> LiveStore:
    if not isinstance(data, dict):
        raise Malformed("a store is not a JSON object")
    ids = {k: data.get(k) for k in ("_id", "projectKey", "environmentKey", "integrationKey")}
    missing = [k for k, v in ids.items() if not isinstance(v, str) or not v]
    version = as_int(data.get("version"))
    if missing:
        raise Malformed(f"a store lacks {', '.join(missing)}")
    if version is None or version < 0:
        raise Malformed("a store's version is not a whole number from 0 to 2^63-1")
    tags, config = data.get("tags"), data.get("config")
    return LiveStore(
        id=str(ids["_id"]),
        project=str(ids["projectKey"]),
        environment=str(ids["environmentKey"]),
        integration_key=str(ids["integrationKey"]),
        name=str(data.get("name") or ""),
        on=data.get("on") is True,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        version=version,
        config=dict(config) if with_config and isinstance(config, dict) else None,
        status=parse_status(data.get("_status")),
    )


def parse_status(data: object) -> StoreStatus:
    """``_status``, where every field may be missing and times may be numeric strings."""
    if not isinstance(data, dict):
        return StoreStatus()
    available, stale, errors = map(data.get, ("available", "potentiallyStale", "errors"))
    return StoreStatus(
        available=available if isinstance(available, bool) else None,
        potentially_stale=stale if isinstance(stale, bool) else None,
        last_sync=as_int(data.get("lastSync")),
        last_error=as_int(data.get("lastError")),
        errors=tuple(
            StoreError(
                status_code=as_int(e.get("statusCode")),
                message=str(e.get("message") or ""),
                timestamp=as_int(e.get("timestamp")),
            )
            for e in (errors if isinstance(errors, list) else ())
            if isinstance(e, dict)
        ),
    )


_KEY = re.compile(r"[A-Za-z0-9._~-]{1,256}")


def parse_environments(data: object, project: str) -> tuple[list[Environment], int | None]:
    """One page of ``GET /projects/{project}/environments``: its environments and
    ``totalCount`` (``None`` when absent). Messages name fields, never values (the body holds
    SDK keys, and a key that is not a key may hold escapes or newlines)."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise Malformed("no 'items' list")
    total = as_int(data.get("totalCount")) if isinstance(data, dict) else None
    return [parse_environment(item, project) for item in items], total


def parse_environment(data: object, project: str) -> Environment:
    if not isinstance(data, dict):
        raise Malformed("an environment is not a JSON object")
    key, client_side_id = data.get("key"), data.get("_id")
    if not isinstance(key, str) or not key:
        raise Malformed("an environment lacks 'key'")
    if not _KEY.fullmatch(key):
        raise Malformed("an environment key is not a LaunchDarkly key")
    if not isinstance(client_side_id, str):
        raise Malformed("an environment lacks '_id'")
    return Environment(
        project=project,
        key=key,
        critical=data.get("critical") is True,
        client_side_id=client_side_id,
    )
