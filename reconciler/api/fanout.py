"""Many independent requests on worker threads, as many threads as help and no more.

``each(work, items, parallelism)`` runs ``work`` on every item and returns the results in the
order of the items; the first error (of ``work`` or of the threads themselves) is raised once
every thread has stopped. Threads take the next item as they finish one (no future per item).
They start with one and grow only where threads help: a thread blocked on the network costs
nothing, but threads that take the GIL in turn cost CPU in every hand-off (against the emulator
on loopback, two or more threads spent about a third more CPU per request than one, for no more
throughput: the server was the bottleneck). So ``each`` starts one thread and times its second
item (the first one also makes the connection). When that item mostly waited (wall time over
``WAITING`` times the thread's CPU time: a distant server, or the pacer holding requests back),
every thread it may is started at once; otherwise the threads double. Each step is measured
over a round of at least ``ROUND`` items per thread and ``MIN_ROUND`` seconds, begun once the
new threads have each finished one item (their connection made); a step that did not raise
throughput by ``GAIN`` is undone (its threads stop after their current item) and the count
stays there. Never more than ``parallelism`` threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar, cast

T = TypeVar("T")
R = TypeVar("R")

START = 1
"""Threads at first."""
WAITING = 8.0
"""Wall over CPU time of an item beyond which its thread mostly waits: start every thread."""
GAIN = 1.3
"""How much more throughput a doubling must bring to be kept and followed by another."""
ROUND = 3
"""Items per thread in one measured round, at the least."""
MIN_ROUND = 0.05
"""Seconds of one measured round, at the least: a fast server's rounds of a few items would
measure the scheduler rather than the server."""


class Ramp:
    """When to add threads and when to retire them; every method is called under one lock.
    ``clock`` returns seconds (``time.monotonic``)."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = max(1, limit)
        self.target = self.previous = min(START, self.limit)
        self._clock = clock
        self._judged = False  # whether the first thread's second item was judged
        self._warming = self.target  # threads yet to finish their first item
        self._done = 0
        self._started = 0.0
        self._last: float | None = None  # the previous level's throughput
        self.settled = self.target >= self.limit
        self.retire = 0  # threads that should stop after their current item

    def done(self, wall: float, cpu: float, first: bool) -> int:
        """An item finished, taking ``wall`` seconds and ``cpu`` seconds of its thread's CPU
        (``first``: its thread's first item); how many threads to start now (mostly 0)."""
        if self.settled:
            return 0
        if first:
            self._warming -= 1
            if self._warming == 0:  # every new thread has its connection: a round starts
                self._done, self._started = 0, self._clock()
            return 0
        if not self._judged:  # the first thread's second item, its connection already made
            self._judged = True
            if wall > WAITING * cpu:  # it mostly waited: try every thread
                self._last = 1 / wall
                return self._grow(self.limit)
        if self._warming > 0:
            return 0
        self._done += 1
        elapsed = self._clock() - self._started
        if self._done < ROUND * self.target or elapsed < MIN_ROUND:
            return 0
        rate = self._done / elapsed
        if self._last is not None and rate < self._last * GAIN:
            self.settled = True  # the last step did not pay: undo it
            self.retire, self.target = self.target - self.previous, self.previous
            return 0
        self._last = rate
        if self.target >= self.limit:
            self.settled = True
            return 0
        return self._grow(self.target * 2)

    def _grow(self, wanted: int) -> int:
        grown = min(wanted, self.limit)
        added, self.previous, self.target = grown - self.target, self.target, grown
        self._warming = added
        return added


def each(work: Callable[[T], R], items: Sequence[T], parallelism: int) -> list[R]:
    """``work`` on every item on up to ``parallelism`` threads (see the module docstring);
    the results in the order of the items."""
    return _Fanout(work, items, parallelism).run()


class _Fanout(Generic[T, R]):
    def __init__(self, work: Callable[[T], R], items: Sequence[T], parallelism: int) -> None:
        self.work, self.items = work, items
        self.results: list[R | None] = [None] * len(items)
        self.errors: list[BaseException] = []
        self.indexes = iter(range(len(items)))
        self.lock = threading.Lock()
        self.ramp = Ramp(min(parallelism, len(items)))
        self.threads: list[threading.Thread] = []

    def run(self) -> list[R]:
        if self.items:
            with self.lock:
                self._start(self.ramp.target)
        joined = 0
        try:
            while True:
                with self.lock:
                    if joined == len(self.threads):
                        break
                    thread = self.threads[joined]
                thread.join()
                joined += 1
        except BaseException as interrupted:  # Ctrl-C: the threads stop after their item
            self.errors.append(interrupted)
            raise
        if self.errors:
            raise self.errors[0]
        return cast(list[R], self.results)  # every item was taken: retiring leaves a thread

    def _start(self, count: int) -> None:  # under the lock
        for _ in range(count):
            thread = threading.Thread(target=self._worker, daemon=True)
            self.threads.append(thread)
            thread.start()

    def _worker(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # re-raised by ``run``, whatever it was
            self.errors.append(error)

    def _loop(self) -> None:
        first, lock, ramp = True, self.lock, self.ramp
        while not self.errors:
            with lock:
                if ramp.retire > 0:
                    ramp.retire -= 1
                    return
                index = next(self.indexes, None)
            if index is None:
                return
            timed = not ramp.settled  # once settled, no clocks: each is a system call
            if timed:
                began, cpu = time.monotonic(), time.thread_time()
            self.results[index] = self.work(self.items[index])
            if timed:
                wall, cpu = time.monotonic() - began, time.thread_time() - cpu
                with lock:
                    self._start(ramp.done(wall, cpu, first))
                first = False
