"""Normalisation of store fields, one function per side, so no default ever shows as a diff.

LaunchDarkly fills in defaults, returns ``port`` as a string, masks secrets and keeps tags in
whatever order they were sent. Both the declared and the live side pass through this module
before the planner compares them: missing optional config keys take the integration's default,
ports become strings, booleans sent as strings become booleans, and tags become a sorted set.
This is the only place that knows those rewrites.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import cache

from reconciler.integrations import fields_by_key
from reconciler.model import ConfigValue, Secret


def _port(value: object) -> object:
    if type(value) is str and value.isascii() and value.isdigit() and value[0] != "0":
        return value  # already what ``str(int(...))`` makes of it
    if isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value).strip()
        return str(int(text)) if text.isdigit() else text
    return value


def _boolean(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return value


_REWRITES: Mapping[str, Callable[[object], object]] = {"port": _port, "boolean": _boolean}


@cache
def _table(
    integration_key: str,
) -> tuple[tuple[str, Callable[[object], object] | None, object, ConfigValue | None], ...]:
    """Per field of a kind, computed once: its key, its rewrite (``None``: kept as it is), its
    default on the live side and its default on the declared side (a secret's wrapped)."""
    rows = []
    for key, spec in fields_by_key(integration_key).items():
        wanted: ConfigValue | None = spec.default
        if spec.default is not None and spec.secret:
            wanted = Secret(str(spec.default), "default")
        rows.append((key, _REWRITES.get(spec.type), spec.default, wanted))
    return tuple(rows)


def desired_config(
    integration_key: str, config: Mapping[str, ConfigValue]
) -> dict[str, ConfigValue]:
    """The declared config with defaults filled in and ports as strings; secrets stay wrapped."""
    out: dict[str, ConfigValue] = {}
    for key, rewrite, _, default in _table(integration_key):
        if key in config:
            value = config[key]
            if rewrite is None or isinstance(value, Secret):
                out[key] = value
            else:
                normal = rewrite(value)
                out[key] = normal if isinstance(normal, str | bool) else value
        elif default is not None:
            out[key] = default
    if not out.keys() >= config.keys():
        for key, value in config.items():  # keys the table does not know are kept as they are
            out.setdefault(key, value)
    return out


def live_config(integration_key: str, config: Mapping[str, object]) -> dict[str, object]:
    """The config LaunchDarkly returned, with defaults filled in and rewrites undone."""
    out: dict[str, object] = {}
    for key, rewrite, default, _ in _table(integration_key):
        value = config.get(key)
        if value is not None:
            out[key] = value if rewrite is None else rewrite(value)
        elif default is not None:
            out[key] = default
    if not out.keys() >= config.keys():
        for key, value in config.items():
            out.setdefault(key, value)
    return out


def tag_set(tags: Iterable[str]) -> tuple[str, ...]:
    """Tags as LaunchDarkly treats them: a set, shown sorted."""
    return tuple(sorted(set(tags)))


def with_owner(tags: Iterable[str], owner_tag: str) -> tuple[str, ...]:
    """Declared tags plus the ownership tag, declaration order kept, no duplicates."""
    seen: dict[str, None] = dict.fromkeys(tags)
    seen.setdefault(owner_tag, None)
    return tuple(seen)
