"""The wording of verification findings: what a message may say and how it says it.

Every message a check produces is passed through ``scrub``, which replaces the store's secrets
with ``(sensitive)``; ``plain`` unwraps a ``Secret`` config value, and is the only way a check
reads one (to open a connection, never to print it); ``describe_age`` and ``iso_ms`` word the
time of a synchronisation marker. Shared by ``verifier`` and its Redis and DynamoDB
checks.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from reconciler.model import SENSITIVE, Secret


def scrub(message: str, secrets: Sequence[str]) -> str:
    """``message`` with every secret of four characters or more replaced by ``(sensitive)``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 4:
            message = message.replace(secret, SENSITIVE)
    return message


def plain(value: object) -> object:
    """A config value with a ``Secret`` unwrapped (only for opening a connection)."""
    return value.value if isinstance(value, Secret) else value


def describe_age(seconds: float) -> str:
    if seconds < 0:
        return f"{-seconds:.0f} s in the future (clock skew?)"
    if seconds < 120:
        return f"{seconds:.0f} s old"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min old"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h old"
    return f"{seconds / 86400:.1f} days old"


def iso_ms(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
