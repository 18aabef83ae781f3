"""What every store check shares: findings, reports, and the DynamoDB key layout.

``Findings`` collects the ``Check`` values of one store (messages scrubbed of its secrets) and
turns them into a ``StoreReport``; ``redis_store`` and ``dynamodb_store`` write into it and
``verifier`` runs them. It sits below all three, so none of them imports another's caller.
The DynamoDB names are the ones LaunchDarkly's server-side SDKs read (see ``verifier``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.verify.text import describe_age, iso_ms, scrub

DYNAMODB_PARTITION_KEY = "namespace"
DYNAMODB_SORT_KEY = "key"
DYNAMODB_METADATA = "big_segments_metadata"
DYNAMODB_SYNC_ATTR = "synchronizedOn"


def dynamodb_metadata_key(prefix: str) -> str:
    """``{prefix}:big_segments_metadata``: both the ``namespace`` and ``key`` of the item."""
    return f"{prefix}:{DYNAMODB_METADATA}" if prefix else DYNAMODB_METADATA


@dataclass(frozen=True, slots=True)
class Check:
    """One finding about one store. ``message`` is for humans and never holds a secret."""

    address: str
    ok: bool
    kind: str  # "reachable" | "auth" | "permission" | "marker" | "table" | "schema" | "access"
    message: str


@dataclass(frozen=True, slots=True)
class StoreReport:
    """Every finding about one store; ``healthy`` when all checks passed."""

    address: str
    integration_key: str
    healthy: bool
    checks: tuple[Check, ...]
    marker_age_seconds: float | None = None


@dataclass(slots=True)
class Findings:
    address: str
    secrets: tuple[str, ...]
    checks: list[Check] = field(default_factory=list)
    marker_age: float | None = None

    def add(self, kind: str, ok: bool, message: str) -> None:
        self.checks.append(Check(self.address, ok, kind, scrub(message, self.secrets)))

    def add_marker(self, ms: int, now: float, max_age: float, label: str = "") -> float:
        """Add the ``marker`` check for a synchronisation time of ``ms`` (Unix ms): fresh when
        at most ``max_age`` seconds old at ``now``. Returns the age in seconds."""
        age = now - ms / 1000
        fresh = age <= max_age
        verdict = "" if fresh else f" (stale: older than {max_age:.0f} s)"
        self.add(
            "marker",
            fresh,
            f"{label}LaunchDarkly last synchronised at {iso_ms(ms)}, {describe_age(age)}{verdict}",
        )
        return age

    def report(self, integration_key: str) -> StoreReport:
        return StoreReport(
            address=self.address,
            integration_key=integration_key,
            healthy=bool(self.checks) and all(c.ok for c in self.checks),
            checks=tuple(self.checks),
            marker_age_seconds=self.marker_age,
        )
