"""The executor: turns a ``Plan`` into API calls and reports what happened to every change.

Changes run in a fixed order of phases, creates first, then updates, then deletes (so a store
is never removed before its replacement exists), each phase by address and up to
``parallelism`` calls at a time. Secrets are revealed only here, in the request body about to
be sent. The first failure stops the run (calls already in flight finish, nothing new starts):
the ``ApplyError`` it raises lists which stores were changed, which failed and which were not
started. A 409 from
the ``test`` of ``/version`` means the store changed after the plan was made; it is reported as
such and never retried blindly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, cast

from reconciler.api.client import Client
from reconciler.apply.journal import Journal
from reconciler.errors import ApplyError, ConflictError, PlanError, ReconcilerError
from reconciler.model import LiveStore, Secret, reveal
from reconciler.plan.changes import Change, Plan
from reconciler.render.lists import LIST_LIMIT, summarise

APPLY_ORDER = {"create": 0, "update": 1, "delete": 2}

Status = Literal["done", "failed", "not started"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one change."""

    change: Change
    status: Status
    store: LiveStore | None = None
    error: str | None = None


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
) -> list[Outcome]:
    """Execute every change of ``plan``, up to ``parallelism`` at a time within each phase
    (creates, then updates, then deletes); raise ``ApplyError`` once a change fails, after the
    calls already in flight have finished. Nothing new starts after a failure.

    ``live`` is the live state the plan was checked against; by default the stores the plan
    itself read. A create that may have been applied without an answer adopts only a store
    that is not among them."""
    todo = ordered(plan)
    log = journal or Journal(None)
    log.write("start", changes=len(todo))
    worker = _Worker(client, _known_ids(plan, live), log, on_outcome)
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        for action in APPLY_ORDER:
            phase = [c for c in todo if c.action == action]
            outcomes.extend(pool.map(worker.work, phase))  # results in plan order
    failures = [o for o in outcomes if o.status == "failed"]
    if failures:
        not_started = [o.change for o in outcomes if o.status == "not started"]
        log.write("stopped", not_started=[str(c.address) for c in not_started])
        raise ApplyError(_report(outcomes, failures))
    log.write("finished", done=len(outcomes))
    return outcomes


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
    """Runs one change at a time on a pool thread; after a failure nothing new starts."""

    def __init__(
        self,
        client: Client,
        live_ids: dict[tuple[str, str, str], set[str]],
        log: Journal,
        on_outcome: Callable[[Outcome], None] | None,
    ) -> None:
        self.client, self.live_ids, self.log, self.on_outcome = client, live_ids, log, on_outcome
        self.failed = threading.Event()
        self.report_lock = threading.Lock()

    def work(self, change: Change) -> Outcome:
        if self.failed.is_set():
            return Outcome(change, "not started")
        self.log.change("request", change)
        try:
            store = _run(change, self.client, self.live_ids)
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
        new_id, new_version = (store.id, store.version) if store else (None, None)
        self.log.change("done", change, new_id=new_id, new_version=new_version)
        outcome = Outcome(change, "done", store=store)
        if self.on_outcome is not None:
            with self.report_lock:
                self.on_outcome(outcome)
        return outcome


def _run(
    change: Change, client: Client, live_ids: dict[tuple[str, str, str], set[str]]
) -> LiveStore | None:
    address = str(change.address)
    project, environment, key = change.address.slot
    if change.action == "create":
        body = reveal(change.body)
        if not isinstance(body, dict):
            raise PlanError(f"{address}: a create must carry its request body")
        return client.create_store(
            project, environment, key, body, address=address,
            known_ids=frozenset(live_ids.get(change.address.slot, set())),
            secrets=_secret_values(change.body),
        )  # fmt: skip
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


def _report(outcomes: list[Outcome], failures: list[Outcome]) -> str:
    """What was done and what was not; long lists name the first few and count the rest."""

    def names(status: Status) -> str:
        return summarise([_label(o.change) for o in outcomes if o.status == status])

    lines = [f"apply stopped: {failures[0].error}"]
    lines += [f"  also failed: {o.error}" for o in failures[1 : 1 + LIST_LIMIT]]
    if len(failures) > 1 + LIST_LIMIT:
        lines.append(f"  also failed: … and {len(failures) - 1 - LIST_LIMIT} more")
    lines.append("  changed:     " + names("done"))
    lines.append("  failed:      " + names("failed"))
    lines.append("  not started: " + names("not started"))
    return "\n".join(lines)


def _label(change: Change) -> str:
    return f"{change.address} ({change.action})"
