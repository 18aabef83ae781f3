"""Concurrency-safe creates: the protocol that leaves exactly one store per address when several
``apply`` runs create the same store at the same time.

LaunchDarkly offers no lock and no unique name, so two runs that both planned a create both
POST. Each run therefore creates its store *pending*: with the extra tag
``reconciler:pending:<run id>``, which names the run that created it. Right after the create
(or after adopting a create whose answer was lost) the run lists the stores and looks at the
address's *twins*: stores of the same project, environment and kind, with the same name,
carrying the ownership tag. Then, listing again until it can decide:

- a twin that is *settled* (no pending tag) exists: that twin won. The run deletes its own
  store (only its own: it carries this run's pending tag) and adopts the winner;
- its store is the only twin: it settles it (a PATCH guarded by ``test /version`` that drops
  the pending tag). It won;
- other pending twins exist and one has a lower ``_id``: the run deletes its own store, then
  waits until the surviving twin is settled and adopts it;
- its store has the lowest ``_id``: it waits until the other runs have deleted theirs.

Only a store that was the only twin when its run listed is ever settled, so two settled twins
cannot both exist: each would have had to be created after the other's list. A run whose
twins stay unresolved longer than ``wait`` seconds (another run died half-way) fails that
change and says which stores remain. Lists are shared: one list serves every create that
finished before it started (``created`` notes when that was), so a run that posts a batch of
creates and then settles them needs one list for the whole batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.api.client import Client
from reconciler.errors import ConflictError, PlanError
from reconciler.model import LiveStore
from reconciler.plan.changes import PENDING_PREFIX, is_pending

DEFAULT_WAIT = 60.0
POLL_INTERVAL = 0.25


@dataclass(frozen=True, slots=True)
class Settled:
    """How a create ended: the store this run keeps for the address, and what happened.

    ``removed`` is the id of this run's own store when it lost to ``winner``."""

    store: LiveStore
    note: str = "created"
    removed: str | None = None
    winner: str | None = None


class _Lister:
    """Shared fresh lists, numbered by generation in the order they start.

    ``ticket()`` names the newest generation started so far; ``fresh(after)`` returns a list
    of a later generation, one that started after the ticket was taken. One list serves every
    caller whose ticket is older than it, and a list starts only when someone waits."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._cond = threading.Condition()
        self._started = 0
        self._finished = 0
        self._running = False
        self._result: list[LiveStore] = []

    def ticket(self) -> int:
        with self._cond:
            return self._started

    def fresh(self, after: int) -> list[LiveStore]:
        with self._cond:
            while self._finished <= after:
                if not self._running:
                    self._running = True
                    self._started += 1
                    generation = self._started
                    break
                self._cond.wait()
            else:
                return self._result
        try:
            result = self._client.list_stores()
        except BaseException:
            with self._cond:
                self._running = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._running = False
            self._finished, self._result = generation, result
            self._cond.notify_all()
        return result


class Twins:
    """The protocol for one run: tags its creates as pending and settles each of them."""

    def __init__(
        self,
        client: Client,
        *,
        owner_tag: str,
        run: str,
        wait: float = DEFAULT_WAIT,
        interval: float = POLL_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client, self.owner_tag, self.pending_tag = client, owner_tag, PENDING_PREFIX + run
        self.wait, self.interval, self.clock, self.sleep = wait, interval, clock, sleep
        self._lister = _Lister(client)
        self._tickets: dict[str, int] = {}
        self._tickets_lock = threading.Lock()

    def pending_body(self, body: Mapping[str, object]) -> dict[str, object]:
        """The create body with this run's pending tag added."""
        tags = body.get("tags")
        listed = [str(t) for t in tags] if isinstance(tags, list | tuple) else []
        return {**body, "tags": [*listed, self.pending_tag]}

    def created(self, mine: LiveStore) -> None:
        """Note that the create of ``mine`` has just finished: its settle may use any list that
        starts from now on, however long after this the settle comes."""
        ticket = self._lister.ticket()
        with self._tickets_lock:
            self._tickets[mine.id] = ticket

    def settle(self, address: str, mine: LiveStore) -> Settled:
        """Resolve the twins of ``mine`` (this run's pending store, noted by ``created``)."""
        deadline = self.clock() + self.wait
        deleted = False
        with self._tickets_lock:
            after = self._tickets.pop(mine.id, None)  # the first list: any since the create
        while True:
            twins, after = self._twins(mine, after), None  # later lists: since this call
            settled = sorted((s for s in twins if not is_pending(s.tags)), key=lambda s: s.id)
            others = [s for s in twins if s.id != mine.id]
            if any(s.id == mine.id for s in settled):  # another run's update settled it
                return Settled(self.client.get_store(*mine.slot, mine.id, address=address))
            if settled:
                return self._adopt(address, mine, settled[0], deleted)
            visible = any(s.id == mine.id for s in twins)
            if not deleted and visible:
                if not others:
                    return Settled(self._confirm(address, mine))
                if min(s.id for s in twins) != mine.id:
                    self._delete(address, mine)
                    deleted = True
                    continue
            elif deleted and not others:
                raise PlanError(
                    f"{address}: this run removed its store {mine.id} for a twin that was then "
                    "removed too; re-run apply"
                )
            if self.clock() >= deadline:
                raise self._timed_out(address, mine, others, visible or deleted)
            self.sleep(self.interval)

    def _timed_out(
        self, address: str, mine: LiveStore, others: list[LiveStore], seen: bool
    ) -> PlanError:
        if not seen:  # the list never showed the store this run created
            return PlanError(
                f"{address}: the store {mine.id} this run created is not in the list after "
                f"{self.wait:g}s; run plan"
            )
        ids = ", ".join(sorted(s.id for s in others))
        return PlanError(
            f"{address}: twin store(s) {ids} created by another run are still pending after "
            f"{self.wait:g}s (that run may have died); delete the extra stores and re-run apply"
        )

    def _twins(self, mine: LiveStore, after: int | None) -> list[LiveStore]:
        """The twins of ``mine`` in a list that started after ticket ``after`` (None: now)."""
        listed = self._lister.fresh(self._lister.ticket() if after is None else after)
        return [
            s
            for s in listed
            if s.slot == mine.slot and s.name == mine.name and self.owner_tag in s.tags
        ]

    def _adopt(self, address: str, mine: LiveStore, winner: LiveStore, deleted: bool) -> Settled:
        if not deleted:
            self._delete(address, mine)
        project, environment, key = winner.slot
        full = self.client.get_store(project, environment, key, winner.id, address=address)
        note = (
            f"created, then removed its twin {mine.id}: {winner.id} won "
            "(created at the same time by another run)"
        )
        return Settled(full, note, removed=mine.id, winner=winner.id)

    def _delete(self, address: str, mine: LiveStore) -> None:
        if self.pending_tag not in mine.tags:  # never remove a store this run did not create
            raise PlanError(f"{address}: refusing to delete {mine.id}: this run did not create it")
        self.client.delete_store(*mine.slot, mine.id, address=address)

    def _confirm(self, address: str, mine: LiveStore) -> LiveStore:
        tags = [t for t in mine.tags if t != self.pending_tag]
        patch: list[Mapping[str, object]] = [
            {"op": "test", "path": "/version", "value": mine.version},
            {"op": "replace", "path": "/tags", "value": tags},
        ]
        try:
            return self.client.patch_store(*mine.slot, mine.id, patch, address=address)
        except ConflictError:
            live = self.client.get_store(*mine.slot, mine.id, address=address)
            if self.pending_tag not in live.tags:  # someone else settled it for us
                return live
            raise
