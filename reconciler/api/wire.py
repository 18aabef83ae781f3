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
from typing import cast

from reconciler.model import NO_STATUS, Environment, LiveStore, StoreError, StoreStatus


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


_IDS = ("_id", "projectKey", "environmentKey", "integrationKey")


def parse_store(data: object, *, with_config: bool) -> LiveStore:
    if not isinstance(data, dict):
        raise Malformed("a store is not a JSON object")
    get = data.get
    store_id, project, environment, kind = (
        get("_id"),
        get("projectKey"),
        get("environmentKey"),
        get("integrationKey"),
    )
    version = get("version")
    if not (
        isinstance(store_id, str) and store_id and isinstance(project, str) and project
        and isinstance(environment, str) and environment and isinstance(kind, str) and kind
        and type(version) is int and 0 <= version <= INT64_MAX
    ):  # fmt: skip
        _refuse(data)
        version = as_int(version)
    tags, config = get("tags"), get("config")
    return LiveStore(
        id=str(store_id),
        project=str(project),
        environment=str(environment),
        integration_key=str(kind),
        name=str(get("name") or ""),
        on=get("on") is True,
        tags=tuple(map(str, tags)) if isinstance(tags, list) else (),
        version=cast(int, version),
        config=dict(config) if with_config and isinstance(config, dict) else None,
        status=parse_status(get("_status")),
    )


def _refuse(data: dict[str, object]) -> None:
    """``Malformed`` naming what a store lacks, unless it lacks nothing: its ids, or a whole
    ``version`` from 0 to 2^63-1 (which may also arrive as an integral float or a string)."""
    missing = [k for k in _IDS if not isinstance(data.get(k), str) or not data.get(k)]
    version = as_int(data.get("version"))
    if missing:
        raise Malformed(f"a store lacks {', '.join(missing)}")
    if version is None or version < 0:
        raise Malformed("a store's version is not a whole number from 0 to 2^63-1")


def parse_status(data: object) -> StoreStatus:
    """``_status``, where every field may be missing and times may be numeric strings."""
    if not isinstance(data, dict):
        return NO_STATUS
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
            for e in errors
            if isinstance(e, dict)
        )
        if errors and isinstance(errors, list)
        else (),
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
