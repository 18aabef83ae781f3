"""Rate limiting the way LaunchDarkly describes it, with an injectable clock.

LaunchDarkly counts requests per route (HTTP method plus URL pattern) and account-wide, in fixed
windows, and reports what is left in ``X-Ratelimit-Route-Remaining``,
``X-Ratelimit-Global-Remaining`` and ``X-Ratelimit-Reset`` (window end, epoch milliseconds). Over
either budget the answer is 429 ``rate_limited``. The limiter is off by default; it reads time
from a ``Clock`` (a zero-argument callable returning epoch seconds) so tests can move time with
``FakeClock`` instead of sleeping.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]
"""Returns the current time in epoch seconds (``time.time`` by default)."""


class FakeClock:
    """A clock that only moves when told to: ``clock.advance(10)``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Budgets per fixed window. ``retry_after`` (seconds), when set, is sent on 429s."""

    enabled: bool = False
    window_seconds: float = 10.0
    route_limit: int = 25
    global_limit: int = 100
    retry_after: int | None = None

    def __post_init__(self) -> None:
        if self.window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        if self.route_limit < 0 or self.global_limit < 0:
            raise ValueError("rate limits must not be negative")
        if self.retry_after is not None and self.retry_after < 0:
            raise ValueError("retry_after must not be negative")

    def to_dict(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "windowSeconds": self.window_seconds,
            "routeLimit": self.route_limit,
            "globalLimit": self.global_limit,
            "retryAfter": self.retry_after,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> RateLimitConfig:
        """Build from the side-door JSON (camelCase keys); unknown keys are an error."""
        known = {"enabled", "windowSeconds", "routeLimit", "globalLimit", "retryAfter"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown rate-limit setting(s): {', '.join(unknown)}")
        enabled = data.get("enabled", True)
        window = data.get("windowSeconds", 10.0)
        route = data.get("routeLimit", 25)
        glob = data.get("globalLimit", 100)
        retry = data.get("retryAfter")
        if not isinstance(enabled, bool):
            raise ValueError("enabled must be a boolean")
        if isinstance(window, bool) or not isinstance(window, int | float):
            raise ValueError("windowSeconds must be a number")
        for name, value in (("routeLimit", route), ("globalLimit", glob)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer")
        if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int)):
            raise ValueError("retryAfter must be an integer or null")
        if not (isinstance(route, int) and isinstance(glob, int)):  # checked above; narrows
            raise ValueError("routeLimit and globalLimit must be integers")
        return cls(
            enabled=enabled,
            window_seconds=float(window),
            route_limit=route,
            global_limit=glob,
            retry_after=retry,
        )


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of counting one request, and the headers that report it."""

    allowed: bool
    route_remaining: int
    global_remaining: int
    reset_ms: int
    retry_after: int | None

    def headers(self) -> dict[str, str]:
        out = {
            "X-Ratelimit-Route-Remaining": str(self.route_remaining),
            "X-Ratelimit-Global-Remaining": str(self.global_remaining),
            "X-Ratelimit-Reset": str(self.reset_ms),
        }
        if not self.allowed and self.retry_after is not None:
            out["Retry-After"] = str(self.retry_after)
        return out


class RateLimiter:
    """Fixed-window counters per route and account-wide. Thread-safe."""

    def __init__(
        self, config: RateLimitConfig | None = None, *, clock: Clock | None = None
    ) -> None:
        self._lock = threading.Lock()
        self.clock: Clock = clock or time.time
        self._config = config or RateLimitConfig()
        self._window = -1
        self._global = 0
        self._routes: dict[str, int] = {}

    @property
    def config(self) -> RateLimitConfig:
        return self._config

    def configure(self, config: RateLimitConfig) -> None:
        """Replace the settings and start counting afresh."""
        with self._lock:
            self._config = config
            self._window = -1
            self._global = 0
            self._routes = {}

    def hit(self, route: str) -> RateDecision | None:
        """Count one request to ``route``; ``None`` when limiting is off. A refused request
        does not use up budget."""
        with self._lock:
            cfg = self._config
            if not cfg.enabled:
                return None
            now = self.clock()
            window = math.floor(now / cfg.window_seconds)
            if window != self._window:
                self._window = window
                self._global = 0
                self._routes = {}
            reset_ms = round((window + 1) * cfg.window_seconds * 1000)
            used = self._routes.get(route, 0)
            allowed = used < cfg.route_limit and self._global < cfg.global_limit
            if allowed:
                used += 1
                self._routes[route] = used
                self._global += 1
            return RateDecision(
                allowed=allowed,
                route_remaining=max(cfg.route_limit - used, 0),
                global_remaining=max(cfg.global_limit - self._global, 0),
                reset_ms=reset_ms,
                retry_after=cfg.retry_after,
            )

    def snapshot(self) -> dict[str, object]:
        """Settings plus the counters of the current window (for the side door)."""
        with self._lock:
            return {
                **self._config.to_dict(),
                "globalUsed": self._global,
                "routesUsed": dict(self._routes),
            }
