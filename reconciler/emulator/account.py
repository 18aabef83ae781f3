"""The emulated account's settings: who may call it, and which environments it has.

``AccountData`` holds everything an account is (tokens, revoked tokens, projects and their
environments with their ``Environment`` details, stores, the big-segments entitlement and the
quirk switches: unique names, mask style, list items with config, environment reads denied);
``AccountSettings`` is the part of ``EmulatorState`` that reads and changes the settings:
whether a token is accepted, which environments exist, and each environment's client-side ID
(seeded, else ``derived_client_side_id``), ``critical`` flag and SDK/mobile keys (generated
secrets). It works under the state's re-entrant lock.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.emulator.manifests import MaskStyle
from reconciler.emulator.records import Store


def derived_client_side_id(project: str, environment: str) -> str:
    """The emulator's deterministic stand-in for an environment's client-side ID: 24 hex
    characters derived from the project and environment keys."""
    return hashlib.sha256(f"{project}/{environment}".encode()).hexdigest()[:24]


def new_sdk_key(prefix: str) -> str:
    """A fresh secret key in LaunchDarkly's shape: ``sdk-`` or ``mob-`` and a UUID."""
    return f"{prefix}-{uuid.UUID(bytes=secrets.token_bytes(16), version=4)}"


@dataclass(frozen=True, slots=True)
class Environment:
    """What the emulator knows of one environment beyond its key. ``client_side_id`` ``None``
    means derived; ``api_key`` (server-side SDK key) and ``mobile_key`` are secrets."""

    client_side_id: str | None = None
    critical: bool = False
    api_key: str = ""
    mobile_key: str = ""


NameKey = tuple[str, str, str, str]
"""(project, environment, integration key, name): what ``uniqueNames`` keeps unique."""


@dataclass(slots=True)
class AccountData:
    """One emulated account's settings and stores (``EmulatorState`` owns and locks it)."""

    tokens: list[str] | None = None
    revoked_tokens: set[str] = field(default_factory=set)
    projects: dict[str, list[str]] = field(default_factory=dict)
    environments: dict[tuple[str, str], Environment] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)
    names: Counter[NameKey] = field(default_factory=Counter)
    entitlement: bool = True
    unique_names: bool = False
    mask_style: MaskStyle = "fixed"
    list_config: bool = False
    environment_read_denied: bool = False
    """When true, every environment read is 403 (a token without the reader role)."""


class AccountSettings:
    """Tokens, projects, client-side IDs, entitlement and the unique-names quirk of an account;
    mixed into ``EmulatorState``, which sets ``lock`` and ``_data``."""

    lock: threading.RLock
    _data: AccountData

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
            known = set(envs)
            for env in environments:
                if env not in known:
                    envs.append(env)
                    known.add(env)
                    self._data.environments[(key, env)] = Environment(
                        api_key=new_sdk_key("sdk"), mobile_key=new_sdk_key("mob")
                    )
            for env, client_side_id in (client_side_ids or {}).items():
                self.set_environment(key, env, client_side_id=client_side_id)

    def environment(self, project: str, environment: str) -> Environment:
        """The details of one environment; ``KeyError`` if unknown."""
        with self.lock:
            return self._data.environments[(project, environment)]

    def set_environment(
        self,
        project: str,
        environment: str,
        *,
        client_side_id: str | None = None,
        critical: bool | None = None,
        api_key: str | None = None,
        mobile_key: str | None = None,
    ) -> None:
        """Change the given details of an existing environment (``KeyError`` if unknown)."""
        with self.lock:
            old = self._data.environments[(project, environment)]
            self._data.environments[(project, environment)] = Environment(
                client_side_id=old.client_side_id if client_side_id is None else client_side_id,
                critical=old.critical if critical is None else critical,
                api_key=old.api_key if api_key is None else api_key,
                mobile_key=old.mobile_key if mobile_key is None else mobile_key,
            )

    def environments_of(self, project: str) -> list[str] | None:
        """A project's environment keys in creation order; ``None`` if no such project."""
        with self.lock:
            envs = self._data.projects.get(project)
            return list(envs) if envs is not None else None

    @property
    def mask_style(self) -> MaskStyle:
        """How secrets are masked on read: ``fixed`` (8 stars) or ``per-char``."""
        return self._data.mask_style

    @mask_style.setter
    def mask_style(self, value: MaskStyle) -> None:
        with self.lock:
            self._data.mask_style = value

    @property
    def list_config(self) -> bool:
        """When true, list items carry ``config`` (masked), as the official client expects."""
        return self._data.list_config

    @list_config.setter
    def list_config(self, value: bool) -> None:
        with self.lock:
            self._data.list_config = value

    @property
    def environment_read_denied(self) -> bool:
        """When true, the environment reads answer 403 to every token."""
        return self._data.environment_read_denied

    @environment_read_denied.setter
    def environment_read_denied(self, value: bool) -> None:
        with self.lock:
            self._data.environment_read_denied = value

    def client_side_id(self, project: str, environment: str) -> str:
        """The environment's client-side ID, which LaunchDarkly's SDKs (and the data plane) use
        as the key prefix of a persistent store: the seeded one, else ``derived_client_side_id``.
        ``KeyError`` for an unknown environment."""
        with self.lock:
            if not self.has_environment(project, environment):
                raise KeyError(f"{project}/{environment}")
            found = self._data.environments[(project, environment)].client_side_id
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
