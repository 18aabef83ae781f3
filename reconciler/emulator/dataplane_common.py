"""What the emulator's data plane writers share: the failure type, the loopback rule, scrubbing.

The writers (``dataplane_redis``, ``dataplane_dynamo``) raise ``SyncFailure`` with a message fit
for ``_status.errors`` (the store's own error text, secrets scrubbed). ``is_loopback_host``
decides, without DNS, whether a host is this machine: the data plane connects only to those
unless told otherwise. This is the emulator's own implementation of what LaunchDarkly does; it
imports nothing from the product.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

SENSITIVE = "(sensitive)"
"""What a scrubbed secret reads as."""
MIN_SECRET_LENGTH = 4
"""Shorter secrets are not scrubbed: replacing one or two characters would garble messages."""


class SyncFailure(Exception):
    """One synchronisation attempt failed; ``str()`` is the message for ``_status.errors``."""


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1``, decided without any DNS lookup."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_loopback(host: str, any_host: bool) -> None:
    """``SyncFailure`` unless ``host`` is loopback or ``any_host`` allows leaving it."""
    if not any_host and not is_loopback_host(host):
        raise SyncFailure(
            f"the emulator's data plane only connects to loopback hosts, not {host!r}"
        )


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every secret (of ``MIN_SECRET_LENGTH`` or more) replaced."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_LENGTH:
            message = message.replace(secret, SENSITIVE)
    return message
