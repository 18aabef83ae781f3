"""``api.fanout``: results in order, errors raised, and as many threads as help.

The ramp's decisions are driven with a simulated server (``drive``: throughput as a function of
the thread count, on a fake clock); ``each`` runs against the emulator, slow (every request
waits 50 ms: a distant server) and fast (in this process, so more threads cannot help).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from conftest import TOKEN
from race_helpers import slow_emulator

from reconciler.api.client import Client, settings_from_env
from reconciler.api.fanout import Ramp, each
from reconciler.emulator import EmulatorServer
from reconciler.errors import ApiError

CPU = 0.0001  # seconds of a thread's CPU per simulated item


def drive(limit: int, throughput: Callable[[int], float], items: int = 20_000) -> Ramp:
    """Feed ``items`` completions to a ``Ramp`` as a server with that throughput (items per
    second, by thread count) would: each takes ``1 / throughput`` of the clock, and each
    thread's latency is ``threads / throughput``. New threads' first items come first."""
    now = [0.0]
    ramp = Ramp(limit, clock=lambda: now[0])
    firsts = ramp.target
    for _ in range(items):
        threads = ramp.target
        now[0] += 1 / throughput(threads)
        wall = threads / throughput(threads)
        added = ramp.done(wall, CPU, firsts > 0)
        firsts = max(0, firsts - 1) + added
        if ramp.settled:
            break
    return ramp


def test_a_server_that_more_threads_do_not_speed_up_keeps_one_thread() -> None:
    ramp = drive(32, lambda threads: 3_000.0)  # the server is the bottleneck
    assert ramp.settled and ramp.target == 1
    assert ramp.retire == 1, "the doubling that did not pay is undone"


def test_threads_double_while_each_doubling_pays_up_to_the_limit() -> None:
    ramp = drive(32, lambda threads: 2_000.0 * min(threads, 8))  # scales up to 8 threads
    assert ramp.settled and ramp.target == 8


def test_an_item_that_mostly_waits_starts_every_thread_at_once() -> None:
    ramp = Ramp(16)
    assert ramp.done(0.05, CPU, True) == 0, "the first item also connects: not judged"
    assert ramp.done(0.05, CPU, False) == 15
    assert ramp.target == 16


def test_a_jump_to_every_thread_that_does_not_pay_is_undone() -> None:
    # A slow server that serves one request at a time: 20 items a second, however many ask.
    ramp = drive(16, lambda threads: 20.0)
    assert ramp.settled and ramp.target == 1 and ramp.retire == 15


def test_a_latency_bound_server_keeps_every_thread_after_the_jump() -> None:
    ramp = drive(16, lambda threads: 20.0 * threads)  # 50 ms each, any number at once
    assert ramp.settled and ramp.target == 16 and ramp.retire == 0


def test_each_returns_the_results_in_the_order_of_the_items() -> None:
    assert each(lambda n: n * n, list(range(500)), 8) == [n * n for n in range(500)]
    assert each(lambda n: n, [], 8) == []


def test_the_first_error_is_raised_and_the_threads_stop_taking_items() -> None:
    done: list[int] = []

    def work(n: int) -> int:
        if n == 3:
            raise ValueError("item 3 is bad")
        done.append(n)
        return n

    with pytest.raises(ValueError, match="item 3 is bad"):
        each(work, list(range(10_000)), 4)
    assert len(done) < 10_000 - 1


def test_a_distant_server_gets_every_thread_it_may() -> None:
    with slow_emulator(latency_ms=50) as server:
        store = server.state.create_store(
            "payments", "production", "redis", {"name": "a", "config": {"host": "h"}}
        )
        threads: set[int] = set()
        env = {"LAUNCHDARKLY_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": server.url}
        with Client(settings_from_env(env)) as client:

            def read(_: int) -> None:
                threads.add(threading.get_ident())
                client.get_store("payments", "production", "redis", store.id)

            each(read, list(range(96)), 16)
    assert len(threads) == 16


def test_work_that_threads_cannot_speed_up_is_left_to_one_thread() -> None:
    # Each item waits 20 ms, one at a time (a server that serves one request at a time):
    # the thread mostly waits, so every thread is tried, and then given up as no faster.
    serial = threading.Lock()
    ran_on: list[int] = [0] * 80

    def work(n: int) -> None:
        ran_on[n] = threading.get_ident()
        with serial:
            time.sleep(0.02)

    each(work, list(range(len(ran_on))), 8)
    assert len(set(ran_on)) == 8, "every thread was tried"
    assert len(set(ran_on[-20:])) == 1, "the last items ran on one thread"


def test_work_that_threads_speed_up_keeps_every_thread() -> None:
    ran_on: list[int] = [0] * 80

    def work(n: int) -> None:
        ran_on[n] = threading.get_ident()
        time.sleep(0.02)  # a distant server: any number at once

    each(work, list(range(len(ran_on))), 8)
    assert len(set(ran_on[-20:])) == 8


def test_an_api_error_in_one_read_stops_the_fan_out(emulator: EmulatorServer) -> None:
    env = {"LAUNCHDARKLY_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": emulator.url}
    with Client(settings_from_env(env)) as client, pytest.raises(ApiError) as error:
        each(lambda n: client.get_store("payments", "production", "redis", f"x{n}"), [1, 2], 4)
    assert error.value.status == 404
