"""The emulator's account: tokens, projects, stores, and what happened to them.

``EmulatorState`` is the single source of truth behind the HTTP app and the Python API tests use.
It keeps stores unmasked, masks secrets when it renders them for the API, bumps ``version`` on
every change, computes ``_status`` (or returns one set through the side door), and records the
request log and any contract violations the app detects. All access goes through one re-entrant
lock, so the threaded server and a test thread can use it at once. Nothing is written to disk.
Its account settings (tokens, projects, client-side IDs) live in ``reconciler.emulator.account``,
its records and their renderings in ``reconciler.emulator.records``.
"""

from __future__ import annotations

import copy
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jsonpatch
import jsonpointer

from reconciler.emulator.account import (
    AccountData,
    AccountSettings,
    NameKey,
    derived_client_side_id,
)
from reconciler.emulator.manifests import FIELDS
from reconciler.emulator.records import (
    RequestRecord,
    StatusProvider,
    Store,
    render_store,
    store_seed,
    store_status,
)
from reconciler.emulator.rules import (
    ApiProblem,
    check_patch,
    check_status,
    invalid,
    validate_config,
    validate_fields,
)

__all__ = [
    "ID_RE",
    "EmulatorState",
    "RequestRecord",
    "StatusProvider",
    "Store",
    "derived_client_side_id",
]

ID_RE = re.compile(r"^[0-9a-f]{24}$")


class EmulatorState(AccountSettings):
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
        self._data = AccountData(
            tokens=list(tokens) if tokens is not None else None,
            entitlement=entitlement,
            unique_names=unique_names,
        )
        for key, environments in (projects or {}).items():
            self.add_project(key, environments)
        self.requests: list[RequestRecord] = []
        self.contract_violations: list[str] = []
        self.status_provider: StatusProvider | None = None
        self.on_store_change: Callable[[Store], None] | None = None

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
        return store_status(store, self.status_provider)

    def render(self, store: Store, *, with_config: bool, masked: bool = True) -> dict[str, Any]:
        """A store as the API returns it (``with_config`` for single-store answers)."""
        with self.lock:
            return render_store(
                store,
                self.status_of(store),
                with_config=with_config,
                masked=masked,
                mask_style=self._data.mask_style,
            )

    # -- the API operations ----------------------------------------------------------------

    def check_scope(self, project: str, environment: str, integration_key: str) -> None:
        """404 ``ApiProblem`` unless the project, environment and integration kind exist."""
        with self.lock:
            if not self.has_environment(project, environment):
                raise ApiProblem(404, "not_found", "Environment or project not found")
            if integration_key not in FIELDS:
                raise ApiProblem(404, "not_found", f"Unknown integration key: {integration_key}")

    def find_store(
        self, project: str, environment: str, integration_key: str, store_id: str
    ) -> Store:
        """The store at this address; 404 ``ApiProblem`` if it or its scope does not exist."""
        with self.lock:
            self.check_scope(project, environment, integration_key)
            store = self._data.stores.get(store_id)
            if store is None or (store.project, store.environment, store.integration_key) != (
                project,
                environment,
                integration_key,
            ):
                raise ApiProblem(404, "not_found", "Big segment store integration not found")
            return store

    def list_stores(self) -> list[dict[str, Any]]:
        """Every store, account-wide, without ``config`` unless ``list_config`` is on."""
        with self.lock:
            with_config = self._data.list_config
            return [self.render(s, with_config=with_config) for s in self._data.stores.values()]

    def get_store(
        self, project: str, environment: str, integration_key: str, store_id: str
    ) -> dict[str, Any]:
        with self.lock:
            store = self.find_store(project, environment, integration_key, store_id)
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
            if (
                self._data.unique_names
                and self._data.names[(project, environment, integration_key, name)]
            ):
                raise ApiProblem(
                    409,
                    "optimistic_locking_error",
                    f'A {integration_key} integration named "{name}" already exists in'
                    f" environment {environment} of project {project}.",
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
            self._data.names[_name_key(store)] += 1
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
            store = self.find_store(project, environment, integration_key, store_id)
            document = self.render(store, with_config=True, masked=False)
            try:
                result = document
                for op in check_patch(ops):
                    result = _apply_op(result, op)
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
        self._data.names[_name_key(store)] -= 1
        store.name, store.on, store.tags, store.config = name, on, tags, config
        self._data.names[_name_key(store)] += 1
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
            self.find_store(project, environment, integration_key, store_id)
            self.remove_store(store_id)

    # -- the side door ---------------------------------------------------------------------

    def store(self, store_id: str) -> Store:
        """The live ``Store`` object (unmasked); ``KeyError`` if unknown."""
        with self.lock:
            return self._data.stores[store_id]

    def has_store(self, store_id: str) -> bool:
        with self.lock:
            return store_id in self._data.stores

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
                raise ApiProblem(404, "not_found", f"no store {store_id}")
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
                raise ApiProblem(404, "not_found", f"no store {store_id}")
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
            return store_seed(store)

    def remove_store(self, store_id: str) -> None:
        """Delete a store out of band; ``KeyError`` if unknown."""
        with self.lock:
            store = self._data.stores.pop(store_id)
            self._data.names[_name_key(store)] -= 1

    def snapshot(self) -> dict[str, Any]:
        """The whole account, unmasked, in seed format (it can be loaded back)."""
        with self.lock:
            data = self._data
            return {
                "tokens": list(data.tokens) if data.tokens is not None else None,
                "revokedTokens": sorted(data.revoked_tokens),
                "entitlement": data.entitlement,
                "uniqueNames": data.unique_names,
                "maskStyle": data.mask_style,
                "listConfig": data.list_config,
                "environmentReadDenied": data.environment_read_denied,
                "projects": [
                    {"key": k, "environments": [self._environment_seed(k, e) for e in v]}
                    for k, v in data.projects.items()
                ],
                "stores": [self.export_store(s) for s in data.stores.values()],
            }

    def _environment_seed(self, project: str, environment: str) -> dict[str, Any]:
        details = self._data.environments[(project, environment)]
        return {
            "key": environment,
            "clientSideId": self.client_side_id(project, environment),
            "critical": details.critical,
            "apiKey": details.api_key,
            "mobileKey": details.mobile_key,
        }

    def replace_contents(self, other: EmulatorState) -> None:
        """Take over ``other``'s account (used to re-seed a running emulator)."""
        with self.lock, other.lock:
            self._data = other._data


def _name_key(store: Store) -> NameKey:
    return (store.project, store.environment, store.integration_key, store.name)


def _apply_op(document: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """``document`` after one JSON Patch operation; a failed ``test`` is a 409 whose message
    says, as LaunchDarkly's do, what did not match."""
    try:
        result: dict[str, Any] = jsonpatch.JsonPatch([op]).apply(document)
    except jsonpatch.JsonPatchTestFailed as exc:
        path = op["path"]
        raise ApiProblem(
            409,
            "optimistic_locking_error",
            f"Conflict: the patch tests {path or 'the document'} for a value it does not have;"
            " someone else changed this integration. Read it again and retry.",
        ) from exc
    return result
