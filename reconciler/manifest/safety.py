"""Rules for the GitOps safety settings of a manifest: ignore rules and per-project settings.

A store's ``ignore`` rules accept drift on one field each (``name``, ``on``, ``tags`` or
``config.<key>`` of the store's integration) and need a ``reason`` and an ``expires`` date;
``check_ignore_rule`` checks one rule and says what is wrong with each of its keys. A project's
``prune`` and ``safety`` values may be declared by several documents and must agree;
``SettingsBook`` remembers the first declaration of each and names both places when another
differs. Like ``manifest_rules``, everything here returns messages instead of raising, and shows
a value only through the ``shown`` text the caller chose. Expired rules are not an error here:
the planner decides what an expired rule means.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from reconciler.integrations import FIELDS
from reconciler.manifest.rules import ANY_FIELD, did_you_mean, fmt_path, kind_of
from reconciler.manifest.yamlpos import Path
from reconciler.model import PROTECT_TAG, Location, ProjectSettings

BASE_IGNORE_FIELDS: tuple[str, ...] = ("name", "on", "tags")
ANY_IGNORE_FIELDS: tuple[str, ...] = (*BASE_IGNORE_FIELDS, *(f"config.{k}" for k in ANY_FIELD))
"""Every field an ignore rule may name, for a store of any integration kind."""

SAFETY_SETTINGS: tuple[str, ...] = ("changeThreshold", "minStores")
Setting = bool | int | float
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


@cache
def ignore_fields(kind: str) -> tuple[str, ...]:
    """The fields an ignore rule may name on a store of integration ``kind``."""
    return (*BASE_IGNORE_FIELDS, *(f"config.{f.key}" for f in FIELDS[kind]))


def reserved_tag_problems(tags: object, path: Path) -> list[tuple[Path, str]]:
    """The protection marker is not a tag to declare (in a store or in ``defaults``):
    ``protect`` sets and removes it, and no ignore rule or default reaches it."""
    problems: list[tuple[Path, str]] = []
    for i, tag in enumerate(tags if isinstance(tags, list) else ()):
        if tag == PROTECT_TAG:
            at: Path = (*path, "tags", i)
            message = f"the tag '{PROTECT_TAG}' is reserved; use 'protect: true'"
            problems.append((at, f"{fmt_path(at)}: {message}"))
    return problems


@dataclass(frozen=True, slots=True)
class CheckedRule:
    """One ignore rule after checking: its values, or ``None`` for each that is wrong."""

    problems: tuple[tuple[Path, str], ...]  # (path of the wrong value, message)
    field: str | None
    reason: str | None
    expires: datetime.date | None


def check_ignore_rule(
    rule: Mapping[str, object],
    path: Path,
    allowed: Sequence[str],
    *,
    scope: str,
    shown: Callable[[Path, object], str],
) -> CheckedRule:
    """Check the rule at ``path``: ``field`` against ``allowed`` (the fields of ``scope``, such
    as "redis stores"), ``expires`` as a date and ``reason`` as text that is not blank. Missing
    keys and a ``reason`` of the wrong type are the schema's to report."""
    problems: list[tuple[Path, str]] = []
    name, at = rule.get("field"), (*path, "field")
    if "field" in rule and not (isinstance(name, str) and name in allowed):
        if isinstance(name, str):
            text = shown(at, name)
            hint = did_you_mean(name, allowed) if text.startswith("'") else ""
            message = f"{text} is not a field of {scope} ({hint}allowed: {', '.join(allowed)})"
        else:
            message = f"expected a field name (a string), got {kind_of(name)}"
        problems.append((at, message))
    expires: datetime.date | None = None
    if "expires" in rule:
        at = (*path, "expires")
        error, expires = parse_expiry(rule["expires"], shown(at, rule["expires"]))
        if error is not None:
            problems.append((at, error))
    reason = rule.get("reason")
    if isinstance(reason, str) and reason and not reason.strip():
        problems.append(((*path, "reason"), "must not be blank"))
    return CheckedRule(
        problems=tuple(problems),
        field=name if isinstance(name, str) and name in allowed else None,
        reason=reason if isinstance(reason, str) and reason.strip() else None,
        expires=expires,
    )


def parse_expiry(value: object, shown: str) -> tuple[str | None, datetime.date | None]:
    """(problem, None) or (None, the date): a YAML date or a ``YYYY-MM-DD`` string, never a
    timestamp with a time of day."""
    expected = "expected a date YYYY-MM-DD"
    if isinstance(value, datetime.datetime):
        return f"{expected}, got a date with a time", None
    if isinstance(value, datetime.date):
        return None, value
    if not isinstance(value, str):
        return f"{expected}, got {kind_of(value)}", None
    if not _DATE_RE.match(value):
        return f"{expected}, got {shown}", None
    try:
        return None, datetime.date.fromisoformat(value)
    except ValueError:
        return f"{shown} is not a calendar date ({expected})", None


def _text(value: Setting) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@dataclass(slots=True)
class SettingsBook:
    """Per-project settings across all documents: the first declaration of each wins, and a
    different one is a problem naming both places."""

    projects: dict[str, Location] = field(default_factory=dict)
    values: dict[tuple[str, str], tuple[Setting, Location]] = field(default_factory=dict)

    def declare(self, project: str, setting: str, value: Setting, where: Location) -> str | None:
        """Record ``setting`` (``prune``, ``safety.minStores``...); a conflict's message."""
        first, first_at = self.values.setdefault((project, setting), (value, where))
        if first == value:  # 1 and 1.0 agree; each setting has one type, so True never meets 1
            return None
        return (
            f"{setting}: project '{project}' sets {setting}: {_text(value)} here but"
            f" {setting}: {_text(first)} at {first_at}"
        )

    def settings(self) -> dict[str, ProjectSettings]:
        """The settings of every project some document names, sorted by key."""
        out: dict[str, ProjectSettings] = {}
        for key, where in sorted(self.projects.items()):
            prune, prune_at = self.values.get((key, "prune"), (False, where))
            threshold = self.values.get((key, "safety.changeThreshold"))
            min_stores = self.values.get((key, "safety.minStores"))
            out[key] = ProjectSettings(
                key=key,
                prune=prune is True,
                location=prune_at,
                change_threshold=float(threshold[0]) if threshold else None,
                min_stores=int(min_stores[0]) if min_stores else None,
            )
        return out
