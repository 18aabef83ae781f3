"""Seed files: the starting account of an emulator, in YAML or JSON.

::

    tokens: [api-test-token]          # optional; absent or null: any token starting "api-"
    revokedTokens: [api-old]          # optional; always refused with 401
    entitlement: true                 # optional; false: every API call is 403
    uniqueNames: false                # optional; true: duplicate names per environment are 409
    maskStyle: fixed                  # optional; per-char: one star per hidden character
    listConfig: false                 # optional; true: list items carry config (masked)
    environmentReadDenied: false      # optional; true: the environment reads are 403
    projects:
      - key: payments
        environments:                 # keys, or mappings with more details
          - production
          - key: staging
            clientSideId: 5f0c0ffee0c0ffee0c0ffee1   # optional; derived from the keys
            critical: true            # optional, default false
            apiKey: sdk-...           # optional SDK key and mobile key; generated if absent
            mobileKey: mob-...
    stores:
      - project: payments
        environment: production
        integrationKey: redis
        name: Payments production     # optional, default ""
        on: true                      # optional, default false
        tags: [tier:1]                # optional, default []
        config: {host: redis.internal, password: s3cret}
        id: 0123456789abcdef01234567  # optional, 24 hex characters
        version: 3                    # optional, default 1
        status: {available: false}    # optional ``_status`` override

An environment's client-side ID (its ``_id`` in the environment reads) is the key prefix of its
persistent stores (the data plane writes under it); without ``clientSideId`` it is derived from
the project and environment keys.
``state_from_seed`` validates everything with the same rules as the API and raises one
``SeedError`` listing every problem. ``EmulatorState.snapshot()`` produces this format.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from reconciler.emulator.manifests import MASK_STYLES
from reconciler.emulator.rules import ApiProblem, check_status
from reconciler.emulator.state import ID_RE, EmulatorState, Store

FLAGS = {"entitlement": True, "uniqueNames": False, "listConfig": False}
FLAGS["environmentReadDenied"] = False
TOP_KEYS = frozenset({"tokens", "revokedTokens", "maskStyle", "projects", "stores"} | set(FLAGS))
ENVIRONMENT_KEYS = frozenset({"key", "clientSideId", "critical", "apiKey", "mobileKey"})
STORE_KEYS = frozenset(
    {"project", "environment", "integrationKey", "name", "on", "tags", "config", "id"}
    | {"version", "status"}
)


class SeedError(Exception):
    """A seed file or seed document is invalid; the message lists every problem. (The
    emulator's own error: the emulator imports nothing from the product.)"""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid emulator seed {source}:\n{lines}")


def read_seed_file(path: str | Path) -> Any:
    """Parse a YAML or JSON seed file (``SeedError`` if unreadable or malformed)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SeedError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
    try:
        if str(path).endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SeedError(str(path), [f"not valid YAML/JSON: {exc}"]) from exc


def load_seed_file(
    path: str | Path,
    *,
    clock: Callable[[], float] | None = None,
    rng: random.Random | None = None,
) -> EmulatorState:
    """A new ``EmulatorState`` from a seed file."""
    return state_from_seed(read_seed_file(path), source=str(path), clock=clock, rng=rng)


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v for v in value)


def state_from_seed(
    data: object,
    *,
    source: str = "<seed>",
    clock: Callable[[], float] | None = None,
    rng: random.Random | None = None,
) -> EmulatorState:
    """A new ``EmulatorState`` from a parsed seed document. Linear in its size."""
    problems: list[str] = []
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise SeedError(source, ["the seed must be a mapping"])
    for key in sorted(str(k) for k in set(data) - TOP_KEYS):
        problems.append(f"{key}: unknown key (known: {', '.join(sorted(TOP_KEYS))})")
    state = _settings(data, problems, clock, rng)
    projects = data.get("projects") or []
    if not isinstance(projects, list):
        problems.append("projects: must be a list")
        projects = []
    for i, project in enumerate(projects):
        problem = _add_project(state, project)
        if problem:
            problems.append(f"projects[{i}]{problem}")
    stores = data.get("stores") or []
    if not isinstance(stores, list):
        problems.append("stores: must be a list")
        stores = []
    for i, store in enumerate(stores):
        added = _add_store(state, store)
        if isinstance(added, str):
            problems.append(f"stores[{i}]: {added}")
    if problems:
        raise SeedError(source, problems)
    return state


def _settings(
    data: Mapping[str, Any],
    problems: list[str],
    clock: Callable[[], float] | None,
    rng: random.Random | None,
) -> EmulatorState:
    """A new state with the seed's tokens and switches (problems appended to ``problems``)."""
    tokens = data.get("tokens")
    if tokens is not None and not _str_list(tokens):
        problems.append("tokens: must be a list of non-empty strings")
        tokens = None
    revoked = data.get("revokedTokens") or []
    if not _str_list(revoked):
        problems.append("revokedTokens: must be a list of non-empty strings")
        revoked = []
    flags: dict[str, bool] = {}
    for key, default in FLAGS.items():
        flags[key] = data.get(key, default)
        if not isinstance(flags[key], bool):
            problems.append(f"{key}: must be a boolean")
            flags[key] = default
    mask_style = data.get("maskStyle", "fixed")
    if mask_style not in MASK_STYLES:
        problems.append(f"maskStyle: must be one of {', '.join(MASK_STYLES)}")
        mask_style = "fixed"
    state = EmulatorState(
        tokens=tokens,
        entitlement=flags["entitlement"],
        unique_names=flags["uniqueNames"],
        clock=clock,
        rng=rng,
    )
    state.list_config = flags["listConfig"]
    state.environment_read_denied = flags["environmentReadDenied"]
    state.mask_style = mask_style
    for token in revoked:
        state.revoke_token(token)
    return state


def _add_project(state: EmulatorState, project: object) -> str:
    """Add one seed project; a problem (suffix of ``projects[i]``) or ``""``."""
    if not isinstance(project, Mapping) or set(project) - {"key", "environments"}:
        return ": must be {key, environments}"
    key: object = project.get("key")
    if not isinstance(key, str) or not key:
        return ".key: must be a non-empty string"
    envs = project.get("environments", [])
    if not isinstance(envs, list):
        return ".environments: must be a list"
    parsed: list[Mapping[str, Any]] = []
    for j, env in enumerate(envs):
        details = {"key": env} if isinstance(env, str) else env
        problem = _environment_problem(details)
        if problem:
            return f".environments[{j}]: {problem}"
        parsed.append(details)
    state.add_project(key, [e["key"] for e in parsed])
    for env in parsed:
        state.set_environment(
            key,
            env["key"],
            client_side_id=env.get("clientSideId"),
            critical=env.get("critical"),
            api_key=env.get("apiKey"),
            mobile_key=env.get("mobileKey"),
        )
    return ""


def _environment_problem(env: object) -> str:
    """What is wrong with one seed environment (a key or a mapping), or ``""``."""
    if not isinstance(env, Mapping) or set(env) - ENVIRONMENT_KEYS:
        return f"must be a key or a mapping of {', '.join(sorted(ENVIRONMENT_KEYS))}"
    if not isinstance(env.get("key"), str) or not env["key"]:
        return "key must be a non-empty string"
    for name in ("clientSideId", "apiKey", "mobileKey"):
        value = env.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            return f"{name} must be a non-empty string"
    if not isinstance(env.get("critical", False), bool):
        return "critical must be a boolean"
    return ""


def add_seed_store(state: EmulatorState, store: object, *, source: str = "<store>") -> Store:
    """Add one store given in seed format to a running state (``SeedError`` if invalid)."""
    added = _add_store(state, store)
    if isinstance(added, str):
        raise SeedError(source, [added])
    return added


def _add_store(state: EmulatorState, store: object) -> Store | str:
    """Add one seed store; the new ``Store``, or a description of the problem."""
    if not isinstance(store, Mapping):
        return "must be a mapping"
    # YAML 1.1 (PyYAML) reads an unquoted ``on:`` key as the boolean true.
    store = {("on" if key is True else key): value for key, value in store.items()}
    unknown = sorted(str(k) for k in set(store) - STORE_KEYS)
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}"
    for key in ("project", "environment", "integrationKey"):
        if not isinstance(store.get(key), str):
            return f"{key} is required and must be a string"
    store_id, version = store.get("id"), store.get("version", 1)
    if store_id is not None:
        if not isinstance(store_id, str) or not ID_RE.match(store_id):
            return "id must be 24 lowercase hex characters"
        if state.has_store(store_id):
            return f"duplicate id {store_id}"
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return "version must be a positive integer"
    where = f"{store['project']}/{store['environment']}/{store['integrationKey']}"
    try:
        status = store.get("status")
        if status is not None:
            check_status(status)
        body = {k: store[k] for k in ("name", "on", "tags", "config") if k in store}
        return state.create_store(
            store["project"],
            store["environment"],
            store["integrationKey"],
            body,
            store_id=store_id,
            version=version,
            status=status,
        )
    except ApiProblem as exc:
        return f"{where}: {exc.message}"
