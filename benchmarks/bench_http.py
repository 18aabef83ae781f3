"""The HTTP scenarios of ``benchmarks.bench``: the real CLI against an emulator subprocess.

The emulator runs in its own process (``reconciler.emulator.server.run``), so it does not share
the GIL with the client being measured; its stderr goes to a file, and it is always stopped.
Between runs the account is re-seeded through the side door (``POST /__emulator/state``) and
the request log cleared; the log (``GET /__emulator/requests``) is what request counts, 429s
and achieved rates are computed from.

- ``latency_scenario``: every request delayed, no rate limit; ``apply`` from an empty account,
  then ``plan``, sequentially (``--parallelism 1``) and at higher parallelisms.
- ``rate_scenario``: a per-route limit; ``apply`` through the CLI (proactive pacing from the
  rate-limit headers) and, for comparison, a reactive client (``pacing=False``, one request at
  a time, sleeping until the reset after each 429).
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.bench_data import PASSWORD, PASSWORD_VAR, manifest_files, seed_document
from reconciler.api.client import Client, settings_from_env
from reconciler.api.refresh import read_live
from reconciler.apply.executor import execute
from reconciler.cli.main import main as cli_main
from reconciler.manifest.load import load_manifests
from reconciler.plan.planner import build_plan

TOKEN = "api-bench"
START_TIMEOUT = 60.0
POST_ROUTE = "POST"

_RUN_EMULATOR = (
    "import json, sys; from reconciler.emulator.server import run; run(**json.loads(sys.argv[1]))"
)


class Emulator:
    """An emulator subprocess on a free port, driven through its side door."""

    def __init__(self, workdir: Path, seed: Mapping[str, object], **options: object) -> None:
        self.seed = dict(seed)
        seed_path = workdir / "seed.json"
        seed_path.write_text(json.dumps(self.seed), encoding="utf-8")
        self.log_path = workdir / f"emulator-{os.getpid()}-{time.monotonic_ns()}.log"
        self.port = _free_port()
        kwargs = {"host": "127.0.0.1", "port": self.port, "seed_path": str(seed_path), **options}
        self._log = self.log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _RUN_EMULATOR, json.dumps(kwargs)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text(encoding="utf-8")[-2000:]
                raise RuntimeError(f"the emulator exited ({self.proc.returncode}):\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"the emulator did not listen on port {self.port}")

    def side_door(self, method: str, path: str, body: object = None) -> Any:
        """One call to the emulator's side door (stdlib HTTP: this is not LaunchDarkly's API,
        which only ``reconciler.api.client`` talks to)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/__emulator{path}", data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            text = response.read()
        return json.loads(text) if text else None

    def reseed(self) -> None:
        self.side_door("POST", "/state", self.seed)
        self.clear_requests()

    def clear_requests(self) -> None:
        self.side_door("DELETE", "/requests")

    def requests(self) -> list[dict[str, Any]]:
        log: list[dict[str, Any]] = self.side_door("GET", "/requests")
        return log

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def emulator(workdir: Path, seed: Mapping[str, object], **options: object) -> Iterator[Emulator]:
    """A started emulator subprocess; stopped (killed if need be) on the way out."""
    server = Emulator(workdir, seed, **options)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def _layout(stores: int) -> tuple[int, int]:
    """Projects and environments per project for ``stores`` stores (20 environments each)."""
    environments = min(stores, 20)
    if stores % environments:
        raise ValueError(f"{stores} stores do not fill projects of {environments} environments")
    return stores // environments, environments


def _workspace(workdir: Path, stores: int) -> tuple[dict[str, object], Path, dict[str, str]]:
    projects, environments = _layout(stores)
    manifests = workdir / "manifests"
    manifests.mkdir(exist_ok=True)
    for name, text in manifest_files(projects, environments).items():
        (manifests / name).write_text(text, encoding="utf-8")
    env = {
        "LAUNCHDARKLY_ACCESS_TOKEN": TOKEN,
        PASSWORD_VAR: PASSWORD,
        "RECONCILER_JOURNAL": str(workdir / "journal.jsonl"),
        "NO_COLOR": "1",
    }
    return seed_document(projects, environments, TOKEN), manifests, env


def run_cli(argv: Sequence[str], env: Mapping[str, str]) -> dict[str, Any]:
    """Run the real CLI in-process; exit code, seconds, and the last line of its stdout."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = cli_main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err, env=env)
    seconds = time.perf_counter() - started
    lines = out.getvalue().strip().splitlines()
    if code != 0:
        raise RuntimeError(f"reconciler {' '.join(argv)} exited {code}:\n{err.getvalue()[-2000:]}")
    return {"seconds": seconds, "exit_code": code, "last_line": lines[-1] if lines else ""}


def _count(log: Sequence[Mapping[str, Any]], method: str | None = None) -> int:
    return sum(1 for r in log if method is None or r["method"] == method)


def latency_scenario(
    workdir: Path, *, stores: int, latency_ms: int, parallelisms: Sequence[int]
) -> dict[str, Any]:
    """``apply`` from empty, then ``plan``, at each parallelism (1 first), re-seeding between."""
    seed, manifests, env = _workspace(workdir, stores)
    runs: dict[str, Any] = {}
    with emulator(workdir, seed, latency_ms=latency_ms, validate_contract=False) as server:
        env = {**env, "LAUNCHDARKLY_API_HOST": server.url}
        for parallelism in parallelisms:
            server.reseed()
            common = ["--parallelism", str(parallelism), "--no-color"]
            applied = run_cli(["apply", str(manifests), "--auto-approve", *common], env)
            applied["requests"] = _count(server.requests())
            server.clear_requests()
            planned = run_cli(["plan", str(manifests), *common], env)
            planned["requests"] = _count(server.requests())
            runs[str(parallelism)] = {"apply": applied, "plan": planned}
            print(
                f"  latency: parallelism {parallelism}: apply {applied['seconds']:.2f} s,"
                f" plan {planned['seconds']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return {"stores": stores, "latency_ms": latency_ms, "contract_validation": False, "runs": runs}


def _rate_stats(log: Sequence[Mapping[str, Any]], limit: int, window: float) -> dict[str, Any]:
    """What the limiter saw. The share of the limit is measured over the complete windows
    between the first and the last create (a fixed-window limiter lets a run that starts late
    in a window spend that window's whole budget, so the partial first and last windows would
    flatter the rate); with fewer than three windows, over the span of the creates."""
    posts = [r for r in log if r["method"] == POST_ROUTE]
    created = sorted(r["timeMs"] / 1000.0 for r in posts if r["status"] == 201)
    limited = sum(1 for r in log if r["status"] == 429)
    span = created[-1] - created[0] if len(created) > 1 else 0.0
    per_window: dict[int, int] = {}
    for t in created:
        per_window[int(t // window)] = per_window.get(int(t // window), 0) + 1
    middle = range(min(per_window) + 1, max(per_window)) if per_window else range(0)
    if len(middle) > 0:
        rate = sum(per_window.get(w, 0) for w in middle) / (len(middle) * window)
    else:
        rate = (len(created) - 1) / span if span > 0 else 0.0
    return {
        "requests": len(log),
        "posts": len(posts),
        "created": len(created),
        "rate_limited_429": limited,
        "share_429": limited / len(log) if log else 0.0,
        "post_span_seconds": span,
        "complete_windows": len(middle),
        "creates_per_window": [per_window[w] for w in sorted(per_window)],
        "achieved_post_rps": rate,
        "share_of_limit": rate / (limit / window),
    }


def _reactive_apply(manifests: Path, env: Mapping[str, str]) -> float:
    """Plan and apply with a client that only reacts to 429s, one request at a time."""
    started = time.perf_counter()
    loaded = load_manifests([manifests], env=env)
    with Client(settings_from_env(env), pacing=False) as client:
        live = read_live(client, loaded.state.projects, parallelism=1)
        plan = build_plan(loaded.state, live)
        execute(plan, client, parallelism=1)
    return time.perf_counter() - started


def rate_scenario(
    workdir: Path, *, stores: int, route_limit: int, window: float, parallelism: int
) -> dict[str, Any]:
    """``apply`` of ``stores`` stores under a route limit: paced CLI, then reactive client."""
    seed, manifests, env = _workspace(workdir, stores)
    options = {
        "rate_limit_route": route_limit,
        "rate_limit_global": 1_000_000,
        "rate_limit_window": window,
        "validate_contract": False,
    }
    with emulator(workdir, seed, **options) as server:
        env = {**env, "LAUNCHDARKLY_API_HOST": server.url}
        server.reseed()
        argv = ["apply", str(manifests), "--auto-approve", "--parallelism", str(parallelism)]
        paced = run_cli(argv, env)
        paced |= _rate_stats(server.requests(), route_limit, window)
        print(f"  rate: paced apply {paced['seconds']:.2f} s", file=sys.stderr, flush=True)
        server.reseed()
        reactive: dict[str, Any] = {"seconds": _reactive_apply(manifests, env)}
        reactive |= _rate_stats(server.requests(), route_limit, window)
        print(f"  rate: reactive apply {reactive['seconds']:.2f} s", file=sys.stderr, flush=True)
    return {
        "stores": stores,
        "route_limit": route_limit,
        "window_seconds": window,
        "parallelism": parallelism,
        "contract_validation": False,
        "paced": paced,
        "reactive": reactive,
    }


def contract_cost(requests: int = 60) -> dict[str, Any]:
    """Emulator time per request with and without OpenAPI contract validation (in-process, no
    latency): whether validation would make the emulator the bottleneck."""
    from reconciler.api.client import Client, ConnectionSettings
    from reconciler.emulator import EmulatorServer, EmulatorState

    out: dict[str, Any] = {}
    for validate in (False, True):
        state = EmulatorState(tokens=[TOKEN], projects={"p": [f"e{i}" for i in range(requests)]})
        with EmulatorServer(state, validate_contract=validate) as server:
            settings = ConnectionSettings(api_host=server.url, token=TOKEN)
            with Client(settings, pacing=False) as client:
                client.list_stores()  # warm up
                body = {"name": "x", "on": True, "tags": [], "config": {"host": "h"}}
                started = time.perf_counter()
                for i in range(requests):
                    client.create_store("p", f"e{i}", "redis", body, address="x", known_ids=())
                posted = time.perf_counter()
                client.list_stores()
                listed = time.perf_counter()
        key = "validated" if validate else "unvalidated"
        out[key] = {
            "post_ms": (posted - started) / requests * 1000,
            "list_ms_per_store": (listed - posted) / requests * 1000,
        }
    return out


def temp_workdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="reconciler-bench-")
