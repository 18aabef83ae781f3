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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

from reconciler.api.client import Client
from reconciler.apply.journal import Journal
from reconciler.errors import ApplyError, ConflictError, ReconcilerError
from reconciler.model import LiveStore, reveal
from reconciler.plan.planner import Change, Plan

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
    if live is None:
        live = [c.live for c in plan.changes if c.live is not None]
        live += [u.live for u in plan.unmanaged]
    live_ids: dict[tuple[str, str, str], set[str]] = {}
    for known in live:
        live_ids.setdefault(known.slot, set()).add(known.id)

    log = journal or Journal(None)
    log.write("start", changes=len(todo))
    failed = threading.Event()
    report_lock = threading.Lock()

    def work(change: Change) -> Outcome:
        if failed.is_set():
            return Outcome(change, "not started")
        log.change("request", change)
        try:
            store = _run(change, client, live_ids)
        except ReconcilerError as error:
            failed.set()
            message = str(error)
            if isinstance(error, ConflictError):
                message = (
                    f"{change.address} changed in LaunchDarkly since the plan was made "
                    f"(HTTP {error.status} {error.code}); nothing was overwritten: re-run plan"
                )
            log.change("failed", change, error=message)
            return Outcome(change, "failed", error=message)
        new_id, new_version = (store.id, store.version) if store else (None, None)
        log.change("done", change, new_id=new_id, new_version=new_version)
        outcome = Outcome(change, "done", store=store)
        if on_outcome is not None:
            with report_lock:
                on_outcome(outcome)
        return outcome

    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        for action in APPLY_ORDER:
            phase = [c for c in todo if c.action == action]
            outcomes.extend(pool.map(work, phase))  # results in plan order
    failures = [o for o in outcomes if o.status == "failed"]
    if failures:
        not_started = [o.change for o in outcomes if o.status == "not started"]
        log.write("stopped", not_started=[str(c.address) for c in not_started])
        raise ApplyError(_report(outcomes, failures))
    log.write("finished", done=len(outcomes))
    return outcomes


def _run(
    change: Change, client: Client, live_ids: dict[tuple[str, str, str], set[str]]
) -> LiveStore | None:
    address = str(change.address)
    project, environment, key = change.address.slot
    if change.action == "create":
        assert change.body is not None, "a create always carries its request body"
        body = reveal(change.body)
        assert isinstance(body, dict)
        return client.create_store(
            project, environment, key, body, address=address,
            known_ids=frozenset(live_ids.get(change.address.slot, set())),
        )  # fmt: skip
    assert change.id is not None, "updates and deletes always name a live store"
    if change.action == "update":
        ops = reveal(list(change.patch))
        assert isinstance(ops, list)
        return client.patch_store(project, environment, key, change.id, ops, address=address)
    client.delete_store(project, environment, key, change.id, address=address)
    return None


def _report(outcomes: list[Outcome], failures: list[Outcome]) -> str:
    def names(status: Status) -> str:
        return ", ".join(_label(o.change) for o in outcomes if o.status == status) or "nothing"

    lines = [f"apply stopped: {failures[0].error}"]
    lines += [f"  also failed: {o.error}" for o in failures[1:]]
    lines.append("  changed:     " + names("done"))
    lines.append("  failed:      " + names("failed"))
    lines.append("  not started: " + names("not started"))
    return "\n".join(lines)


def _label(change: Change) -> str:
    return f"{change.address} ({change.action})"
