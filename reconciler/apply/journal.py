"""The apply journal: one JSON line per step, written and flushed as apply goes.

Each run appends a ``start`` line (run id, API host, counts), then for every change a
``request`` line before the call and a ``done`` or ``failed`` line right after it: the new
``_id`` of a created store is on disk before the next request is sent. The journal holds
addresses, ids, versions, HTTP methods and paths, and error messages (already free of secrets),
never a request body. After a crash it says exactly what happened; re-running ``apply``
converges from the live state, and the journal tells a human what the crashed run did.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO

from reconciler.api.routes import API_PREFIX
from reconciler.errors import ConfigError
from reconciler.plan.changes import Change

METHODS = {"create": "POST", "update": "PATCH", "delete": "DELETE"}


def request_line(change: Change) -> tuple[str, str]:
    """The HTTP method and path a change is executed with."""
    parts = [*change.address.slot] + ([change.id] if change.id else [])
    return METHODS[change.action], f"{API_PREFIX}/" + "/".join(parts)


class Journal:
    """An append-only JSON-lines file, safe to write from several threads;
    ``Journal(None)`` records nothing."""

    def __init__(self, path: str | Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path else None
        self.run = uuid.uuid4().hex[:12]
        self._clock = clock
        self._file: IO[str] | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("a", encoding="utf-8")
            except OSError as error:
                raise ConfigError(
                    f"cannot write the journal {self.path}: {error.strerror}"
                ) from None

    def write(self, event: str, **fields: object) -> None:
        if self._file is None:
            return
        line = {"ts": round(self._clock(), 3), "run": self.run, "event": event, **fields}
        with self._lock:
            if self._file is None:
                return
            self._file.write(json.dumps(line, sort_keys=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())

    def change(self, event: str, change: Change, **fields: object) -> None:
        method, path = request_line(change)
        self.write(
            event,
            address=str(change.address),
            action=change.action,
            id=change.id,
            version=change.version,
            method=method,
            path=path,
            **fields,
        )

    def close(self) -> None:
        with self._lock:  # a worker abandoned after an interruption may still be writing
            if self._file is not None:
                self._file.close()
                self._file = None
