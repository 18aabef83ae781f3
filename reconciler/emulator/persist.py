"""Keeping an emulator's account in a file between runs (``reconciler emulator --state-file``).

By default the emulator keeps everything in memory and writes nothing to disk. Given a state
file, it starts from that file when it exists (else from the seed, or empty) and rewrites it
after every request that can change the account (any method but GET, HEAD and OPTIONS, API and
side door alike) and when it stops, so a demo account survives restarts. The file is the
side door's ``GET /__emulator/state`` snapshot, a seed document that ``--seed`` also reads. It
holds the stores unmasked, secrets included, so it is written atomically (a temporary file in
the same directory, then a rename) and readable by its owner only (mode 0600).
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from reconciler.emulator.seed import load_seed_file
from reconciler.emulator.state import EmulatorState

READ_ONLY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]


def initial_state(state_file: Path | None, seed_path: str | Path | None) -> EmulatorState:
    """The account to start with: the state file if it exists, else the seed, else empty.
    ``SeedError`` names the file when either cannot be read."""
    if state_file is not None and state_file.exists():
        return load_seed_file(state_file)
    if seed_path is not None:
        return load_seed_file(seed_path)
    return EmulatorState()


class StateFile:
    """Writes one state's snapshot to ``path``; thread-safe, atomic, owner-only."""

    def __init__(self, path: Path, state: EmulatorState) -> None:
        self.path = path
        self.state = state
        self._lock = threading.Lock()

    def save(self) -> None:
        # Snapshot under the writer's lock: two requests saving at once must not let the older
        # snapshot land last.
        with self._lock:
            text = json.dumps(self.state.snapshot(), indent=2, sort_keys=True) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(text)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """``app``, saving the state after each request that may have changed it."""

        def saving_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
            try:
                return app(environ, start_response)
            finally:
                if environ.get("REQUEST_METHOD", "GET").upper() not in READ_ONLY_METHODS:
                    self.save()

        return saving_app
