"""Tests of the pacer against fake clocks: nothing here really sleeps or reads the wall clock."""

from __future__ import annotations

import heapq
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from reconciler.api.pacing import MAX_RESET_AHEAD, PROBE_POLL, RESET_MARGIN, Pacer

NOW = 1_700_000_000.0
ROUTE = "GET /stores/{id}"
OTHER = "PATCH /stores/{id}"


@dataclass
class FakeTime:
    """One thread's fake time: ``sleep`` records the wait and moves the clock; ``on_sleep``
    lets a test act at the moment the pacer waits."""

    now: float = NOW
    sleeps: list[float] = field(default_factory=list)
    on_sleep: Callable[[], None] | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def limits(
    *, route: int | None = None, glob: int | None = None, reset: float | None = None
) -> dict[str, str]:
    headers = {}
    if route is not None:
        headers["X-Ratelimit-Route-Remaining"] = str(route)
    if glob is not None:
        headers["X-Ratelimit-Global-Remaining"] = str(glob)
    if reset is not None:
        headers["X-Ratelimit-Reset"] = str(round(reset * 1000))
    return headers


def make(time: FakeTime, **kwargs: int | bool) -> Pacer:
    return Pacer(clock=time.clock, sleep=time.sleep, **kwargs)  # type: ignore[arg-type]


def seen(pacer: Pacer, *responses: dict[str, str], route: str = ROUTE) -> None:
    """A first request (nothing delays it) answered with ``responses``' headers."""
    ticket = pacer.before(route)
    for headers in responses:
        pacer.after(ticket, headers)


def send(pacer: Pacer, route: str, headers: dict[str, str] | None) -> None:
    pacer.after(pacer.before(route), headers)


# -- one caller -----------------------------------------------------------------------------------


def test_without_rate_limit_headers_nothing_is_delayed() -> None:
    time = FakeTime()
    pacer = make(time)
    for _ in range(100):
        send(pacer, ROUTE, {"Content-Type": "application/json"})
    assert time.sleeps == []


def test_ten_remaining_with_a_second_left_are_spread_evenly_before_the_reset() -> None:
    time = FakeTime()
    pacer = make(time, safety=0)
    reset = NOW + 1.0
    seen(pacer, limits(route=10, reset=reset))
    sent = []
    for remaining in range(9, -1, -1):
        ticket = pacer.before(ROUTE)
        sent.append(time.now - NOW)
        pacer.after(ticket, limits(route=remaining, reset=reset))
    assert sent == pytest.approx([i / 10 for i in range(10)])
    assert time.now < reset
    pacer.before(ROUTE)  # the eleventh waits for the next window
    assert time.now == pytest.approx(reset + RESET_MARGIN)


def test_the_safety_margin_leaves_one_request_unspent() -> None:
    time = FakeTime()
    pacer = make(time, safety=1)
    reset = NOW + 1.0
    seen(pacer, limits(route=5, reset=reset))
    sent = []
    for remaining in range(4, -1, -1):
        ticket = pacer.before(ROUTE)
        sent.append(time.now - NOW)
        pacer.after(ticket, limits(route=remaining, reset=reset))
    assert sent[:4] == pytest.approx([0.0, 0.25, 0.5, 0.75])
    assert sent[4] == pytest.approx(1.0 + RESET_MARGIN)


def test_requests_in_flight_count_against_the_budget_until_reported() -> None:
    time = FakeTime()
    pacer = make(time, safety=0)
    reset = NOW + 1.0
    seen(pacer, limits(route=4, reset=reset))
    first = pacer.before(ROUTE)
    second = pacer.before(ROUTE)  # both out, neither answered: 2 of the 4 left
    pacer.after(first, limits(route=3, reset=reset))  # counts the first, not the second
    third = pacer.before(ROUTE)
    fourth = pacer.before(ROUTE)  # the last of the 4
    assert time.now - NOW == pytest.approx(0.75)
    for ticket, remaining in ((second, 2), (third, 1), (fourth, 0)):
        pacer.after(ticket, limits(route=remaining, reset=reset))
    pacer.before(ROUTE)
    assert time.now == pytest.approx(reset + RESET_MARGIN)


def test_zero_remaining_waits_until_the_reset() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, glob=50, reset=NOW + 2.5))
    pacer.before(ROUTE)
    assert sum(time.sleeps) == pytest.approx(2.5 + RESET_MARGIN)  # looking again near the end


def test_the_global_budget_governs_when_it_is_smaller() -> None:
    time = FakeTime()
    pacer = make(time, safety=0)
    reset = NOW + 1.0
    seen(pacer, limits(route=100, glob=4, reset=reset))
    sent = []
    for remaining in range(3, -1, -1):
        ticket = pacer.before(OTHER)  # another route draws on the same global budget
        sent.append(time.now - NOW)
        pacer.after(ticket, limits(route=100 - remaining, glob=remaining, reset=reset))
    assert sent == pytest.approx([0.0, 0.25, 0.5, 0.75])
    pacer.before(ROUTE)
    assert time.now == pytest.approx(reset + RESET_MARGIN)


def test_an_exhausted_route_does_not_delay_other_routes() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, glob=90, reset=NOW + 5))
    send(pacer, OTHER, {})
    assert time.sleeps == []


def test_headers_are_read_in_any_case() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, {"x-ratelimit-route-remaining": "0", "X-RATELIMIT-RESET": f"{NOW + 3:.0f}000"})
    pacer.before(ROUTE)
    assert time.now == pytest.approx(NOW + 3 + RESET_MARGIN)


@pytest.mark.parametrize("reset", [NOW - 5, NOW + MAX_RESET_AHEAD + 1], ids=["past", "far"])
def test_a_skewed_reset_makes_the_budget_unknown(reset: float) -> None:
    time = FakeTime()
    pacer = make(time)
    seen(
        pacer,
        limits(route=5, reset=NOW + 1),  # known ...
        limits(route=0, glob=0, reset=NOW + 2),  # ... then a newer window
        limits(route=0, glob=0, reset=reset),  # ... then nonsense
    )
    pacer.before(ROUTE)
    assert time.sleeps == []


def test_unparseable_headers_are_ignored() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(
        pacer,
        limits(reset=NOW + 1) | {"X-Ratelimit-Route-Remaining": "lots"},
        {"X-Ratelimit-Route-Remaining": "0", "X-Ratelimit-Reset": "soon"},
    )
    pacer.before(ROUTE)
    assert time.sleeps == []


def test_a_disabled_pacer_never_delays() -> None:
    time = FakeTime()
    pacer = make(time, enabled=False)
    seen(pacer, limits(route=0, glob=0, reset=NOW + 5))
    pacer.on_rate_limited(ROUTE, NOW + 5)
    pacer.before(ROUTE)
    assert time.sleeps == []


# -- window ends and probes -----------------------------------------------------------------------


def test_after_a_reset_one_probe_goes_and_the_rest_wait_for_its_answer() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, reset=NOW + 1))
    probe = pacer.before(ROUTE)  # the probe of the new window
    probe_sent = time.now
    assert probe_sent == pytest.approx(NOW + 1 + RESET_MARGIN)
    polls = 0

    def answer_the_probe_on_the_third_poll() -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            pacer.after(probe, limits(route=9, reset=NOW + 2))

    time.on_sleep = answer_the_probe_on_the_third_poll
    pacer.before(ROUTE)  # while the probe is out, a second request polls
    assert polls == 3
    assert time.sleeps[-3:] == [PROBE_POLL] * 3
    assert time.now == pytest.approx(probe_sent + 3 * PROBE_POLL)


def test_answers_from_an_ended_window_do_not_end_probing() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, reset=NOW + 1))
    probe = pacer.before(ROUTE)
    pacer.after(probe, limits(route=0, reset=NOW + 1))  # counted in the old window after all
    probe = pacer.before(ROUTE)  # so the next request probes again, at once
    assert time.now == pytest.approx(NOW + 1 + RESET_MARGIN)
    polls = 0

    def answer() -> None:
        nonlocal polls
        polls += 1
        pacer.after(probe, limits(route=5, reset=NOW + 2))

    time.on_sleep = answer
    pacer.before(ROUTE)  # and a third waits for that probe's answer
    assert polls == 1


def test_a_straggler_from_the_old_window_does_not_hold_back_the_probe() -> None:
    time = FakeTime()
    pacer = make(time, safety=0)
    seen(pacer, limits(route=1, reset=NOW + 1))
    straggler = pacer.before(ROUTE)  # the last of the window; its answer is slow
    probe = pacer.before(ROUTE)  # the next window's probe goes anyway
    assert time.now == pytest.approx(NOW + 1 + RESET_MARGIN)
    polls = 0

    def answer() -> None:
        nonlocal polls
        polls += 1
        if polls == 1:  # the straggler's answer is about the old window: still wait
            pacer.after(straggler, limits(route=0, reset=NOW + 1))
        if polls == 2:
            pacer.after(probe, limits(route=5, reset=NOW + 2))

    time.on_sleep = answer
    pacer.before(ROUTE)  # waits for the probe, not for the straggler
    assert polls == 2


def test_a_failed_request_frees_its_probe_without_teaching_anything() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, reset=NOW + 1))
    probe = pacer.before(ROUTE)
    pacer.after(probe, None)  # a transport error: no response
    start = time.now
    pacer.before(ROUTE)  # the next probe goes at once
    assert time.now == start


def test_a_response_without_the_header_ends_probing() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, reset=NOW + 1))
    probe = pacer.before(ROUTE)
    pacer.after(probe, {})  # this server does not report the route budget any more
    start = time.now
    for _ in range(3):
        pacer.before(ROUTE)
    assert time.now == start


def test_an_interrupted_wait_gives_its_reservation_back() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=0, reset=NOW + 1))

    def interrupt() -> None:
        raise KeyboardInterrupt

    time.on_sleep = interrupt
    with pytest.raises(KeyboardInterrupt):
        pacer.before(ROUTE)  # would have been the probe
    time.on_sleep = None
    pacer.before(ROUTE)  # not blocked by a probe that never went
    assert time.now == pytest.approx(NOW + 1 + RESET_MARGIN)


# -- 429s -----------------------------------------------------------------------------------------


def test_a_429_closes_the_route_until_the_reset() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=20, glob=50, reset=NOW + 10))
    pacer.on_rate_limited(ROUTE, NOW + 3)
    send(pacer, OTHER, {})
    assert time.sleeps == []  # the global budget is not spent
    pacer.before(ROUTE)
    assert time.now == pytest.approx(NOW + 3 + RESET_MARGIN)


def test_a_429_with_the_global_budget_spent_closes_every_route() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=20, glob=0, reset=NOW + 4))
    pacer.on_rate_limited(ROUTE, NOW + 4)
    pacer.before(OTHER)
    assert time.now == pytest.approx(NOW + 4 + RESET_MARGIN)


def test_a_429_without_a_known_reset_leaves_the_wait_to_the_caller() -> None:
    time = FakeTime()
    pacer = make(time)
    pacer.on_rate_limited(ROUTE, None)
    pacer.before(ROUTE)
    assert time.sleeps == []


# -- many threads ---------------------------------------------------------------------------------


class SimTime:
    """Virtual time shared by cooperating threads: it stands still while any thread is awake and,
    once all are asleep, jumps to the earliest wake-up. Deterministic in time, whatever the OS
    does with the threads."""

    def __init__(self, threads: int, start: float = NOW) -> None:
        self._cond = threading.Condition()
        self._now = start
        self._awake = threads
        self._alarms: list[float] = []

    def clock(self) -> float:
        with self._cond:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._cond:
            wake = self._now + seconds
            if wake <= self._now:
                return
            heapq.heappush(self._alarms, wake)
            self._awake -= 1
            self._advance()
            while self._now < wake:
                if not self._cond.wait(timeout=10):
                    raise AssertionError("simulated time is stuck")

    def finished(self) -> None:
        with self._cond:
            self._awake -= 1
            self._advance()

    def _advance(self) -> None:
        if self._awake or not self._alarms:
            return
        self._now = self._alarms[0]
        while self._alarms and self._alarms[0] <= self._now:
            heapq.heappop(self._alarms)
            self._awake += 1
        self._cond.notify_all()


class Server:
    """LaunchDarkly's fixed-window limits, per route and global, counted on arrival."""

    def __init__(self, clock: Callable[[], float], *, route: int, glob: int, window: float) -> None:
        self._clock = clock
        self._route_limit, self._global_limit, self._window = route, glob, window
        self._lock = threading.Lock()
        self._current = -1
        self._used: dict[str, int] = {}
        self._global = 0
        self.accepted = 0
        self.rejected = 0

    def hit(self, route: str) -> tuple[int, dict[str, str]]:
        with self._lock:
            index = math.floor(self._clock() / self._window)
            if index != self._current:
                self._current, self._used, self._global = index, {}, 0
            used = self._used.get(route, 0)
            ok = used < self._route_limit and self._global < self._global_limit
            if ok:
                self._used[route] = used = used + 1
                self._global += 1
                self.accepted += 1
            else:
                self.rejected += 1
            reset = (index + 1) * self._window
            headers = limits(
                route=self._route_limit - used, glob=self._global_limit - self._global, reset=reset
            )
            return (200 if ok else 429), headers


LATENCY = 0.05
WINDOW = 1.0


def run_workers(
    *, routes: int, route_limit: int, global_limit: int, pacing: bool
) -> tuple[Server, float]:
    """4 threads x 25 requests, spread over ``routes`` routes, sharing one pacer; returns the
    server and the simulated seconds taken."""
    threads, each = 4, 25
    sim = SimTime(threads)
    server = Server(sim.clock, route=route_limit, glob=global_limit, window=WINDOW)
    pacer = Pacer(clock=sim.clock, sleep=sim.sleep, enabled=pacing)
    errors: list[BaseException] = []

    def work(route: str) -> None:
        try:
            done = 0
            while done < each:
                ticket = pacer.before(route)
                status, headers = server.hit(route)
                sim.sleep(LATENCY)
                pacer.after(ticket, headers)
                if status == 429:  # as the client does: wait for the reset, then retry
                    reset = int(headers["X-Ratelimit-Reset"]) / 1000
                    pacer.on_rate_limited(route, reset)
                    sim.sleep(reset - sim.clock())
                else:
                    done += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            sim.finished()

    workers = [
        threading.Thread(target=work, args=(f"GET /route{i % routes}",)) for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers)
    assert errors == []
    assert server.accepted == threads * each
    return server, sim.clock() - NOW


@pytest.mark.parametrize(
    ("routes", "route_limit", "global_limit"),
    [(1, 20, 100), (2, 12, 20)],
    ids=["route-bound", "global-bound"],
)
def test_threads_sharing_a_pacer_use_the_budget_without_429s(
    routes: int, route_limit: int, global_limit: int
) -> None:
    server, elapsed = run_workers(
        routes=routes, route_limit=route_limit, global_limit=global_limit, pacing=True
    )
    assert server.rejected == 0
    limit_per_second = min(routes * route_limit, global_limit) / WINDOW
    assert server.accepted / elapsed >= 0.9 * limit_per_second


def test_without_pacing_the_same_threads_run_into_429s() -> None:
    server, _ = run_workers(routes=2, route_limit=12, global_limit=20, pacing=False)
    assert server.rejected > 0


def _send_times_with_others_spending(others_per_request: int) -> list[float]:
    """Eight requests under a 30-a-second window, while another client spends
    ``others_per_request`` of the budget for each of ours; when each was sent."""
    time = FakeTime()
    pacer = make(time)
    reset, remaining, sent = NOW + 1.0, 30, []
    for _ in range(8):
        ticket = pacer.before(ROUTE)
        sent.append(time.now - NOW)
        time.now += 0.02  # the response takes a while
        remaining -= 1 + others_per_request
        pacer.after(ticket, limits(route=remaining, reset=reset))
    return sent


def test_a_budget_falling_faster_than_our_sends_is_shared_with_the_other_client() -> None:
    alone = _send_times_with_others_spending(0)
    shared = _send_times_with_others_spending(2)
    assert shared[-1] > 2 * alone[-1]  # we take about a third of what is left, not all of it
    assert shared == sorted(shared)


def test_a_new_route_is_probed_once_the_server_reports_limits() -> None:
    time = FakeTime()
    pacer = make(time)
    seen(pacer, limits(route=10, glob=100, reset=NOW + 1.0), route=OTHER)
    first = pacer.before(ROUTE)  # the probe of the new route's budget
    waited: list[float] = []
    time.on_sleep = lambda: (
        waited.append(time.now),
        pacer.after(first, limits(route=9, glob=99, reset=NOW + 1.0)),
    )
    pacer.before(ROUTE)  # waits for the probe's answer instead of bursting
    assert waited and waited[0] == pytest.approx(NOW + PROBE_POLL)
