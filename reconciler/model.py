"""Domain values shared by every layer: addresses, secrets, desired and live stores.

These are frozen dataclasses with no behaviour beyond formatting. The manifest loader produces
``DesiredState``; the client produces ``LiveStore`` values; the planner turns both into a
``Plan`` (see ``plan.py``). A ``Secret`` is the only way a secret value travels through the
program: its ``repr`` and ``str`` never show the value, so a secret cannot leak by accident
through logging, exceptions or rendering.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

IntegrationKey = Literal["redis", "dynamodb"]
INTEGRATION_KEYS: tuple[IntegrationKey, ...] = ("redis", "dynamodb")
DEFAULT_OWNER_TAG = "managed-by:reconciler"
PROTECT_TAG = "reconciler:protected"
"""The tag ``protect: true`` puts on a live store; reserved, like the ownership tag."""
SENSITIVE = "(sensitive)"


@dataclass(frozen=True, slots=True)
class Location:
    """Where a value was declared: ``file:line:column`` (1-based)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Secret:
    """A secret value. ``source`` says where it came from: ``env:NAME`` or ``inline``."""

    value: str = field(repr=False)
    source: str

    def __repr__(self) -> str:
        return f"Secret(source={self.source!r})"

    def __str__(self) -> str:
        return SENSITIVE

    @property
    def env_var(self) -> str | None:
        """The environment variable this secret was read from, if any."""
        return self.source[4:] if self.source.startswith("env:") else None


ConfigValue = str | bool | Secret


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """``project/environment/integrationKey``, plus the name when an environment holds
    more than one store of one kind."""

    project: str
    environment: str
    integration_key: str
    name: str | None = None

    def __str__(self) -> str:
        base = f"{self.project}/{self.environment}/{self.integration_key}"
        return f"{base}/{self.name}" if self.name is not None else base

    @property
    def slot(self) -> tuple[str, str, str]:
        """The (project, environment, integrationKey) triple, without the name."""
        return (self.project, self.environment, self.integration_key)


@dataclass(frozen=True, slots=True)
class IgnoreRule:
    """Accepted drift on one field of one store, with a reason and an expiry date."""

    field: str  # "name", "on", "tags" or "config.<key>"
    reason: str
    expires: datetime.date
    location: Location


@dataclass(frozen=True, slots=True)
class DesiredStore:
    """One store as the manifests declare it, secrets still wrapped in ``Secret``."""

    project: str
    environment: str
    integration_key: IntegrationKey
    name: str
    on: bool
    tags: tuple[str, ...]
    config: Mapping[str, ConfigValue]
    location: Location
    protect: bool = False
    ignore: tuple[IgnoreRule, ...] = ()

    @property
    def slot(self) -> tuple[str, str, str]:
        return (self.project, self.environment, self.integration_key)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """Per-project settings from the manifests (``prune``, ``safety``), with where ``prune``
    was set. ``change_threshold`` and ``min_stores`` are ``None`` when no manifest sets them
    (the planner then applies its defaults)."""

    key: str
    prune: bool = False
    location: Location | None = None
    change_threshold: float | None = None
    min_stores: int | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the manifests declare: stores, and the projects in scope."""

    stores: tuple[DesiredStore, ...]
    projects: Mapping[str, ProjectSettings]


@dataclass(frozen=True, slots=True)
class Environment:
    """One LaunchDarkly environment, as the environment reads return it (API-NOTES §9).
    ``client_side_id`` (the API's ``_id``) is the key prefix the SDKs read big segments
    under. The SDK and mobile keys the API also returns are secrets and are never kept."""

    project: str
    key: str
    critical: bool
    client_side_id: str


@dataclass(frozen=True, slots=True)
class ProjectEnvironments:
    """What LaunchDarkly says about one project: whether it exists, and its environments."""

    project: str
    exists: bool
    environments: tuple[Environment, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(e.key for e in self.environments)


@dataclass(frozen=True, slots=True)
class StoreError:
    """One entry of ``_status.errors``."""

    status_code: int | None
    message: str
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """The connection ``_status`` LaunchDarkly reports for a store."""

    available: bool | None = None
    potentially_stale: bool | None = None
    last_sync: int | None = None
    last_error: int | None = None
    errors: tuple[StoreError, ...] = ()


NO_STATUS = StoreStatus()
"""The status of a store LaunchDarkly reported nothing for."""


@dataclass(frozen=True, slots=True)
class LiveStore:
    """One store as LaunchDarkly returns it. ``config`` is ``None`` when it came from a list
    call that omits it; otherwise it holds the API's masked, normalised values."""

    id: str
    project: str
    environment: str
    integration_key: str
    name: str
    on: bool
    tags: tuple[str, ...]
    version: int
    config: Mapping[str, object] | None
    status: StoreStatus

    @property
    def slot(self) -> tuple[str, str, str]:
        return (self.project, self.environment, self.integration_key)


def redact(value: object) -> object:
    """A JSON-able copy of ``value`` with every ``Secret`` replaced by ``(sensitive)``."""
    if isinstance(value, Secret):
        return SENSITIVE
    if isinstance(value, Mapping):
        return {str(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def reveal(value: object) -> object:
    """A JSON-able copy of ``value`` with every ``Secret`` replaced by its value: only for
    the request body that is about to be sent."""
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): reveal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [reveal(v) for v in value]
    return value
