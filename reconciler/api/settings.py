"""Connection settings for the LaunchDarkly API: where it is and how to authenticate.

``settings_from_env`` reads the access token (``LAUNCHDARKLY_ACCESS_TOKEN``, else
``LD_ACCESS_TOKEN``) and the API host (an explicit argument, else ``LAUNCHDARKLY_API_HOST``, else
the public host) and refuses what would leak the token: a token with whitespace or non-ASCII
characters, a host with credentials, a query or a fragment, and plain ``http://`` anywhere but
loopback. ``ConnectionSettings`` never shows the token in its ``repr``; ``reconciler.api.client``
turns these settings into an HTTP client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from reconciler.errors import ConfigError

DEFAULT_API_HOST = "https://app.launchdarkly.com"
TOKEN_VARS = ("LAUNCHDARKLY_ACCESS_TOKEN", "LD_ACCESS_TOKEN")
HOST_VAR = "LAUNCHDARKLY_API_HOST"


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where LaunchDarkly is and how to authenticate; ``repr`` never shows the token."""

    api_host: str
    token: str = field(repr=False)


def settings_from_env(env: Mapping[str, str], *, api_host: str | None = None) -> ConnectionSettings:
    """The token from ``env``; the host from ``api_host``, else ``env``, else the default."""
    token = next((env[v].strip() for v in TOKEN_VARS if env.get(v, "").strip()), "")
    if not token:
        raise ConfigError(
            "no LaunchDarkly access token: set LAUNCHDARKLY_ACCESS_TOKEN (or LD_ACCESS_TOKEN)"
            " to a personal or service access token"
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            "the LaunchDarkly access token holds whitespace or non-ASCII characters;"
            " check LAUNCHDARKLY_ACCESS_TOKEN / LD_ACCESS_TOKEN"
        )
    host = api_host or env.get(HOST_VAR, "").strip() or DEFAULT_API_HOST
    return ConnectionSettings(api_host=normalise_api_host(host), token=token)


def normalise_api_host(url: str) -> str:
    """``url`` without a trailing slash; refuses non-http(s) URLs and plain http off loopback."""
    text = url.strip()
    shown = repr(text) if "@" not in text else "(a URL with credentials)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError(f"API host {shown} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API host {shown} is not an http(s) URL such as {DEFAULT_API_HOST}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigError(f"API host {shown} must not hold credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// API host {shown}: the access token would travel"
            " unencrypted; use https:// (http is allowed only for 127.0.0.1, ::1 or localhost)"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    try:
        return hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False
