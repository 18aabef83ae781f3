"""The emulated account's settings: who may call it, and which environments it has.

``AccountData`` holds everything an account is (tokens, revoked tokens, projects and their
environments, client-side IDs, stores, the big-segments entitlement and the unique-names quirk);
``AccountSettings`` is the part of ``EmulatorState`` that reads and changes the settings:
whether a token is accepted, which environments exist, and each environment's client-side ID
(seeded, else ``derived_client_side_id``). It works under the state's re-entrant lock.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.emulator.records import Store


def derived_client_side_id(project: str, environment: str) -> str:
    """The emulator's deterministic stand-in for an environment's client-side ID: 24 hex
    characters derived from the project and environment keys."""
    return hashlib.sha256(f"{project}/{environment}".encode()).hexdigest()[:24]


@dataclass(slots=True)
class AccountData:
    """One emulated account's settings and stores (``EmulatorState`` owns and locks it)."""

    tokens: list[str] | None = None
    revoked_tokens: set[str] = field(default_factory=set)
    projects: dict[str, list[str]] = field(default_factory=dict)
    client_side_ids: dict[tuple[str, str], str] = field(default_factory=dict)
    stores: dict[str, Store] = field(default_factory=dict)
    entitlement: bool = True
    unique_names: bool = False


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
