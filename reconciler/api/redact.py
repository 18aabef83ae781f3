"""Keeping secrets out of the API client's error text and log lines.

A request body may hold passwords and external IDs, and LaunchDarkly sometimes echoes a body
back in an error message. ``request_secrets`` collects the strings under secret-looking keys of
a body (patch ops on such paths included); ``redact`` replaces them, the access token and
anything shaped like a LaunchDarkly key (``api-...``, ``sdk-...``, ``mob-...``) with
``(redacted)``; ``describe`` names an exception for such a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "(redacted)"

_TOKEN_LIKE = re.compile(r"\b(?:api|sdk|mob)-[0-9A-Za-z-]{8,}")
_SECRET_KEY = re.compile(r"password|secret|token|externalid", re.IGNORECASE)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every (non-empty) secret and every key-shaped string replaced."""
    for secret in secrets:
        text = text.replace(secret, REDACTED) if secret else text
    return _TOKEN_LIKE.sub(REDACTED, text)


def describe(exc: Exception) -> str:
    """``TypeName: message`` (or just the type name when the message is empty)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def request_secrets(value: object, key: str = "") -> tuple[str, ...]:
    """Strings under secret-looking keys (``password``, ``externalId``, ...) of a request body,
    including patch ops on such paths, so that error text the server echoes can be redacted."""
    if isinstance(value, str):
        return (value,) if len(value) >= 4 and _SECRET_KEY.search(key) else ()
    if isinstance(value, Mapping):
        path = str(value.get("path", ""))
        return tuple(
            s
            for k, v in value.items()
            for s in request_secrets(v, path if k == "value" else str(k))
        )
    if isinstance(value, list):
        return tuple(s for v in value for s in request_secrets(v, key))
    return ()
