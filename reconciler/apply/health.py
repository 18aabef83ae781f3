"""Store health after an apply: waiting until changed stores report healthy.

``_status`` is the only signal LaunchDarkly gives that big segments really reach a store:
``available`` (synced recently), ``potentiallyStale``, ``lastSync`` and the last ``errors``.
This module polls changed stores after ``apply --wait-healthy`` until they are available or
the time runs out; ``render.status`` says what healthy means and describes a status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.errors import ReconcilerError
from reconciler.model import LiveStore
from reconciler.render.status import describe, is_healthy

if TYPE_CHECKING:
    from reconciler.api.client import Client


class UnhealthyError(ReconcilerError):
    """Stores did not become available in time; names each with LaunchDarkly's errors."""


@dataclass(frozen=True, slots=True)
class Waited:
    address: str
    store: LiveStore


def wait_healthy(
    client: Client,
    stores: Sequence[Waited],
    *,
    timeout: float,
    interval: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_poll: Callable[[int, int], None] | None = None,
) -> None:
    """Poll each store's ``_status`` until all are healthy; raise ``UnhealthyError`` naming
    the stores that were not, with LaunchDarkly's errors, when ``timeout`` seconds pass."""
    deadline = clock() + timeout
    pending = {w.store.id: w for w in stores}
    latest: dict[str, LiveStore] = {}
    while True:
        for store_id, waited in list(pending.items()):
            s = waited.store
            current = client.get_store(
                s.project, s.environment, s.integration_key, s.id, address=waited.address
            )
            latest[store_id] = current
            if is_healthy(current.status):
                del pending[store_id]
        if on_poll is not None:
            on_poll(len(stores) - len(pending), len(stores))
        if not pending or clock() >= deadline:
            break
        sleep(min(interval, max(0.0, deadline - clock())))
    if pending:
        now_ms = int(time.time() * 1000)
        lines = [
            f"  {w.address}: {describe(latest[i].status, now_ms=now_ms)}"
            for i, w in sorted(pending.items(), key=lambda item: item[1].address)
        ]
        raise UnhealthyError(
            f"{len(pending)} store(s) not healthy after {timeout:g}s:\n" + "\n".join(lines)
        )
