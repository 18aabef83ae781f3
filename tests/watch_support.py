"""Running ``reconciler watch`` as a real subprocess and reading what it exposes.

``Watch`` starts ``python -m reconciler watch ... --listen 127.0.0.1:0``, collects its stderr
lines in a thread, learns the port from the ``listening`` JSON log line, and offers ``get``
(any endpoint), ``metrics`` (the parsed ``/metrics``) and ``until`` (poll a condition until a
deadline; the deadline bounds the wait, nothing asserts on elapsed time).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")
DEADLINE = 30.0

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_metrics(text: str) -> Samples:
    """``{(sample name, labels): value}`` from Prometheus' text format."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, /, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def store(project: str, environment: str, key: str, name: str) -> dict[str, str]:
    return {"project": project, "environment": environment, "integration_key": key, "name": name}


class Watch:
    """A ``reconciler watch`` subprocess (use as a context manager)."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], *, verbose: bool = False) -> None:
        flags = ["-vv"] if verbose else []
        self.argv = [sys.executable, "-m", "reconciler", *flags, "watch", *argv]
        self.env = {**os.environ, **env}
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> Watch:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        listening = self.until(lambda: self._event("listening"), what="the listening log line")
        self.port = int(listening["port"])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self._reader.join(timeout=10)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def events(self) -> list[dict[str, object]]:
        with self._lock:
            lines = list(self.lines)
        return [json.loads(line) for line in lines if line.startswith("{")]

    def _event(self, name: str) -> dict[str, object] | None:
        found = [e for e in self.events() if e.get("event") == name]
        return found[-1] if found else None

    def until(self, probe: Callable[[], T | None], *, what: str, deadline: float = DEADLINE) -> T:
        """Poll ``probe`` until it returns something truthy; fail after ``deadline`` seconds."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"watch exited {self.proc.returncode}:\n{self.stderr}")
            result = probe()
            if result:
                return result
            time.sleep(0.05)  # polling pace only; no assertion depends on it
        raise AssertionError(f"no {what} within {deadline}s; stderr:\n{self.stderr}")

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=5)

    def metrics(self) -> Samples:
        response = self.get("/metrics")
        assert response.status_code == 200
        return parse_metrics(response.text)

    def metric(self, name: str, /, **labels: str) -> float | None:
        return value(self.metrics(), name, **labels)

    def wait_for(
        self, name: str, expected: float, /, *, deadline: float = DEADLINE, **labels: str
    ) -> None:
        self.until(
            lambda: self.metric(name, **labels) == expected,
            what=f"{name}{labels} == {expected}",
            deadline=deadline,
        )

    def runs(self) -> float:
        return self.metric("reconciler_runs_total", result="success") or 0.0
