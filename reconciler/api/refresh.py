"""Reading live state: one account-wide list, then one GET per store in scope that needs it.

The spec says the list omits ``config``, while LaunchDarkly's own REST client expects it in list
items (API-NOTES §8). A list item without ``config`` is read by id, concurrently (``fanout``:
as many threads as help) over the client's connections, with a progress line on stderr for
large scopes; one that carries it needs no GET. Stores of other projects are never fetched one
by one. Results keep the list's order, so the plan does not depend on timing.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import TextIO

from reconciler.api.client import Client
from reconciler.api.fanout import each
from reconciler.errors import ApiError
from reconciler.model import Address, LiveStore
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
        address = str(Address(*store.slot, store.name))
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

    details = each(detail, listed, parallelism)
    return [d for d in details if d is not None]
