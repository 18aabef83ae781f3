"""Reading live state: one account-wide list, then one GET per store in scope that needs it.

The spec says the list omits ``config``, while LaunchDarkly's own REST client expects it in list
items (API-NOTES §8). A list item without ``config`` is read by id, concurrently over the
client's pooled connections, with a progress line on stderr for large scopes; one that carries
it needs no GET. Stores of other projects are never fetched one by one. Results keep the
list's order, so the plan does not depend on timing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Sequence
from typing import TextIO

from reconciler.api.client import Client
from reconciler.errors import ApiError
from reconciler.model import LiveStore
from reconciler.progress import Progress

log = logging.getLogger("reconciler.refresh")


def read_live(
    client: Client,
    projects: Collection[str] | None,
    *,
    parallelism: int = 8,
    progress: TextIO | None = None,
) -> list[LiveStore]:
    """Every live store of the given projects (``None``: of every project), with its
    (masked) config and status."""
    listed = [s for s in client.list_stores() if projects is None or s.project in projects]
    log.info("read %d live store(s) in scope", len(listed))

    bar = Progress("refresh", len(listed), progress)

    def detail(store: LiveStore) -> LiveStore | None:
        if store.config is not None:  # the list carried it
            bar.advance()
            return store
        address = f"{store.project}/{store.environment}/{store.integration_key}/{store.name}"
        try:
            return client.get_store(
                store.project, store.environment, store.integration_key, store.id, address=address
            )
        except ApiError as error:
            if error.status == 404:  # deleted between the list and the read
                return None
            raise
        finally:
            bar.advance()

    details = _each(detail, listed, parallelism)
    return [d for d in details if d is not None]


def _each(
    work: Callable[[LiveStore], LiveStore | None], items: Sequence[LiveStore], parallelism: int
) -> list[LiveStore | None]:
    """``work`` on every item, in order of the items, on up to ``parallelism`` threads that
    each take the next item as they finish one: no future per item, so the threads' own cost
    stays small beside the requests'. The first error is raised once every thread has stopped."""
    results: list[LiveStore | None] = [None] * len(items)
    errors: list[BaseException] = []
    indexes = iter(range(len(items)))
    lock = threading.Lock()

    def worker() -> None:
        while not errors:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            try:
                results[index] = work(items[index])
            except BaseException as error:  # re-raised by the caller below
                errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(min(max(1, parallelism), len(items)))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException as interrupted:  # Ctrl-C: the threads stop after their request
        errors.append(interrupted)
        raise
    if errors:
        raise errors[0]
    return results
