"""The executor: turns a ``Plan`` into API calls and reports what happened to every change.

Changes run in a fixed order of phases, creates first, then updates, then deletes (so a store
is never removed before its replacement exists), each phase by address and up to
``parallelism`` calls at a time on daemon worker threads. Secrets are revealed only here, in the
request body about to be sent. Every create goes through the twin protocol
(``reconciler.apply.twins``), so racing runs leave one store per address: creates are posted in
batches of ``CREATE_BATCH``, then the batch is settled, so one shared list serves the batch.
The first failure stops the run (calls already in flight finish, stores already posted are
settled, nothing new starts): the ``ApplyError`` it raises lists which stores were changed,
which failed and which were not started. A signal (``Stop``) stops it the same way; the changes
in flight get ``grace`` seconds (a second signal: none), and ``ApplyInterrupted`` says what was
changed, failed, not started or left in flight. A 409 from the ``test`` of ``/version`` means
the store changed after the plan was made; it is reported as such and never retried blindly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, cast

from reconciler.api.client import Client
from reconciler.apply.interrupt import Stop
from reconciler.apply.journal import Journal
from reconciler.apply.twins import DEFAULT_WAIT, Settled, Twins
from reconciler.errors import (
    ApplyError,
    ApplyInterrupted,
    ConflictError,
    PlanError,
    ReconcilerError,
)
from reconciler.model import LiveStore, Secret, reveal
from reconciler.plan.changes import Change, Plan
from reconciler.render.lists import LIST_LIMIT, summarise

APPLY_ORDER = {"create": 0, "update": 1, "delete": 2}
DEFAULT_GRACE = 30.0
CREATE_BATCH = 1000
TICK = 0.05

Status = Literal["done", "failed", "not started", "in flight"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one change."""

    change: Change
    status: Status
    store: LiveStore | None = None
    error: str | None = None
    note: str = ""
    """For a create: how its twins were resolved, when another run created one too."""


def ordered(plan: Plan) -> list[Change]:
    """The changes apply executes, in execution order."""
    todo = [c for c in plan.changes if c.is_change]
    return sorted(todo, key=lambda c: APPLY_ORDER[c.action])


def execute(
    plan: Plan,
    client: Client,
    *,
    parallelism: int = 1,
    on_outcome: Callable[[Outcome], None] | None = None,
    live: Sequence[LiveStore] | None = None,
    journal: Journal | None = None,
    stop: Stop | None = None,
    grace: float = DEFAULT_GRACE,
    twin_wait: float = DEFAULT_WAIT,
    on_stop: Callable[[Stop], None] | None = None,
) -> list[Outcome]:
    """Execute every change of ``plan``, up to ``parallelism`` at a time within each phase
    (creates, then updates, then deletes); raise ``ApplyError`` once a change fails, after the
    calls already in flight have finished, or ``ApplyInterrupted`` once ``stop`` is requested.
    Nothing new starts after either.

    ``live`` is the live state the plan was checked against; by default the stores the plan
    itself read. A create that may have been applied without an answer adopts only a store
    that is not among them. ``on_stop`` is told once when a stop request is noticed."""
    todo = ordered(plan)
    log = journal or Journal(None)
    halt = stop or Stop()
    log.write("start", changes=len(todo))
    twins = Twins(client, owner_tag=plan.owner_tag, run=log.run, wait=twin_wait)
    worker = _Worker(client, _known_ids(plan, live), log, on_outcome, twins, halt)
    outcomes: list[Outcome] = []
    run = _Run(worker, max(1, parallelism), halt, grace, on_stop)
    for action in APPLY_ORDER:
        phase = [Outcome(c, "not started") for c in todo if c.action == action]
        outcomes.extend(
            _run_creates(phase, run) if action == "create" else _run_phase(phase, worker.work, run)
        )
    failures = [o for o in outcomes if o.status == "failed"]
    if halt.requested:
        log.write(
            "interrupted",
            signal=halt.name,
            changed=_addresses(outcomes, "done"),
            failed=_addresses(outcomes, "failed"),
            not_started=_addresses(outcomes, "not started"),
            in_flight=_addresses(outcomes, "in flight"),
        )
        head = f"apply interrupted by {halt.name}"
        if any(o.status == "in flight" for o in outcomes):
            head += f"; changes still in flight were abandoned ({_why(halt, grace)})"
        raise ApplyInterrupted(_report(outcomes, head), signum=halt.signum or 0)
    if failures:
        not_started = [o.change for o in outcomes if o.status == "not started"]
        log.write("stopped", not_started=[str(c.address) for c in not_started])
        head = f"apply stopped: {failures[0].error}"
        raise ApplyError(_report(outcomes, head, failures[1:]))
    log.write("finished", done=len(outcomes))
    return outcomes


def _addresses(outcomes: list[Outcome], status: Status) -> list[str]:
    return [str(o.change.address) for o in outcomes if o.status == status]


def _why(stop: Stop, grace: float) -> str:
    return "a second signal" if stop.aborted else f"not finished {grace:g}s after the signal"


@dataclass(frozen=True, slots=True)
class _Run:
    """How the tasks of one apply run: on which worker, how many at a time, until which stop."""

    worker: _Worker
    parallelism: int
    stop: Stop
    grace: float
    on_stop: Callable[[Stop], None] | None

    def grace_over(self) -> bool:
        return self.stop.aborted or (self.stop.requested and self.stop.grace_over(self.grace))


def _run_creates(phase: list[Outcome], run: _Run) -> list[Outcome]:
    """Run the creates in batches of ``CREATE_BATCH``: post every create of a batch (each
    pending, "in flight" with its store), then settle them all, so one shared list of the twin
    protocol serves the whole batch. A stop or a failure starts no new create, but the stores
    already posted are still settled (unless the grace period is over)."""
    outcomes: list[Outcome] = []
    for start in range(0, len(phase), CREATE_BATCH):
        posted = _run_phase(phase[start : start + CREATE_BATCH], run.worker.work, run)
        due = [i for i, o in enumerate(posted) if o.status == "in flight" and o.store is not None]
        if due and not run.grace_over():
            settled = _run_phase([posted[i] for i in due], run.worker.settle, run)
            for i, outcome in zip(due, settled, strict=True):
                posted[i] = outcome
        outcomes.extend(posted)
    return outcomes


def _run_phase(
    tasks: list[Outcome], work: Callable[[Outcome], Outcome], run: _Run
) -> list[Outcome]:
    """Run ``work`` on every task (a change and how far it got) on daemon threads, results in
    plan order. After a stop request the tasks still running get ``grace`` seconds (none after
    a second signal); those that have not finished then are reported "in flight" and left
    behind (daemon threads do not hold up the process's exit), those never started keep their
    state."""
    results: list[Outcome | None] = [None] * len(tasks)
    crashed: list[BaseException] = []
    started: set[int] = set()
    queue = iter(list(enumerate(tasks)))
    lock = threading.Lock()

    def loop() -> None:
        while True:
            with lock:
                item = next(queue, None)
                if item is not None:
                    started.add(item[0])
            if item is None:
                return
            try:
                results[item[0]] = work(item[1])
            except BaseException as error:  # a bug: surface it on the main thread
                crashed.append(error)
                run.worker.failed.set()

    threads = [
        threading.Thread(target=loop, name=f"apply-{i}", daemon=True)
        for i in range(min(run.parallelism, len(tasks)))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            if run.stop.requested and run.on_stop is not None and not run.stop.noticed:
                run.stop.noticed = True
                run.on_stop(run.stop)
            if run.grace_over():
                break
            thread.join(TICK)
    if crashed:
        raise crashed[0]
    with lock:
        running = set(started)
    return [
        o if o is not None else replace(t, status="in flight") if i in running else t
        for i, (t, o) in enumerate(zip(tasks, results, strict=True))
    ]


def _known_ids(
    plan: Plan, live: Sequence[LiveStore] | None
) -> dict[tuple[str, str, str], set[str]]:
    """The ids of the live stores per slot: by default those the plan itself read."""
    if live is None:
        live = [c.live for c in plan.changes if c.live is not None]
        live += [u.live for u in plan.unmanaged]
    known: dict[tuple[str, str, str], set[str]] = {}
    for store in live:
        known.setdefault(store.slot, set()).add(store.id)
    return known


class _Worker:
    """Runs one change at a time on a worker thread; after a failure or a stop request
    nothing new starts."""

    def __init__(
        self,
        client: Client,
        live_ids: dict[tuple[str, str, str], set[str]],
        log: Journal,
        on_outcome: Callable[[Outcome], None] | None,
        twins: Twins,
        stop: Stop,
    ) -> None:
        self.client, self.live_ids, self.log, self.on_outcome = client, live_ids, log, on_outcome
        self.twins, self.stop = twins, stop
        self.failed = threading.Event()
        self.report_lock = threading.Lock()

    def work(self, task: Outcome) -> Outcome:
        """Start a change: an update or a delete runs to its end, a create is posted and comes
        back "in flight" with its pending store, for ``settle``."""
        change = task.change
        if self.failed.is_set() or self.stop.requested:
            return task
        self.log.change("request", change)
        if change.action == "create":
            return self._attempt(change, lambda: (self._post(change), None), done=False)
        return self._attempt(change, lambda: (_run(change, self.client), None))

    def settle(self, task: Outcome) -> Outcome:
        """Finish a posted create (even after a failure or a stop: its store exists)."""
        return self._attempt(task.change, lambda: self._settle(task))

    def _attempt(
        self,
        change: Change,
        step: Callable[[], tuple[LiveStore | None, Settled | None]],
        *,
        done: bool = True,
    ) -> Outcome:
        try:
            store, settled = step()
        except ReconcilerError as error:
            self.failed.set()
            message = str(error)
            if isinstance(error, ConflictError):
                message = (
                    f"{change.address} changed in LaunchDarkly since the plan was made "
                    f"(HTTP {error.status} {error.code}); nothing was overwritten: re-run plan"
                )
            self.log.change("failed", change, error=message)
            return Outcome(change, "failed", error=message)
        if not done:
            return Outcome(change, "in flight", store=store)
        new_id, new_version = (store.id, store.version) if store else (None, None)
        extra: dict[str, object] = {}
        if settled is not None and settled.winner is not None:
            extra = {"note": settled.note, "removed_id": settled.removed, "winner": settled.winner}
        self.log.change("done", change, new_id=new_id, new_version=new_version, **extra)
        note = settled.note if settled is not None and settled.winner is not None else ""
        outcome = Outcome(change, "done", store=store, note=note)
        if self.on_outcome is not None:
            with self.report_lock:
                self.on_outcome(outcome)
        return outcome

    def _settle(self, task: Outcome) -> tuple[LiveStore, Settled]:
        if task.store is None:
            raise PlanError(f"{task.change.address}: no posted store to settle")
        settled = self.twins.settle(str(task.change.address), task.store)
        return settled.store, settled

    def _post(self, change: Change) -> LiveStore:
        """Create the store, pending (``Twins``)."""
        address = str(change.address)
        project, environment, key = change.address.slot
        body = reveal(change.body)
        if not isinstance(body, dict):
            raise PlanError(f"{address}: a create must carry its request body")
        created = self.client.create_store(
            project, environment, key, self.twins.pending_body(body), address=address,
            known_ids=frozenset(self.live_ids.get(change.address.slot, set())),
            secrets=_secret_values(change.body),
        )  # fmt: skip
        self.twins.created(created)
        return created


def _run(change: Change, client: Client) -> LiveStore | None:
    """An update or a delete."""
    address = str(change.address)
    project, environment, key = change.address.slot
    if change.id is None:
        raise PlanError(f"{address}: an {change.action} must name the live store's id")
    if change.action == "update":
        ops = cast(list[Mapping[str, object]], reveal(list(change.patch)))
        return client.patch_store(project, environment, key, change.id, ops, address=address,
                                  secrets=_secret_values(change.patch))  # fmt: skip
    client.delete_store(project, environment, key, change.id, address=address)
    return None


def _secret_values(value: object) -> tuple[str, ...]:
    """Every secret's value in a body or patch (a host from ``${...}`` too): an error that
    echoes the request must not show any of them."""
    if isinstance(value, Secret):
        return (value.value,) if value.value else ()
    if isinstance(value, Mapping):
        return tuple(s for v in value.values() for s in _secret_values(v))
    if isinstance(value, list | tuple):
        return tuple(s for v in value for s in _secret_values(v))
    return ()


def _report(outcomes: list[Outcome], head: str, more: Sequence[Outcome] = ()) -> str:
    """What was done and what was not; long lists name the first few and count the rest."""

    def names(status: Status) -> str:
        return summarise([_label(o.change) for o in outcomes if o.status == status])

    lines = [head]
    lines += [f"  also failed: {o.error}" for o in more[:LIST_LIMIT]]
    if len(more) > LIST_LIMIT:
        lines.append(f"  also failed: … and {len(more) - LIST_LIMIT} more")
    lines.append("  changed:     " + names("done"))
    lines.append("  failed:      " + names("failed"))
    lines.append("  not started: " + names("not started"))
    if any(o.status == "in flight" for o in outcomes):
        lines.append("  in flight:   " + names("in flight") + " (outcome unknown: run plan)")
    return "\n".join(lines)


def _label(change: Change) -> str:
    return f"{change.address} ({change.action})"
