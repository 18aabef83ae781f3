"""Helpers for tests that race real ``reconciler`` processes against one emulator.

Each process is the real CLI (``python -m``-style, ``reconciler.cli.main.main``) started with
everything imported and then held at a gate file, so several of them send their first request
within milliseconds of each other however slow the machine is to start Python.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cli_helpers import env_for
from conftest import TOKEN

from reconciler.emulator import EmulatorServer, EmulatorState, FaultConfig

LAUNCHER = """\
import os, sys, time
import reconciler.cli.commands.apply, reconciler.cli.commands.plan
from reconciler.cli.main import main
gate = sys.argv[1]
deadline = time.monotonic() + 60
while not os.path.exists(gate) and time.monotonic() < deadline:
    time.sleep(0.002)
sys.exit(main(sys.argv[2:]))
"""


def stores_manifest(count: int, project: str = "payments") -> str:
    """``count`` stores: one alone in ``staging`` (an unnamed address), the rest named ones
    side by side in ``production``."""
    lines = [f"project: {project}", "stores:"]
    lines += [
        "  - environment: staging",
        "    integrationKey: redis",
        "    name: Staging cache",
        "    config: {host: staging.internal}",
    ]
    for i in range(count - 1):
        lines += [
            "  - environment: production",
            "    integrationKey: redis",
            f"    name: Store {i:02d}",
            f"    config: {{host: redis-{i}.internal}}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def slow_emulator(latency_ms: int, seed: int = 3) -> Iterator[EmulatorServer]:
    """An emulator on the real clock adding ``latency_ms`` to every API request, so the
    requests of racing runs overlap."""
    state = EmulatorState(
        tokens=[TOKEN], projects={"payments": ["production", "staging"]}, rng=random.Random(seed)
    )
    server = EmulatorServer(state, faults=FaultConfig(latency_ms=latency_ms)).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def start_gated(
    server: EmulatorServer, gate: Path, argv: Sequence[str], journal: Path
) -> subprocess.Popen[str]:
    env = {**os.environ, **env_for(server, RECONCILER_JOURNAL=str(journal))}
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCHER, str(gate), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition()`` until it is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
