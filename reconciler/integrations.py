"""What each integration kind's ``config`` holds, and how LaunchDarkly rewrites it.

The field lists come from LaunchDarkly's integration manifests (``formVariables``; see
``shared/launchdarkly/API-NOTES.md`` §4). This module is the single place that knows them: the
manifest validator, the planner's normalisation and the emulator's request validation all read
the same table, so a field added here is accepted, compared and emulated everywhere at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

FieldType = Literal["string", "boolean", "port", "region", "role_arn"]


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One ``config`` key of one integration kind."""

    key: str
    type: FieldType
    required: bool
    secret: bool = False
    default: str | bool | None = None


AWS_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
)

ROLE_ARN_RE = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

FIELDS: Mapping[str, tuple[ConfigField, ...]] = {
    "redis": (
        ConfigField("host", "string", required=True),
        ConfigField("port", "port", required=False, default="6379"),
        ConfigField("username", "string", required=False, default=""),
        ConfigField("password", "string", required=False, secret=True, default=""),
        ConfigField("tlsEnabled", "boolean", required=False, default=False),
    ),
    "dynamodb": (
        ConfigField("tableName", "string", required=True),
        ConfigField("region", "region", required=True),
        ConfigField("roleArn", "role_arn", required=True),
        ConfigField("externalId", "string", required=True, secret=True),
    ),
}
"""Config fields per integration key. ``externalId`` is not marked secret by LaunchDarkly,
but it guards the IAM role's trust policy, so reconciler treats it as one."""


_BY_KEY: Mapping[str, Mapping[str, ConfigField]] = {
    kind: MappingProxyType({f.key: f for f in fields}) for kind, fields in FIELDS.items()
}


def fields_by_key(integration_key: str) -> Mapping[str, ConfigField]:
    """The config fields of one integration kind, by key (empty for an unknown kind); built
    once per kind, read-only."""
    return _BY_KEY.get(integration_key, MappingProxyType({}))


def mask_secret(value: str, *, per_char: bool = False) -> str:
    """Mask a secret the way LaunchDarkly does on read: ``supersecret123`` -> ``sup********123``.

    The only sample LaunchDarkly documents fits two rules (API-NOTES §8): eight stars between
    the first and last three characters (the default), or one star per hidden character
    (``per_char``). Values of six characters or fewer show no character (eight stars, or one
    per character); the empty string stays empty.
    """
    if not value:
        return ""
    if len(value) <= 6:
        return "*" * (len(value) if per_char else 8)
    return f"{value[:3]}{'*' * (len(value) - 6 if per_char else 8)}{value[-3:]}"


def mask_consistent(mask: str, value: str) -> bool:
    """Could ``mask`` (as the API returned it) have come from ``value`` under either masking
    rule? A mask only one rule could produce (say, 11 stars) is judged by that rule alone;
    ``sup********123`` fits both, and then ``value`` only has to fit one of them."""
    return mask in (mask_secret(value), mask_secret(value, per_char=True))
