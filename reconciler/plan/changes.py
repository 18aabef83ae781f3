"""What a plan is: ``Change`` per store, ``Unmanaged`` stores, and the ``Plan`` that holds them.

Frozen values, no behaviour beyond counting: ``planner`` builds them, ``safety`` checks them,
``codec`` turns them into JSON and back, renderers show them and the executor carries them out.
A ``Change`` may hold ``Secret`` values in its ``body``/``patch`` (never in ``before``/``after``,
which are display views); ``desired``/``live`` are the stores it was computed from, kept for
the renderers and the executor and not part of the change's value (``compare=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from reconciler.model import (
    DEFAULT_OWNER_TAG,
    Address,
    DesiredStore,
    LiveStore,
    ProjectSettings,
)
from reconciler.model import PROTECT_TAG as PROTECT_TAG  # re-exported: the plan layer's name

Action = Literal["create", "update", "delete", "no-op"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete", "no-op")
SecretState = Literal["verified", "unverifiable", "changed"]

PENDING_PREFIX = "reconciler:pending:"
"""A store created by a run still checking it for twins carries ``PENDING_PREFIX + run id``
(``reconciler.apply.twins``); plans neither diff nor delete that tag."""


def is_pending(tags: tuple[str, ...] | list[str]) -> bool:
    return any(tag.startswith(PENDING_PREFIX) for tag in tags)


@dataclass(frozen=True, slots=True)
class SecretCheck:
    """How a declared secret compares with what the API returned for it."""

    key: str
    state: SecretState


@dataclass(frozen=True, slots=True)
class Change:
    """One planned change to one store. ``body`` (the POST body of a create) and ``patch``
    (the JSON Patch of an update) may hold ``Secret`` objects; ``before``/``after`` are the
    display views, secrets already masked."""

    address: Address
    action: Action
    id: str | None
    version: int | None
    before: Mapping[str, object] | None
    after: Mapping[str, object] | None
    patch: tuple[Mapping[str, object], ...] = ()
    body: Mapping[str, object] | None = None
    secrets: tuple[SecretCheck, ...] = ()
    reason: str = ""
    adopt: bool = False
    notes: tuple[str, ...] = ()
    protected: bool = False
    critical: bool = False  # the environment is marked critical in LaunchDarkly
    desired: DesiredStore | None = field(default=None, compare=False)
    live: LiveStore | None = field(default=None, compare=False)

    @property
    def is_change(self) -> bool:
        return self.action != "no-op"


@dataclass(frozen=True, slots=True)
class Unmanaged:
    """A live store in a scoped project that no manifest declares and reconciler does not own."""

    address: Address
    id: str
    live: LiveStore = field(compare=False)


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything ``apply`` would do, sorted by address; pure data."""

    changes: tuple[Change, ...]
    unmanaged: tuple[Unmanaged, ...]
    projects: tuple[str, ...]
    live_in_scope: int
    owner_tag: str = DEFAULT_OWNER_TAG
    live_by_project: Mapping[str, int] = field(default_factory=dict)
    safety: Mapping[str, ProjectSettings] = field(default_factory=dict)
    targets: tuple[str, ...] = ()  # --target prefixes; empty: the whole scope

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        counts["unmanaged"] = len(self.unmanaged)
        return counts

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    @property
    def in_sync(self) -> bool:
        """No change and no unmanaged store: what ``drift`` calls clean."""
        return not self.has_changes and not self.unmanaged
