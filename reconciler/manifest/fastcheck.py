"""A fast, conservative shape check of one manifest document, in code.

``surely_valid(data)`` returns ``True`` only for a document the shipped JSON Schema
(``schema/manifest.schema.json``) accepts, checked with plain ``isinstance`` tests and the
schema's own patterns, once per store kind. It returns ``False`` whenever it is unsure (an
unknown key, a YAML timestamp, a float where an integer may do): the loader then runs the full
JSON Schema validator, whose errors are worded exactly as before. So the schema stays the one
contract (editors read it too), and every message and position is unchanged; this only skips the
validator, about two thirds of the time a large valid manifest set took to load. A test checks,
over many mutated documents, that nothing this accepts is rejected by the schema.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

from reconciler.manifest.sources import manifest_schema

Check = Callable[[object], bool]

_TOP_KEYS = frozenset({"project", "prune", "safety", "defaults", "stores"})
_DEFAULTS_KEYS = frozenset({"on", "tags", "config", "protect", "ignore"})
_STORE_KEYS = frozenset(
    {"environment", "integrationKey", "name", "on", "tags", "config", "protect", "ignore"}
)
_STORE_REQUIRED = ("environment", "integrationKey", "name", "config")
_RULE_KEYS = frozenset({"field", "reason", "expires"})
_SAFETY_KEYS = frozenset({"changeThreshold", "minStores"})


def _text(value: object) -> bool:
    return type(value) is str and value != ""


def _string(value: object) -> bool:
    return type(value) is str


def _boolean(value: object) -> bool:
    return type(value) is bool


def _pattern(defs: dict[str, Any], name: str, *alternatives: str) -> Check:
    """A string matching the pattern of ``$defs[name]`` (or of one of its ``anyOf``
    branches), searched as JSON Schema does; ``alternatives`` are other ``$defs`` patterns."""
    spec = defs[name]
    found = [spec["pattern"]] if "pattern" in spec else []
    found += [branch["pattern"] for branch in spec.get("anyOf", ()) if "pattern" in branch]
    found += [defs[other]["pattern"] for other in alternatives]
    compiled = [re.compile(p) for p in found]
    return lambda value: type(value) is str and any(rx.search(value) for rx in compiled)


@cache
def _config_checks() -> dict[str, Check]:
    """One check per config key, built from the schema's ``$defs``."""
    defs: dict[str, Any] = manifest_schema()["$defs"]
    port_text = _pattern(defs, "port", "template")
    template = _pattern(defs, "template")
    regions = frozenset(next(b for b in defs["region"]["anyOf"] if "enum" in b)["enum"])
    role = _pattern(defs, "roleArn", "template")

    def port(value: object) -> bool:
        return (type(value) is int and 1 <= value <= 65535) or port_text(value)

    def region(value: object) -> bool:
        return (type(value) is str and value in regions) or template(value)

    return {
        "host": _text,
        "port": port,
        "username": _string,
        "password": _string,
        "tlsEnabled": _boolean,
        "tableName": _text,
        "region": region,
        "roleArn": role,
        "externalId": _text,
    }


@cache
def _kinds() -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Per integration kind: its config keys and the fields its ignore rules may name."""
    defs: dict[str, Any] = manifest_schema()["$defs"]
    return {
        kind: (
            frozenset(defs[f"{kind}Config"]["properties"]),
            frozenset(defs[f"{kind}IgnoreField"]["enum"]),
        )
        for kind in ("redis", "dynamodb")
    }


@cache
def _any() -> tuple[frozenset[str], frozenset[str]]:
    """The config keys and ignore fields that ``defaults`` may name (any kind's)."""
    defs: dict[str, Any] = manifest_schema()["$defs"]
    return frozenset(defs["anyConfig"]["properties"]), frozenset(defs["anyIgnoreField"]["enum"])


@cache
def _expires() -> re.Pattern[str]:
    return re.compile(manifest_schema()["$defs"]["ignoreRule"]["properties"]["expires"]["pattern"])


def _config(value: object, keys: frozenset[str]) -> bool:
    if type(value) is not dict:
        return False
    checks = _config_checks()
    return all(k in keys and checks[k](v) for k, v in value.items())


def _tags(value: object) -> bool:
    return type(value) is list and all(_text(tag) for tag in value)


def _rules(value: object, fields: frozenset[str]) -> bool:
    if type(value) is not list:
        return False
    expires = _expires()
    for rule in value:
        if type(rule) is not dict or rule.keys() != _RULE_KEYS:
            return False
        field, reason, until = rule["field"], rule["reason"], rule["expires"]
        if not (_text(field) and field in fields and _text(reason) and _string(until)):
            return False
        if not expires.search(until):
            return False
    return True


def _store(store: object) -> bool:
    if type(store) is not dict or not store.keys() <= _STORE_KEYS:
        return False
    if any(key not in store for key in _STORE_REQUIRED):
        return False
    kind = _kinds().get(store["integrationKey"]) if _string(store["integrationKey"]) else None
    if kind is None or not (_text(store["environment"]) and _text(store["name"])):
        return False
    config_keys, ignore_fields = kind
    return (
        _config(store["config"], config_keys)
        and ("on" not in store or _boolean(store["on"]))
        and ("protect" not in store or _boolean(store["protect"]))
        and ("tags" not in store or _tags(store["tags"]))
        and ("ignore" not in store or _rules(store["ignore"], ignore_fields))
    )


def _defaults(value: object) -> bool:
    if type(value) is not dict or not value.keys() <= _DEFAULTS_KEYS:
        return False
    any_keys, any_fields = _any()
    return (
        ("on" not in value or _boolean(value["on"]))
        and ("protect" not in value or _boolean(value["protect"]))
        and ("tags" not in value or _tags(value["tags"]))
        and ("config" not in value or _config(value["config"], any_keys))
        and ("ignore" not in value or _rules(value["ignore"], any_fields))
    )


def _safety(value: object) -> bool:
    if type(value) is not dict or not value.keys() <= _SAFETY_KEYS:
        return False
    threshold, minimum = value.get("changeThreshold", 1), value.get("minStores", 0)
    return (
        type(threshold) in (int, float)
        and 0 < threshold <= 1
        and type(minimum) is int
        and minimum >= 0
    )


def surely_valid(data: object) -> bool:
    """Whether the schema surely accepts ``data``; ``False`` means "validate it fully"."""
    if type(data) is not dict or not data.keys() <= _TOP_KEYS:
        return False
    if not (_text(data.get("project")) and type(data.get("stores")) is list):
        return False
    return (
        ("prune" not in data or _boolean(data["prune"]))
        and ("safety" not in data or _safety(data["safety"]))
        and ("defaults" not in data or _defaults(data["defaults"]))
        and all(_store(store) for store in data["stores"])
    )
