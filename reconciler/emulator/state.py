"""The emulator's account: tokens, projects, stores, and what happened to them.

``EmulatorState`` is the single source of truth behind the HTTP app and the Python API tests use.
It keeps stores unmasked, masks secrets when it renders them for the API, bumps ``version`` on
every change, computes ``_status`` (or returns one set through the side door), and records the
request log and any contract violations the app detects. All access goes through one re-entrant
lock, so the threaded server and a test thread can use it at once. Nothing is written to disk.
"""

from __future__ import annotations

import copy
import hashlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonpatch
import jsonpointer

from reconciler.emulator.rules import (
    ApiProblem,
    check_patch,
    check_status,
    invalid,
    mask_config,
    store_links,
    validate_config,
    validate_fields,
)
from reconciler.integrations import FIELDS

ID_RE = re.compile(r"^[0-9a-f]{24}$")

StatusProvider = Callable[["Store"], "dict[str, Any] | None"]
"""Computes a store's ``_status`` (``None``: use the built-in computation); the data plane
installs one (``reconciler.emulator.dataplane``)."""


def derived_client_side_id(project: str, environment: str) -> str:
    """The emulator's deterministic stand-in for an environment's client-side ID: 24 hex
    characters derived from the project and environment keys."""
    return hashlib.sha256(f"{project}/{environment}".encode()).hexdigest()[:24]


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
        }


@dataclass(slots=True)
class _Data:
    tokens: list[str] | None = None
    revoked_tokens: set[str] = field(default_factory=set)
    projects: dict[str, list[str]] = field(default_factory=dict)
    client_side_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)
    entitlement: bool = True
    unique_names: bool = False


class EmulatorState:
    """Tokens, projects and stores of one emulated account, plus logs. Thread-safe.

    ``tokens=None`` accepts any token that starts with ``api-``; revoked tokens never pass.
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] | None = None,
        projects: Mapping[str, Iterable[str]] | None = None,
        entitlement: bool = True,
        unique_names: bool = False,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = clock or time.time
        self._rng = rng or random.Random()
        self._data = _Data(
            tokens=list(tokens) if tokens is not None else None,
            projects={k: list(v) for k, v in (projects or {}).items()},
            entitlement=entitlement,
            unique_names=unique_names,
        )
        self.requests: list[RequestRecord] = []
        self.contract_violations: list[str] = []
        self.status_provider: StatusProvider | None = None
        self.on_store_change: Callable[[Store], None] | None = None

    # -- account settings --------------------------------------------------------------

    @property
    def entitlement(self) -> bool:
        return self._data.entitlement

    @entitlement.setter
    def entitlement(self, value: bool) -> None:
        with self.lock:
            self._data.entitlement = value

    @property
    def unique_names(self) -> bool:
        """When true, a create that repeats a name in its environment is a 409."""
        return self._data.unique_names

    @unique_names.setter
    def unique_names(self, value: bool) -> None:
        with self.lock:
            self._data.unique_names = value

    def set_tokens(self, tokens: Iterable[str] | None) -> None:
        """Accept exactly these tokens (``None``: any token starting with ``api-``)."""
        with self.lock:
            self._data.tokens = list(tokens) if tokens is not None else None

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self._data.revoked_tokens.add(token)

    def token_accepted(self, token: str | None) -> bool:
        with self.lock:
            data = self._data
            if not token or token in data.revoked_tokens:
                return False
            return token in data.tokens if data.tokens is not None else token.startswith("api-")

    def add_project(
        self,
        key: str,
        environments: Iterable[str],
        client_side_ids: Mapping[str, str] | None = None,
    ) -> None:
        """Add a project, or environments to an existing one. ``client_side_ids`` (environment
        key -> ID) overrides the derived client-side IDs of some environments."""
        with self.lock:
            envs = self._data.projects.setdefault(key, [])
            envs.extend(e for e in environments if e not in envs)
            for env, client_side_id in (client_side_ids or {}).items():
                self._data.client_side_ids[(key, env)] = client_side_id

    def client_side_id(self, project: str, environment: str) -> str:
        """The environment's client-side ID, which LaunchDarkly's SDKs (and the data plane) use
        as the key prefix of a persistent store: the seeded one, else ``derived_client_side_id``.
        ``KeyError`` for an unknown environment."""
        with self.lock:
            if not self.has_environment(project, environment):
                raise KeyError(f"{project}/{environment}")
            found = self._data.client_side_ids.get((project, environment))
            return found or derived_client_side_id(project, environment)

    def client_side_ids(self) -> dict[tuple[str, str], str]:
        """Every environment's client-side ID, by ``(project, environment)``."""
        with self.lock:
            return {
                (project, env): self.client_side_id(project, env)
                for project, envs in self._data.projects.items()
                for env in envs
            }

    def has_environment(self, project: str, environment: str) -> bool:
        with self.lock:
            return environment in self._data.projects.get(project, ())

    # -- rendering -----------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def new_id(self) -> str:
        with self.lock:
            while True:
                candidate = f"{self._rng.getrandbits(96):024x}"
                if candidate not in self._data.stores:
                    return candidate

    def status_of(self, store: Store) -> dict[str, Any]:
        if store.status is not None:
            return copy.deepcopy(store.status)
        if self.status_provider is not None:
            provided = self.status_provider(store)
            if provided is not None:
                return provided
        status: dict[str, Any] = {"available": store.on, "potentiallyStale": False}
        if store.on and store.last_sync_ms is not None:
            status["lastSync"] = store.last_sync_ms
        return status

    def render(self, store: Store, *, with_config: bool, masked: bool = True) -> dict[str, Any]:
        """A store as the API returns it (``with_config`` for single-store answers)."""
        with self.lock:
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
                "_status": self.status_of(store),
            }
            if with_config:
                cfg = copy.deepcopy(store.config)
                out["config"] = mask_config(store.integration_key, cfg) if masked else cfg
            return out

    # -- the API operations ----------------------------------------------------------------

    def check_scope(
        self, project: str, environment: str, integration_key: str, store_id: str | None = None
    ) -> Store | None:
        """404 ``ApiProblem`` unless the project, environment, kind (and store) exist."""
        with self.lock:
            if not self.has_environment(project, environment):
                raise ApiProblem(404, "not_found", "Environment or project not found")
            if integration_key not in FIELDS:
                raise ApiProblem(404, "not_found", f"Unknown integration key {integration_key!r}")
            if store_id is None:
                return None
            store = self._data.stores.get(store_id)
            if store is None or (store.project, store.environment, store.integration_key) != (
                project,
                environment,
                integration_key,
            ):
                raise ApiProblem(404, "not_found", "Big segment store integration not found")
            return store

    def list_stores(self) -> list[dict[str, Any]]:
        """Every store, account-wide, without ``config``."""
        with self.lock:
            return [self.render(s, with_config=False) for s in self._data.stores.values()]

    def get_store(
        self, project: str, environment: str, integration_key: str, store_id: str
    ) -> dict[str, Any]:
        with self.lock:
            store = self.check_scope(project, environment, integration_key, store_id)
            assert store is not None
            return self.render(store, with_config=True)

    def create_store(
        self,
        project: str,
        environment: str,
        integration_key: str,
        body: Mapping[str, Any],
        *,
        store_id: str | None = None,
        version: int = 1,
        status: dict[str, Any] | None = None,
    ) -> Store:
        """Validate and add a store (``ApiProblem`` on any problem)."""
        with self.lock:
            self.check_scope(project, environment, integration_key)
            if "config" not in body:
                raise invalid("config is required")
            name, on, tags = validate_fields(
                body.get("name", ""), body.get("on", False), body.get("tags", [])
            )
            config = validate_config(integration_key, body["config"])
            if self._data.unique_names and any(
                (s.project, s.environment, s.integration_key, s.name)
                == (project, environment, integration_key, name)
                for s in self._data.stores.values()
            ):
                raise ApiProblem(
                    409,
                    "optimistic_locking_error",
                    f"A {integration_key} integration named {name!r} already exists in"
                    f" {project}/{environment}",
                )
            store = Store(
                id=store_id or self.new_id(),
                project=project,
                environment=environment,
                integration_key=integration_key,
                name=name,
                on=on,
                tags=tags,
                config=config,
                version=version,
                status=copy.deepcopy(status),
                last_sync_ms=self.now_ms() if on else None,
            )
            self._data.stores[store.id] = store
            self._changed(store)
            return store

    def create_api(
        self, project: str, environment: str, integration_key: str, body: Any
    ) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise invalid("the request body must be a JSON object")
        with self.lock:
            store = self.create_store(project, environment, integration_key, body)
            return self.render(store, with_config=True)

    def patch_store(
        self, project: str, environment: str, integration_key: str, store_id: str, ops: Any
    ) -> dict[str, Any]:
        """Apply a JSON Patch; failed ``test`` ops are 409, anything else wrong is 400."""
        with self.lock:
            store = self.check_scope(project, environment, integration_key, store_id)
            assert store is not None
            document = self.render(store, with_config=True, masked=False)
            try:
                result = jsonpatch.JsonPatch(check_patch(ops)).apply(document)
            except jsonpatch.JsonPatchTestFailed as exc:
                raise ApiProblem(
                    409, "optimistic_locking_error", f"Conflict: patch test failed ({exc})"
                ) from exc
            except (
                jsonpatch.JsonPatchException,
                jsonpointer.JsonPointerException,
                TypeError,
                KeyError,
                IndexError,
                ValueError,
            ) as exc:
                raise invalid(f"Invalid patch: {exc}") from exc
            self._apply_changes(store, result)
            return self.render(store, with_config=True)

    def _apply_changes(self, store: Store, new: Mapping[str, Any]) -> bool:
        """Validate ``new`` name/on/tags/config and store them; bump version if changed."""
        if "config" not in new:
            raise invalid("config is required")
        name, on, tags = validate_fields(new.get("name"), new.get("on"), new.get("tags"))
        config = validate_config(store.integration_key, new["config"])
        before = (store.name, store.on, store.tags, store.config)
        if before == (name, on, tags, config):
            return False
        if on and not store.on:
            store.last_sync_ms = self.now_ms()
        store.name, store.on, store.tags, store.config = name, on, tags, config
        store.version += 1
        self._changed(store)
        return True

    def _changed(self, store: Store) -> None:
        if self.on_store_change is not None:
            self.on_store_change(store)

    def delete_store(
        self, project: str, environment: str, integration_key: str, store_id: str
    ) -> None:
        with self.lock:
            self.check_scope(project, environment, integration_key, store_id)
            del self._data.stores[store_id]

    # -- the side door ---------------------------------------------------------------------

    def store(self, store_id: str) -> Store:
        """The live ``Store`` object (unmasked); ``KeyError`` if unknown."""
        with self.lock:
            return self._data.stores[store_id]

    def stores(self) -> list[Store]:
        with self.lock:
            return list(self._data.stores.values())

    def mutate_store(self, store_id: str, changes: Mapping[str, Any]) -> Store:
        """Change a store out of band, as an edit in the LaunchDarkly UI would: ``name``,
        ``on``, ``tags`` replace; ``config`` merges into the current config. A real change bumps
        ``version``. ``status`` (an object, or ``None`` to go back to the computed status)
        replaces ``_status`` without a version bump. ``ApiProblem`` on bad input."""
        unknown = sorted(set(changes) - {"name", "on", "tags", "config", "status"})
        if unknown:
            raise invalid(f"cannot change {', '.join(unknown)}")
        with self.lock:
            store = self._data.stores.get(store_id)
            if store is None:
                raise ApiProblem(404, "not_found", f"no store {store_id!r}")
            if "status" in changes:
                self.set_status(store_id, changes["status"])
            new: dict[str, Any] = {
                "name": changes.get("name", store.name),
                "on": changes.get("on", store.on),
                "tags": changes.get("tags", store.tags),
                "config": store.config,
            }
            if "config" in changes:
                if not isinstance(changes["config"], dict):
                    raise invalid("config must be an object")
                new["config"] = {**store.config, **changes["config"]}
            self._apply_changes(store, new)
            return store

    def set_status(self, store_id: str, status: Mapping[str, Any] | None) -> None:
        """Override a store's ``_status`` (``None`` restores the computed one)."""
        if status is not None:
            check_status(status)
        with self.lock:
            store = self._data.stores.get(store_id)
            if store is None:
                raise ApiProblem(404, "not_found", f"no store {store_id!r}")
            store.status = copy.deepcopy(dict(status)) if status is not None else None

    def record_request(self, record: RequestRecord) -> None:
        with self.lock:
            self.requests.append(record)

    def record_violation(self, message: str) -> None:
        with self.lock:
            self.contract_violations.append(message)

    def clear_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    def export_store(self, store: Store) -> dict[str, Any]:
        """One store, unmasked, in seed format."""
        with self.lock:
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

    def remove_store(self, store_id: str) -> None:
        """Delete a store out of band; ``KeyError`` if unknown."""
        with self.lock:
            del self._data.stores[store_id]

    def snapshot(self) -> dict[str, Any]:
        """The whole account, unmasked, in seed format (it can be loaded back)."""
        with self.lock:
            data = self._data
            return {
                "tokens": list(data.tokens) if data.tokens is not None else None,
                "revokedTokens": sorted(data.revoked_tokens),
                "entitlement": data.entitlement,
                "uniqueNames": data.unique_names,
                "projects": [
                    {
                        "key": k,
                        "environments": [
                            {"key": e, "clientSideId": self.client_side_id(k, e)} for e in v
                        ],
                    }
                    for k, v in data.projects.items()
                ],
                "stores": [self.export_store(s) for s in data.stores.values()],
            }

    def replace_contents(self, other: EmulatorState) -> None:
        """Take over ``other``'s account (used to re-seed a running emulator)."""
        with self.lock, other.lock:
            self._data = other._data
