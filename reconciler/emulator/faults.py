"""Fault injection for the emulator: latency, 5xx answers, dropped connections, ambiguous creates.

Everything is off by default. Random faults draw from a ``random.Random`` seeded from the
config, so a run with the same seed and the same request sequence fails the same way. Besides
probabilities there are deterministic hooks that tests prefer: ``FailRule`` ("fail the next N
requests matching method and path prefix with status S, or drop them") and "the next N creates
are ambiguous" (the store is created, but the answer is a 5xx). Latency is applied through an
injectable ``sleep`` so tests need not wait; the applied delay is recorded in the request log.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

Sleep = Callable[[float], None]


@dataclass(frozen=True, slots=True)
class FailRule:
    """Fail the next ``count`` requests whose method (``None``: any) and path prefix match:
    answer ``status`` with a JSON error body, or drop the connection when ``drop``."""

    path_prefix: str = "/api/"
    method: str | None = None
    status: int = 503
    count: int = 1
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method.upper()) and path.startswith(
            self.path_prefix
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "pathPrefix": self.path_prefix,
            "method": self.method,
            "status": self.status,
            "count": self.count,
            "drop": self.drop,
        }


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Fault settings. Rates are probabilities per API request (0..1)."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    drop_rate: float = 0.0
    ambiguous_create_rate: float = 0.0
    ambiguous_create_next: int = 0
    ambiguous_create_status: int = 502
    rules: tuple[FailRule, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate", "ambiguous_create_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0 or self.ambiguous_create_next < 0:
            raise ValueError("latency_ms and ambiguous_create_next must not be negative")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError("error_statuses must be a non-empty list of 5xx codes")
        if not 500 <= self.ambiguous_create_status <= 599:
            raise ValueError("ambiguous_create_status must be a 5xx code")
        for rule in self.rules:
            if not 400 <= rule.status <= 599 or rule.count < 0:
                raise ValueError("a rule needs a 4xx/5xx status and a count >= 0")

    def to_dict(self) -> dict[str, object]:
        return {
            "latencyMs": self.latency_ms,
            "errorRate": self.error_rate,
            "errorStatuses": list(self.error_statuses),
            "dropRate": self.drop_rate,
            "ambiguousCreateRate": self.ambiguous_create_rate,
            "ambiguousCreateNext": self.ambiguous_create_next,
            "ambiguousCreateStatus": self.ambiguous_create_status,
            "rules": [r.to_dict() for r in self.rules],
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> FaultConfig:
        """Build from the side-door JSON (camelCase keys, missing keys take defaults)."""
        names = {
            "latencyMs": "latency_ms",
            "errorRate": "error_rate",
            "errorStatuses": "error_statuses",
            "dropRate": "drop_rate",
            "ambiguousCreateRate": "ambiguous_create_rate",
            "ambiguousCreateNext": "ambiguous_create_next",
            "ambiguousCreateStatus": "ambiguous_create_status",
            "rules": "rules",
            "seed": "seed",
        }
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        kwargs: dict[str, object] = {}
        for key, value in data.items():
            name = names[key]
            if name == "rules":
                kwargs[name] = tuple(_rule(r) for r in _seq(value, key))
            elif name == "error_statuses":
                kwargs[name] = tuple(_int(v, key) for v in _seq(value, key))
            elif name.endswith("_rate"):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key} must be a number")
                kwargs[name] = float(value)
            else:
                kwargs[name] = _int(value, key)
        return cls(**kwargs)  # type: ignore[arg-type]


def _seq(value: object, key: str) -> Sequence[object]:
    if not isinstance(value, list):
        raise ValueError(f"{key} must be a list")
    return value


def _int(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key} must be an integer")
    return value


def _rule(value: object) -> FailRule:
    if not isinstance(value, dict):
        raise ValueError("each rule must be an object")
    unknown = sorted(set(value) - {"pathPrefix", "method", "status", "count", "drop"})
    if unknown:
        raise ValueError(f"unknown rule key(s): {', '.join(unknown)}")
    prefix = value.get("pathPrefix", "/api/")
    method = value.get("method")
    drop = value.get("drop", False)
    if not isinstance(prefix, str) or not (method is None or isinstance(method, str)):
        raise ValueError("rule pathPrefix must be a string and method a string or null")
    if not isinstance(drop, bool):
        raise ValueError("rule drop must be a boolean")
    return FailRule(
        path_prefix=prefix,
        method=method,
        status=_int(value.get("status", 503), "status"),
        count=_int(value.get("count", 1), "count"),
        drop=drop,
    )


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request instead of answering it normally."""

    action: Literal["error", "drop"]
    status: int
    reason: str


@dataclass(slots=True)
class _Counters:
    rules: list[FailRule] = field(default_factory=list)
    ambiguous_next: int = 0


class FaultInjector:
    """Applies a ``FaultConfig``; thread-safe. ``configure`` replaces the config, resets the
    random generator from its seed and the remaining counts of rules."""

    def __init__(self, config: FaultConfig | None = None, *, sleep: Sleep | None = None) -> None:
        self._lock = threading.Lock()
        self.sleep: Sleep = sleep or time.sleep
        self._config = FaultConfig()
        self._rng = random.Random(0)
        self._counters = _Counters()
        self.configure(config or FaultConfig())

    @property
    def config(self) -> FaultConfig:
        """The current config, with rule counts and ``ambiguous_create_next`` as remaining."""
        with self._lock:
            return replace(
                self._config,
                rules=tuple(r for r in self._counters.rules if r.count > 0),
                ambiguous_create_next=self._counters.ambiguous_next,
            )

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._counters = _Counters(list(config.rules), config.ambiguous_create_next)

    def reset(self) -> None:
        """Turn every fault off."""
        self.configure(FaultConfig())

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 503,
        method: str | None = None,
        path_prefix: str = "/api/",
        drop: bool = False,
    ) -> None:
        """Add a ``FailRule``: the next ``count`` matching requests fail with ``status``
        (or lose their connection when ``drop``)."""
        rule = FailRule(path_prefix, method, status, count, drop)
        with self._lock:
            self._config = replace(self._config, rules=(*self._config.rules, rule))
            self._counters.rules.append(rule)

    def ambiguous_creates(self, count: int = 1) -> None:
        """Make the next ``count`` successful creates answer with a 5xx."""
        with self._lock:
            self._counters.ambiguous_next += count

    def apply_latency(self) -> int:
        """Sleep for the configured latency; returns the milliseconds applied."""
        latency = self._config.latency_ms
        if latency > 0:
            self.sleep(latency / 1000.0)
        return latency

    def decide(self, method: str, path: str) -> FaultDecision | None:
        """Rules first (deterministic), then the random drop and error rates."""
        with self._lock:
            rules = self._counters.rules
            for i, rule in enumerate(rules):
                if rule.count > 0 and rule.matches(method, path):
                    rules[i] = replace(rule, count=rule.count - 1)
                    action: Literal["error", "drop"] = "drop" if rule.drop else "error"
                    return FaultDecision(action, rule.status, "rule")
            cfg = self._config
            if cfg.drop_rate and self._rng.random() < cfg.drop_rate:
                return FaultDecision("drop", 0, "drop_rate")
            if cfg.error_rate and self._rng.random() < cfg.error_rate:
                return FaultDecision("error", self._rng.choice(cfg.error_statuses), "error_rate")
            return None

    def take_ambiguous_create(self) -> int | None:
        """After a successful create: the 5xx status to answer with instead, or ``None``."""
        with self._lock:
            cfg = self._config
            if self._counters.ambiguous_next > 0:
                self._counters.ambiguous_next -= 1
                return cfg.ambiguous_create_status
            if cfg.ambiguous_create_rate and self._rng.random() < cfg.ambiguous_create_rate:
                return cfg.ambiguous_create_status
            return None
