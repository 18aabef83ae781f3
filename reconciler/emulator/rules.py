"""LaunchDarkly's server-side rules for big segment store bodies, as the emulator enforces them.

Config validation reads the emulator's own field table (``manifests.FIELDS``: unknown keys,
missing required keys, types: ``port`` a string of digits 1-65535, ``tlsEnabled`` a boolean,
``region`` from ``REGIONS``, ``roleArn`` an IAM role ARN) and fills defaults for missing
optional keys, as LaunchDarkly stores them. Masking on read is ``manifests.mask_config``.
Also here: the allowed JSON Patch paths,
the shape of a store's ``_links`` and of a ``_status`` set through the side door. A rule broken
here is an ``ApiProblem``, which the app turns into an error body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.emulator.manifests import FIELDS, REGIONS, ROLE_ARN

API_ROOT = "/api/v2/integration-capabilities/big-segment-store"
JSON = "application/json"
STATUS_KEYS = frozenset({"available", "potentiallyStale", "lastSync", "lastError", "errors"})
PATCHABLE_ROOTS = ("/name", "/on", "/tags", "/config")
PATCH_OPS = ("add", "remove", "replace", "move", "copy", "test")


class StoreKeys(Protocol):
    """What ``store_links`` needs of a store."""

    id: str
    project: str
    environment: str
    integration_key: str


class ApiProblem(Exception):
    """An error answer: HTTP status, LaunchDarkly error ``code`` and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiProblem:
    return ApiProblem(400, "invalid_request", message)


def validate_config(integration_key: str, config: object) -> dict[str, Any]:
    """The config as LaunchDarkly would store it (defaults filled), or ``ApiProblem`` 400."""
    fields = FIELDS.get(integration_key)
    if fields is None:
        raise ApiProblem(404, "not_found", f"Unknown integration key: {integration_key}")
    if not isinstance(config, dict):
        raise invalid("config must be an object")
    known = {f.key for f in fields}
    unknown = sorted(k for k in config if k not in known)
    if unknown:
        raise invalid(
            f"config.{unknown[0]} is not a field of the {integration_key} integration"
            f" (fields: {', '.join(sorted(known))})"
        )
    out: dict[str, Any] = {}
    for field in fields:
        key = f"config.{field.key}"
        if field.key not in config or config[field.key] is None:
            if field.required:
                raise invalid(f"{key} is required")
            out[field.key] = field.default
            continue
        value = config[field.key]
        if field.kind == "boolean":
            if not isinstance(value, bool):
                raise invalid(f"{key} must be a boolean")
        elif not isinstance(value, str):
            hint = ' (send the port as a string, e.g. "6379")' if field.kind == "port" else ""
            raise invalid(f"{key} must be a string{hint}")
        elif field.required and not value.strip():
            raise invalid(f"{key} must not be empty")
        elif field.kind == "port" and not (
            value.isascii() and value.isdigit() and 1 <= int(value) <= 65535
        ):
            raise invalid(f'{key} must be a port number 1-65535, not "{value}"')
        elif field.kind == "region" and value not in REGIONS:
            raise invalid(f'{key} "{value}" is not a supported AWS region')
        elif field.kind == "role_arn" and not ROLE_ARN.match(value):
            raise invalid(f'{key} "{value}" is not an IAM role ARN')
        out[field.key] = value
    return out


def validate_fields(name: object, on: object, tags: object) -> tuple[str, bool, list[str]]:
    """Check the top-level writable fields; ``ApiProblem`` 400 naming the bad one."""
    if not isinstance(name, str):
        raise invalid("name must be a string")
    if not isinstance(on, bool):
        raise invalid("on must be a boolean")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise invalid("tags must be an array of strings")
    return name, on, list(tags)


def check_patch(ops: object) -> list[dict[str, Any]]:
    """Check a JSON Patch document's shape and that it only writes patchable paths."""
    if not isinstance(ops, list):
        raise invalid("the request body must be a JSON Patch array")
    checked: list[dict[str, Any]] = []
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise invalid(f"patch operation {i} must be an object")
        kind, path = op.get("op"), op.get("path")
        if kind not in PATCH_OPS:
            raise invalid(f'patch operation {i}: unsupported op "{kind}"')
        if not isinstance(path, str) or not (path == "" or path.startswith("/")):
            raise invalid(f"patch operation {i}: path must be a JSON Pointer")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise invalid(f"patch operation {i}: {kind} needs a value")
        writes: Sequence[object] = ()
        if kind in ("add", "remove", "replace", "copy"):
            writes = (path,)
        elif kind == "move":
            writes = (path, op.get("from"))
        if kind in ("move", "copy") and not isinstance(op.get("from"), str):
            raise invalid(f"patch operation {i}: {kind} needs a from pointer")
        for target in writes:
            if not _patchable(target):
                raise invalid(
                    f"patch operation {i}: {target} cannot be changed"
                    f" (patchable: {', '.join(PATCHABLE_ROOTS)})"
                )
        checked.append(op)
    return checked


def _patchable(path: object) -> bool:
    return isinstance(path, str) and any(
        path == root or (root in ("/tags", "/config") and path.startswith(root + "/"))
        for root in PATCHABLE_ROOTS
    )


def store_links(store: StoreKeys) -> dict[str, dict[str, str]]:
    """The ``_links`` object of one store; hrefs are relative, as LaunchDarkly's are."""
    project = f"/api/v2/projects/{store.project}"
    return {
        "self": {
            "href": f"{API_ROOT}/{store.project}/{store.environment}"
            f"/{store.integration_key}/{store.id}",
            "type": JSON,
        },
        "parent": {"href": API_ROOT, "type": JSON},
        "project": {"href": project, "type": JSON},
        "environment": {"href": f"{project}/environments/{store.environment}", "type": JSON},
    }


def check_status(status: object) -> None:
    """``ApiProblem`` 400 unless ``status`` fits the ``BigSegmentStoreStatus`` schema."""
    if not isinstance(status, Mapping):
        raise invalid("status must be an object or null")
    unknown = sorted(set(status) - STATUS_KEYS)
    if unknown:
        raise invalid(f"unknown status key(s): {', '.join(unknown)}")
    for key in ("available", "potentiallyStale"):
        if key in status and not isinstance(status[key], bool):
            raise invalid(f"status.{key} must be a boolean")
    for key in ("lastSync", "lastError"):
        if key in status and not _is_int(status[key]):
            raise invalid(f"status.{key} must be an integer (epoch milliseconds)")
    errors = status.get("errors", [])
    if not isinstance(errors, list):
        raise invalid("status.errors must be an array")
    for error in errors:
        ok = isinstance(error, Mapping) and set(error) <= {"statusCode", "message", "timestamp"}
        ok = ok and all(_is_int(error[k]) for k in ("statusCode", "timestamp") if k in error)
        ok = ok and isinstance(error.get("message", ""), str)
        if not ok:
            raise invalid("status.errors items are {statusCode: int, message: str, timestamp: int}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
