"""Rules the manifest loader applies to single values, kept apart from the document walk.

``interpolate`` resolves ``${VAR}`` references in one string (``$${`` is a literal ``${``) and
says which variables it used; ``check_config_value`` applies one ``reconciler.integrations``
field rule (string, boolean, port, region, role ARN) to one config value and normalises it
(ports become strings); ``schema_messages`` turns one JSON Schema error into messages a user
can act on. All are pure: they return messages instead of raising, and a message shows a value
only through the ``shown`` text the caller chose, so a secret is never echoed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Container, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from reconciler.integrations import AWS_REGIONS, FIELDS, ROLE_ARN_RE, ConfigField
from reconciler.manifest.yamlpos import Path

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

PORT_RANGE = "1\u201365535"  # with an en dash
ANY_FIELD: Mapping[str, ConfigField] = {f.key: f for fs in FIELDS.values() for f in fs}
"""Every config field of every integration kind, by key (no key is shared between kinds)."""

_REF_RE = re.compile(r"\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)\})?")
_DIGITS_RE = re.compile(r"^[0-9]+$")
_TYPE_NAMES = {
    "string": "a string",
    "boolean": "a boolean (true/false)",
    "array": "a list",
    "object": "a mapping",
    "integer": "a whole number",
    "number": "a number",
}
_RANGE_WORDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}


@dataclass(frozen=True, slots=True)
class Interpolated:
    """A string with its ``${VAR}`` references resolved."""

    value: str
    names: tuple[str, ...]  # variables used, in order of first use
    problems: tuple[str, ...]  # unset variables and malformed references
    missing: tuple[str, ...] = ()  # the unset variables among the problems, in order


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    """Resolve ``${NAME}`` from ``env``; ``$${`` is a literal ``${``, any other ``$`` is kept."""
    names: list[str] = []
    problems: list[str] = []
    missing: list[str] = []
    out: list[str] = []
    pos = 0
    for match in _REF_RE.finditer(text):
        out.append(text[pos : match.start()])
        pos = match.end()
        name = match.group(1)
        if match.group(0) == "$${":
            out.append("${")
        elif name is None:
            problems.append("'${' must start a ${NAME} reference (write $${ for a literal '${')")
        elif name not in env:
            problems.append(f"environment variable {name} is not set (referenced as ${{{name}}})")
            missing.append(name)
        else:
            out.append(env[name])
            if name not in names:
                names.append(name)
    out.append(text[pos:])
    return Interpolated("".join(out), tuple(names), tuple(problems), tuple(missing))


def kind_of(value: object) -> str:
    """A value's YAML kind, for messages that must not show the value itself."""
    if value is None:
        return "null (no value)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def env_refs(names: Sequence[str]) -> str:
    """``${A}, ${B}``: how a message names the variables a value came from."""
    return ", ".join(f"${{{name}}}" for name in names)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """``did you mean 'x'? `` for the closest choice, or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def check_config_value(
    spec: ConfigField, value: object, shown: str
) -> tuple[str | None, str | bool | None]:
    """(problem, None) or (None, normalised value) for one config value of one field."""
    if spec.type == "boolean":
        if isinstance(value, bool):
            return None, value
        return f"expected a boolean (true/false), got {kind_of(value)}", None
    if spec.type == "port":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and _DIGITS_RE.match(value.strip()):
            number = int(value.strip())
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            return f"{shown} is not a port number ({PORT_RANGE})", None
        else:
            return f"expected a port number ({PORT_RANGE}), got {kind_of(value)}", None
        if not 1 <= number <= 65535:
            return f"{shown} is out of range {PORT_RANGE}", None
        return None, str(number)
    if not isinstance(value, str):
        return f"expected a string, got {kind_of(value)}", None
    if spec.required and not value:
        return "must not be empty", None
    if spec.type == "region" and value not in AWS_REGIONS:
        hint = did_you_mean(value, AWS_REGIONS) if shown.startswith("'") else ""
        return (
            f"{shown} is not a DynamoDB region ({hint}allowed: {', '.join(AWS_REGIONS)})",
            None,
        )
    if spec.type == "role_arn" and not ROLE_ARN_RE.match(value):
        return (
            f"{shown} is not an IAM role ARN"
            " (expected arn:aws:iam::<12-digit account id>:role/<role name>)",
            None,
        )
    return None, value


def fmt_path(path: Path) -> str:
    """``stores[0].config.port``: how a message names the place of a value."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "document"


def checked_after_schema(path: Path) -> bool:
    """Whether the loader leaves schema errors at ``path`` to its own, clearer checks: config
    values (checked after defaults are merged) and the field and expiry date of ignore rules."""
    config_at = 3 if path[:1] == ("stores",) else 2
    if path[config_at - 1 : config_at] == ("config",) and len(path) > config_at:
        return True
    return len(path) >= 3 and path[-3] == "ignore" and path[-1] in ("field", "expires")


def schema_messages(
    error: ValidationError,
    *,
    shown: Callable[[Path, object], str],
    interpolated: Container[Path],
    integration: Callable[[Path], str],
) -> list[tuple[Path, str, bool]]:
    """(path, message, at the key?) for each problem one schema error stands for. ``shown``
    says how a value may appear, ``interpolated`` holds the paths whose value used ${...}, and
    ``integration`` names the kind of the store at a ``("stores", i)`` path."""
    path: Path = tuple(error.absolute_path)
    where, instance, out = fmt_path(path), error.instance, []
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = list(cast(Mapping[str, Any], error.schema).get("properties", {}))
        scope = ""
        if path[:1] == ("stores",) and path[2:] == ("config",):
            scope = f" in {integration(path[:2])} config"
        for extra in instance:
            if extra not in allowed:
                hint = did_you_mean(extra, allowed)
                message = f"unknown key '{extra}'{scope} ({hint}allowed: {', '.join(allowed)})"
                out.append(((*path, extra), f"{where}: {message}", True))
    elif error.validator == "required" and isinstance(instance, dict):
        for key in cast(list[str], error.validator_value):
            if key not in instance:
                out.append((path, f"{where}: missing required key '{key}'", False))
    elif error.validator == "type":
        expected = _TYPE_NAMES.get(str(error.validator_value), str(error.validator_value))
        shows = isinstance(instance, str) or (
            expected == "a whole number" and type(instance) is float
        )
        got = shown(path, instance) if shows else kind_of(instance)
        out.append((path, f"{where}: expected {expected}, got {got}", False))
    elif error.validator == "enum":
        allowed = [str(v) for v in cast(list[object], error.validator_value)]
        hint = ""
        if isinstance(instance, str) and path not in interpolated:
            hint = did_you_mean(instance, allowed)
        message = f"{shown(path, instance)} is not one of {', '.join(allowed)} {hint}".strip()
        out.append((path, f"{where}: {message}", False))
    elif error.validator == "minLength":
        out.append((path, f"{where}: must not be empty", False))
    elif error.validator in _RANGE_WORDS:
        limit = f"{_RANGE_WORDS[str(error.validator)]} {error.validator_value}"
        out.append(
            (path, f"{where}: {shown(path, instance)} is out of range (must be {limit})", False)
        )
    else:  # not reached with the shipped schema; says which rule without showing the value
        message = f"does not satisfy the manifest schema ({error.validator})"
        out.append((path, f"{where}: {message}", False))
    return out
