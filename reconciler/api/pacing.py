"""Proactive pacing of LaunchDarkly requests from its rate-limit headers.

LaunchDarkly counts requests in fixed windows, per route (method and URL pattern) and
account-wide, and every response says what is left (``X-Ratelimit-Route-Remaining``,
``X-Ratelimit-Global-Remaining``) and when the window ends (``X-Ratelimit-Reset``, epoch ms). A
``Pacer`` keeps one budget per route plus the global one, each holding the last window reported
(remaining requests, reset time, and which request the report came with), the requests in flight
and the earliest next send slot. Requests are numbered as they are reserved and assumed to be
counted by the server in that order, so a report already includes the requests in flight that were
sent before its own, and not those sent after. Before a request the caller reserves a slot under
the pacer's one lock: for each budget that applies, ``r = remaining - (requests in flight sent
after the report's) - safety`` requests may still go before the reset; when ``r > 0`` the
slot is the budget's next slot (or now) and the one after it is ``(reset - slot) / r`` later, so
the budget is spread evenly over what is left of the window; when ``r <= 0`` the slot is the reset
plus a small margin. The reservation takes the latest slot any of its budgets asks for, counts as
in flight at once, and the caller sleeps outside the lock until its slot; ``before`` returns a
``Ticket`` that the caller hands back to ``after`` with the response. Once a known window has
ended, its budget is unknown and only ``probes`` requests may be in flight until a response reports
the new window; the other callers poll. A budget the server has never reported (it omits the
header) never delays anything, so without headers pacing costs nothing. Of two reports on one
window the more cautious counts; a newer reset replaces the window; headers of windows already
left are ignored; and a reset in the past or more than ``MAX_RESET_AHEAD`` seconds ahead (clock
skew) makes the budget unknown. After a 429, ``on_rate_limited`` closes the route (and the global
budget when it is spent) until the reset; the client retries the 429 itself.

The whole window is used (``safety`` 0) unless another client spends the same budget. Each
budget numbers its own sends, so two reports of one window tell how much of the drop in
``remaining`` was ours; when it fell faster than we sent, the rest is another client's, and
``share`` (our part of what was spent) scales what we plan to spend of what is left, so two
processes settle on the limit between them; shared, the last request of a window is left
unspent. A slot is reserved at most ``RESERVE_AHEAD`` seconds before it, so a caller whose slot
is later looks again with what the responses have said since. Once the server has reported a
budget, the first requests on a route it has not reported yet are probes, not a burst.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.api.http11 import Headers

ROUTE_REMAINING = "x-ratelimit-route-remaining"
GLOBAL_REMAINING = "x-ratelimit-global-remaining"
RESET = "x-ratelimit-reset"
RESET_MARGIN = 0.01
"""Seconds to wait past a reset before sending into the new window."""
MAX_RESET_AHEAD = 60.0
"""A reset further ahead than this (seconds) is clock skew, not a window end."""
PROBE_POLL = 0.02
"""Seconds between checks while the probes of a new window are out."""
MIN_SPAN = 0.05
"""Seconds of a window observed before the others' rate is estimated from it."""
RESERVE_AHEAD = 0.02
"""Seconds ahead a slot may be reserved; a caller whose slot is later waits and looks again, so
what the responses report in the meantime (another client spending the budget) still counts."""
_SAME_RESET = 0.001
_MAX_ROUNDS = 8

log = logging.getLogger("reconciler.pacing")


@dataclass(frozen=True, slots=True)
class Ticket:
    """A reserved send: what ``after`` needs to match the response to its reservation."""

    route: str
    number: int


@dataclass(slots=True)
class _Budget:
    """One rate-limit budget. ``window`` is the last window reported, ``(remaining, reset_at,
    number of the request reported on)``, or ``None`` while unknown; ``probing`` says it is
    unknown because a known window ended, and its probes are the requests numbered after
    ``probes_after``; ``in_flight`` holds the numbers of requests out."""

    window: tuple[int, float, int] | None = None
    probing: bool = False
    left_at: float = -math.inf  # the reset of the last window left; older headers are stale
    in_flight: set[int] = field(default_factory=set)
    next_slot: float = -math.inf
    last_number: int = 0
    probes_after: int = 0
    sent: int = 0  # requests reserved on this budget so far
    ordinals: dict[int, int] = field(default_factory=dict)  # request number -> ``sent`` then
    anchor: tuple[int, int, float] | None = None  # first report of the window: remaining, sent, t
    share: float = 1.0  # our share of what this budget spends; the rest is other clients'

    def _spare(self, window: tuple[int, float, int], safety: int) -> int:
        """Requests that may still go in ``window``: its remaining count, less those in flight
        that it does not count yet (sent after the request it was reported on)."""
        remaining, _, number = window
        return remaining - sum(1 for n in self.in_flight if n > number) - safety

    def _observe(self, remaining: int, ordinal: int | None, now: float) -> None:
        """Our share of the budget: of what it fell since the window's first report, how much
        was our own sends (their count is the difference of the two reports' ordinals)."""
        if self.anchor is None or ordinal is None:
            return
        first, first_sent, since = self.anchor
        own = ordinal - first_sent
        spent = max(first - remaining, own)
        if own > 0 and now - since >= MIN_SPAN:
            share = own / spent
            if share < 1.0 and self.share == 1.0:
                log.info("the rate-limit budget falls faster than we spend it: sharing it")
            self.share = share

    def _ended(self, t: float) -> bool:
        return self.window is not None and t >= self.window[1]

    def roll(self, t: float) -> None:
        """Forget the window if it has ended by ``t``: unknown until a response reports."""
        if self.window is not None and t >= self.window[1]:
            self.left_at = self.window[1]
            self.window, self.probing, self.probes_after = None, True, self.last_number

    def earliest(self, t: float, *, safety: int, probes: int) -> float | None:
        """The earliest send at or after ``t`` this budget allows, ``None`` while the probes of
        an unknown window are out (stragglers of the old window do not count)."""
        if self._ended(t):
            return max(t, self.next_slot)  # the first probe of the next window
        if self.window is None and self.probing:
            out = sum(1 for n in self.in_flight if n > self.probes_after)
            return None if out >= probes else max(t, self.next_slot)
        if self.window is None:
            return t
        # Shared with another client, the last request of a window is left unspent: the two
        # learn of each other's sends only from responses, so both could take it.
        if self._spare(self.window, safety + (self.share < 1.0)) <= 0:
            return self.window[1] + RESET_MARGIN
        return max(t, self.next_slot)

    def reserve(self, number: int, slot: float, *, safety: int) -> None:
        """Count request ``number``, sent at ``slot``, and space the next one."""
        self.roll(slot)
        if self.window is None:
            self.next_slot = max(self.next_slot, slot)
        else:
            # Our share of what is left, spread evenly over what is left of the window.
            spare = max(self._spare(self.window, safety) * self.share, 1.0)
            self.next_slot = slot + (self.window[1] - slot) / spare
        self.in_flight.add(number)
        self.last_number = number
        self.sent += 1
        self.ordinals[number] = self.sent

    def learn(self, report: tuple[int, float] | None, number: int, now: float) -> None:
        """Take in what the response to request ``number`` reported: ``(remaining, reset_at)``,
        ``None`` when it did not report this budget."""
        self.roll(now)
        ordinal = self.ordinals.pop(number, None)
        if report is None:
            self.probing = False  # the server does not report this budget here
            return
        remaining, reset_at = report
        if reset_at <= self.left_at + _SAME_RESET:
            return  # a straggler from a window already left
        if reset_at <= now or reset_at > now + MAX_RESET_AHEAD:
            log.debug("ignoring rate-limit reset %.3f s from now (clock skew?)", reset_at - now)
            self.window, self.probing = None, False
            return
        window = (remaining, reset_at, number)
        if self.window is not None:
            known_reset = self.window[1]
            if abs(reset_at - known_reset) <= _SAME_RESET:
                if self._spare(window, 0) < self._spare(self.window, 0):
                    self.window = (remaining, known_reset, number)
                self._observe(remaining, ordinal, now)
                return
            if reset_at < known_reset:
                return  # an older window than the one known
        self.window, self.probing = window, False
        self.anchor = None if ordinal is None else (remaining, ordinal, now)

    def close(self, reset_at: float, now: float) -> None:
        """Nothing more before ``reset_at`` (clamped to ``MAX_RESET_AHEAD``)."""
        reset_at = min(reset_at, now + MAX_RESET_AHEAD)
        if self.window is not None:
            reset_at = max(reset_at, self.window[1])
        if reset_at > now:
            self.window, self.probing = (0, reset_at, -1), False


class Pacer:
    """Spaces requests so each rate-limit budget lasts until its window ends. Thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        safety: int = 0,
        probes: int = 1,
        enabled: bool = True,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._safety = max(safety, 0)
        self._probes = max(probes, 1)
        self._enabled = enabled
        self._lock = threading.Lock()
        self._global = _Budget()
        self._routes: dict[str, _Budget] = {}
        self._numbered = 0

    def before(self, route: str) -> Ticket:
        """Block (through ``sleep``) until a request to ``route`` may be sent, and count it as
        in flight; hand the ticket to ``after`` once the request is over, however it ended."""
        if not self._enabled:
            return Ticket(route, 0)
        while True:
            with self._lock:
                now = self._clock()
                budgets = self._budgets(route)
                slot, free = self._slot(budgets, now)
                reserved = free and slot <= now + RESERVE_AHEAD
                if reserved:
                    self._numbered += 1
                    ticket = Ticket(route, self._numbered)
                    for budget in budgets:
                        budget.reserve(ticket.number, slot, safety=self._safety)
            if not reserved:  # a probe is out, or the slot is far: look again nearer the time
                wait = slot - now - RESERVE_AHEAD if free else slot - now
                self._sleep(wait if wait > 0 else PROBE_POLL)
                continue
            if slot > now:
                log.debug("pacing %s: waiting %.3f s", route, slot - now)
                try:
                    self._sleep(slot - now)
                except BaseException:
                    self.after(ticket, None)
                    raise
            return ticket

    def after(self, ticket: Ticket, headers: Mapping[str, str] | None) -> None:
        """End the request of ``ticket`` and learn the budgets from its response's headers (any
        may be missing, names in any case); ``None`` when the request got no response."""
        if not self._enabled:
            return
        route_report = global_report = None
        if headers is not None:
            fields = headers if isinstance(headers, Headers) else _lowered(headers)
            reset_ms = _number(fields.get(RESET))
            if reset_ms is not None:
                reset = reset_ms / 1000.0
                route_report = _report(fields.get(ROUTE_REMAINING), reset)
                global_report = _report(fields.get(GLOBAL_REMAINING), reset)
        with self._lock:
            now = self._clock()
            route_budget, global_budget = self._budgets(ticket.route)
            for budget in (route_budget, global_budget):
                budget.in_flight.discard(ticket.number)
                if headers is None:
                    budget.ordinals.pop(ticket.number, None)
            if headers is not None:
                route_budget.learn(route_report, ticket.number, now)
                global_budget.learn(global_report, ticket.number, now)

    def on_rate_limited(self, route: str, reset_at: float | None) -> None:
        """After a 429 (and its ``after``): nothing more on ``route`` before ``reset_at`` (epoch
        seconds; ``None``: the route's known reset), nor at all when the global budget is spent."""
        if not self._enabled:
            return
        with self._lock:
            now = self._clock()
            route_budget, global_budget = self._budgets(route)
            if reset_at is None and route_budget.window is not None:
                reset_at = route_budget.window[1]
            if reset_at is None:
                return
            route_budget.close(reset_at, now)
            if global_budget.window is not None and global_budget.window[0] <= 0:
                global_budget.close(reset_at, now)

    def _budgets(self, route: str) -> tuple[_Budget, _Budget]:
        budget = self._routes.get(route)
        if budget is None:
            budget = self._routes[route] = _Budget()
            if self._global.window is not None or self._global.probing:
                # The server reports limits: a new route's budget is probed, not burst into.
                budget.probing, budget.probes_after = True, self._numbered
        return budget, self._global

    def _slot(self, budgets: Sequence[_Budget], now: float) -> tuple[float, bool]:
        """The earliest time every budget allows, and whether it is a slot (``False``: a probe
        is out, check again after that time)."""
        slot = now
        for _ in range(_MAX_ROUNDS):
            later = slot
            for budget in budgets:
                t = budget.earliest(later, safety=self._safety, probes=self._probes)
                if t is None:
                    return later, False
                later = max(later, t)
            if later == slot:
                break
            slot = later
        return slot, True


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _report(remaining: str | None, reset_at: float) -> tuple[int, float] | None:
    value = _number(remaining)
    return None if value is None else (int(value), reset_at)
