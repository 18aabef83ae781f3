"""The emulator's records, and how a store is shown.

``Store`` is one big segment store integration as the emulator keeps it (secrets unmasked);
``RequestRecord`` is one entry of the request log. A store is shown in two forms:
``render_store`` as the API returns it (``_links``, ``_status``, the config masked unless asked
otherwise) and ``store_seed`` in seed format, unmasked. ``store_status`` decides ``_status``: the
one set through the side door, else the ``StatusProvider``'s (the data plane installs one; a
repeated error is shown once, at its latest occurrence), else the built-in computation (an ``on``
DynamoDB store is never fresh there: nothing syncs it).
``reconciler.emulator.state`` owns the records and their lock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.manifests import MaskStyle, mask_config
from reconciler.emulator.rules import store_links

StatusProvider = Callable[["Store"], "dict[str, Any] | None"]
"""Computes a store's ``_status`` (``None``: use the built-in computation); the data plane
installs one (``reconciler.emulator.dataplane``)."""


@dataclass(slots=True)
class Store:
    """One big segment store integration, secrets unmasked. ``status`` overrides the computed
    ``_status`` when set."""

    id: str
    project: str
    environment: str
    integration_key: str
    name: str
    on: bool
    tags: list[str]
    config: dict[str, Any]
    version: int = 1
    status: dict[str, Any] | None = None
    last_sync_ms: int | None = None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One API request as the emulator saw it (``status`` is ``None`` for a dropped one)."""

    method: str
    path: str
    query: str
    headers: dict[str, list[str]]
    body: Any
    status: int | None
    fault: str | None
    latency_ms: int
    time_ms: int
    client: str = ""
    """The client's address and port: requests on one keep-alive connection share it."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "fault": self.fault,
            "latencyMs": self.latency_ms,
            "timeMs": self.time_ms,
            "client": self.client,
        }


def store_status(store: Store, provider: StatusProvider | None) -> dict[str, Any]:
    """``store``'s ``_status``: its override, else ``provider``'s answer, else computed."""
    if store.status is not None:
        return copy.deepcopy(store.status)
    if provider is not None:
        provided = provider(store)
        if provided is not None:
            if isinstance(provided.get("errors"), list):
                provided = {**provided, "errors": dedupe_errors(provided["errors"])}
            return provided
    if store.on and store.integration_key == "dynamodb":  # nothing syncs it: never fresh
        return {"available": False, "potentiallyStale": True}
    status: dict[str, Any] = {"available": store.on, "potentiallyStale": False}
    if store.on and store.last_sync_ms is not None:
        status["lastSync"] = store.last_sync_ms
    return status


def dedupe_errors(errors: list[Any]) -> list[Any]:
    """``errors`` with each (statusCode, message) kept once, at its latest occurrence, in the
    order of those occurrences (the data plane records one per failed sync)."""
    latest: dict[tuple[Any, Any], Any] = {}
    for error in errors:
        key = (
            (error.get("statusCode"), error.get("message"))
            if isinstance(error, dict)
            else (
                None,
                repr(error),
            )
        )
        latest.pop(key, None)
        latest[key] = error
    return list(latest.values())


def render_store(
    store: Store,
    status: dict[str, Any],
    *,
    with_config: bool,
    masked: bool = True,
    mask_style: MaskStyle = "fixed",
) -> dict[str, Any]:
    """A store as the API returns it, with ``status`` as its ``_status`` (``with_config`` for
    single-store answers; ``masked=False`` keeps secrets, for applying a patch)."""
    out: dict[str, Any] = {
        "_links": store_links(store),
        "_id": store.id,
        "integrationKey": store.integration_key,
        "projectKey": store.project,
        "environmentKey": store.environment,
        "name": store.name,
        "on": store.on,
        "tags": list(store.tags),
        "version": store.version,
        "_status": status,
    }
    if with_config:
        cfg = copy.deepcopy(store.config)
        out["config"] = mask_config(store.integration_key, cfg, mask_style) if masked else cfg
    return out


def store_seed(store: Store) -> dict[str, Any]:
    """One store, unmasked, in seed format."""
    return {
        "id": store.id,
        "project": store.project,
        "environment": store.environment,
        "integrationKey": store.integration_key,
        "name": store.name,
        "on": store.on,
        "tags": list(store.tags),
        "config": copy.deepcopy(store.config),
        "version": store.version,
        "status": copy.deepcopy(store.status),
    }
