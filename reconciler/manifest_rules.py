"""Rules the manifest loader applies to single values, kept apart from the document walk.

``interpolate`` resolves ``${VAR}`` references in one string (``$${`` is a literal ``${``) and
says which variables it used; ``check_config_value`` applies one ``reconciler.integrations``
field rule (string, boolean, port, region, role ARN) to one config value and normalises it
(ports become strings). Both are pure: they return messages instead of raising, and a message
shows a value only through the ``shown`` text the caller chose, so a secret is never echoed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.integrations import AWS_REGIONS, FIELDS, ROLE_ARN_RE, ConfigField

PORT_RANGE = "1\u201365535"  # with an en dash
ANY_FIELD: Mapping[str, ConfigField] = {f.key: f for fs in FIELDS.values() for f in fs}
"""Every config field of every integration kind, by key (no key is shared between kinds)."""

_REF_RE = re.compile(r"\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)\})?")
_DIGITS_RE = re.compile(r"^[0-9]+$")


@dataclass(frozen=True, slots=True)
class Interpolated:
    """A string with its ``${VAR}`` references resolved."""

    value: str
    names: tuple[str, ...]  # variables used, in order of first use
    problems: tuple[str, ...]  # unset variables and malformed references


def interpolate(text: str, env: Mapping[str, str]) -> Interpolated:
    """Resolve ``${NAME}`` from ``env``; ``$${`` is a literal ``${``, any other ``$`` is kept."""
    names: list[str] = []
    problems: list[str] = []
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
        else:
            out.append(env[name])
            if name not in names:
                names.append(name)
    out.append(text[pos:])
    return Interpolated("".join(out), tuple(names), tuple(problems))


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
