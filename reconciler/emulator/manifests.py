"""What LaunchDarkly's integration manifests say about ``config``, and how the API masks it.

Written from ``shared/launchdarkly/API-NOTES.md`` §3, §4 and §8, independently of the product:
the emulator is the product's test oracle, so it must not share the product's field table or
masking rule (a bug copied into both would go unnoticed). ``FIELDS`` lists each integration
kind's ``formVariables`` (type, required, default, whether the manifest marks it secret);
``mask_secret`` masks a secret on read in one of two styles, because the only sample of a mask
(``sup********123``) fits both: ``fixed`` (first and last three characters around eight stars)
and ``per-char`` (one star per hidden character). Values of six characters or fewer keep no
visible character in either style (showing three and three would reveal them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["string", "boolean", "port", "region", "role_arn"]
MaskStyle = Literal["fixed", "per-char"]
MASK_STYLES: tuple[MaskStyle, ...] = ("fixed", "per-char")
FIXED_STARS = 8
VISIBLE = 3
"""Characters kept visible at each end of a long secret."""


@dataclass(frozen=True, slots=True)
class Field:
    """One ``formVariables`` entry of an integration manifest."""

    key: str
    kind: FieldKind
    required: bool
    secret: bool = False
    default: str | bool | None = None


REGIONS: frozenset[str] = frozenset(
    {
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
    }
)
ROLE_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")

FIELDS: Mapping[str, tuple[Field, ...]] = {
    "redis": (
        Field("host", "string", required=True),
        Field("port", "port", required=False, default="6379"),
        Field("username", "string", required=False, default=""),
        Field("password", "string", required=False, secret=True, default=""),
        Field("tlsEnabled", "boolean", required=False, default=False),
    ),
    "dynamodb": (
        Field("tableName", "string", required=True),
        Field("region", "region", required=True),
        Field("roleArn", "role_arn", required=True),
        # The manifest's type is "generated", not secret: LaunchDarkly returns it as is.
        Field("externalId", "string", required=True),
    ),
}
"""Config fields per integration key, as LaunchDarkly's manifests declare them."""


def mask_secret(value: str, style: MaskStyle = "fixed") -> str:
    """``value`` as LaunchDarkly returns a secret: ``supersecret123`` -> ``sup********123``
    (``fixed``) or ``sup********123`` with one star per hidden character (``per-char``; the
    same here, since eight characters are hidden). The empty string stays empty."""
    if not value:
        return ""
    if len(value) <= 2 * VISIBLE:
        return "*" * (FIXED_STARS if style == "fixed" else len(value))
    hidden = FIXED_STARS if style == "fixed" else len(value) - 2 * VISIBLE
    return f"{value[:VISIBLE]}{'*' * hidden}{value[-VISIBLE:]}"


def mask_config(
    integration_key: str, config: Mapping[str, object], style: MaskStyle = "fixed"
) -> dict[str, object]:
    """``config`` as a read returns it: the manifest's secret fields masked."""
    secret = {f.key for f in FIELDS.get(integration_key, ()) if f.secret}
    return {
        k: mask_secret(v, style) if k in secret and isinstance(v, str) else v
        for k, v in config.items()
    }
