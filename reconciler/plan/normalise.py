"""Normalisation of store fields, one function per side, so no default ever shows as a diff.

LaunchDarkly fills in defaults, returns ``port`` as a string, masks secrets and keeps tags in
whatever order they were sent. Both the declared and the live side pass through this module
before the planner compares them: missing optional config keys take the integration's default,
ports become strings, booleans sent as strings become booleans, and tags become a sorted set.
This is the only place that knows those rewrites.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

from reconciler.integrations import ConfigField, fields_by_key
from reconciler.model import ConfigValue, Secret


@cache
def field_specs(integration_key: str) -> Mapping[str, ConfigField]:
    """``fields_by_key``, built once per integration kind (the planner asks per store)."""
    return fields_by_key(integration_key)


def _normal_scalar(spec: ConfigField | None, value: object) -> object:
    if spec is None:
        return value
    if spec.type == "port" and isinstance(value, int | str) and not isinstance(value, bool):
        text = str(value).strip()
        return str(int(text)) if text.isdigit() else text
    if spec.type == "boolean" and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return value


def desired_config(
    integration_key: str, config: Mapping[str, ConfigValue]
) -> dict[str, ConfigValue]:
    """The declared config with defaults filled in and ports as strings; secrets stay wrapped."""
    out: dict[str, ConfigValue] = {}
    specs = field_specs(integration_key)
    for key, spec in specs.items():
        if key in config:
            value = config[key]
            if isinstance(value, Secret):
                out[key] = value
            else:
                normal = _normal_scalar(spec, value)
                out[key] = normal if isinstance(normal, str | bool) else value
        elif spec.default is not None:
            out[key] = Secret(str(spec.default), "default") if spec.secret else spec.default
    for key, value in config.items():  # keys the table does not know are kept as they are
        out.setdefault(key, value)
    return out


def live_config(integration_key: str, config: Mapping[str, object]) -> dict[str, object]:
    """The config LaunchDarkly returned, with defaults filled in and rewrites undone."""
    specs = field_specs(integration_key)
    out: dict[str, object] = {}
    for key, spec in specs.items():
        if key in config and config[key] is not None:
            out[key] = _normal_scalar(spec, config[key])
        elif spec.default is not None:
            out[key] = spec.default
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
