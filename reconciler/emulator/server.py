"""Serving the emulator: ``EmulatorServer`` for tests (a thread) and ``run`` for the CLI.

``EmulatorServer`` binds ``127.0.0.1`` on a free port by default, serves a threaded keep-alive
server from a daemon thread between ``start()`` and ``stop()`` (or a ``with`` block), and exposes
the objects tests drive directly: ``.state`` (``EmulatorState``), ``.faults``
(``FaultInjector``), ``.limiter`` (``RateLimiter``), ``.dataplane`` (``DataPlane`` or ``None``)
and ``.url``. ``run`` serves in the
foreground until interrupted, logging each request to stderr.
"""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path
from types import TracebackType

from reconciler.emulator.app import EmulatorApp
from reconciler.emulator.contract import default_validator
from reconciler.emulator.dataplane import DEFAULT_STALE_AFTER, DEFAULT_SYNC_INTERVAL, DataPlane
from reconciler.emulator.faults import FaultConfig, FaultInjector, Sleep
from reconciler.emulator.limits import Clock, RateLimitConfig, RateLimiter
from reconciler.emulator.manifests import MaskStyle
from reconciler.emulator.persist import StateFile, initial_state
from reconciler.emulator.serving import ThreadedServer
from reconciler.emulator.state import EmulatorState

POLL_SECONDS = 0.02
"""How often the serving thread checks for ``stop()``; bounds how long stopping takes."""


class EmulatorServer:
    """A LaunchDarkly emulator served over real HTTP from a background thread."""

    def __init__(
        self,
        state: EmulatorState | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        rate_limit: RateLimitConfig | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        validate_contract: bool = True,
        quiet: bool = True,
        dataplane: bool = False,
        sync_interval: float | None = DEFAULT_SYNC_INTERVAL,
        stale_after: float = DEFAULT_STALE_AFTER,
        dataplane_any_host: bool = False,
        state_file: Path | None = None,
        dynamodb_endpoint: str | None = None,
    ) -> None:
        """``dataplane=True`` synchronises ``on`` Redis stores into the Redis they name (see
        ``reconciler.emulator.dataplane``): in a background thread every ``sync_interval``
        seconds while the server runs, or only through ``server.dataplane.sync_now()`` when
        ``sync_interval`` is ``None`` (tests). It connects only to loopback hosts unless
        ``dataplane_any_host``. With ``dynamodb_endpoint`` (a DynamoDB-compatible server, e.g.
        moto's) it also writes the marker of ``on`` DynamoDB stores. ``state_file`` keeps the
        account in that file (``persist.StateFile``), rewritten after each request that may
        change it and on ``stop()``."""
        self.state = state if state is not None else EmulatorState(clock=clock)
        self.dataplane: DataPlane | None = (
            DataPlane(
                self.state,
                sync_interval=sync_interval,
                stale_after=stale_after,
                any_host=dataplane_any_host,
                dynamodb_endpoint=dynamodb_endpoint,
            )
            if dataplane
            else None
        )
        self.faults = FaultInjector(faults, sleep=sleep)
        self.limiter = RateLimiter(rate_limit, clock=clock or self.state.clock)
        self.app = EmulatorApp(
            self.state,
            faults=self.faults,
            limiter=self.limiter,
            contract=default_validator() if validate_contract else None,
        )
        self.state_file = StateFile(state_file, self.state) if state_file is not None else None
        app = self.state_file.wrap(self.app) if self.state_file is not None else self.app
        self._server = ThreadedServer(host, port, app, quiet=quiet)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (use it as the API host)."""
        host = self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": POLL_SECONDS},
                name="ld-emulator",
                daemon=True,
            )
            self._thread.start()
        if self.dataplane is not None:
            self.dataplane.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (idempotent)."""
        if self.dataplane is not None:
            self.dataplane.stop()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        self._server.close_connections()
        if self.state_file is not None:
            self.state_file.save()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# Over 60 lines only through its keyword signature and the docstring documenting each option;
# the body delegates to _limits, _announce and _serve_until_interrupted.
def run(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed_path: str | Path | None = None,
    latency_ms: int = 0,
    error_rate: float = 0.0,
    drop_rate: float = 0.0,
    fault_seed: int = 0,
    rate_limit_route: int | None = None,
    rate_limit_global: int | None = None,
    rate_limit_window: float = 10.0,
    retry_after: int | None = None,
    validate_contract: bool = True,
    dataplane: bool = False,
    sync_interval: float = DEFAULT_SYNC_INTERVAL,
    stale_after: float = DEFAULT_STALE_AFTER,
    dataplane_any_host: bool = False,
    state_file: str | Path | None = None,
    dynamodb_endpoint: str | None = None,
    mask_style: MaskStyle | None = None,
    list_config: bool | None = None,
) -> None:
    """Serve an emulator in the foreground until Ctrl-C, logging requests to stderr.

    - ``host``/``port``: where to listen (``--host``, ``--port``; port 0 picks a free one).
    - ``seed_path``: a YAML/JSON seed file (``--seed``); raises ``SeedError`` if invalid.
      Without one the account is empty and accepts any token starting with ``api-``.
    - ``state_file``: keep the account in this file (``--state-file``): start from it when it
      exists (the seed is then ignored), rewrite it after every change. Nothing is written to
      disk without it.
    - ``latency_ms``: delay added to every API request (``--latency-ms``).
    - ``error_rate``/``drop_rate``: probability (0..1) of a 500/502/503 answer or of a dropped
      connection per API request (``--error-rate``, ``--drop-rate``), drawn from a generator
      seeded with ``fault_seed``.
    - ``rate_limit_route``/``rate_limit_global``: requests allowed per route and account-wide
      per ``rate_limit_window`` seconds (``--rate-limit ROUTE[,GLOBAL]``); limiting is on when
      either is given. ``retry_after`` adds ``Retry-After`` seconds to 429 answers.
    - ``validate_contract``: check traffic against the OpenAPI contract; violations are logged.
    - ``dataplane``: really synchronise ``on`` Redis stores (write LaunchDarkly's marker under
      each environment's client-side ID, logged at startup) every ``sync_interval`` seconds;
      ``_status`` then reports what happened, stale after ``stale_after`` seconds.
    - ``dynamodb_endpoint``: also write the marker item of ``on`` DynamoDB stores through this
      DynamoDB-compatible endpoint (e.g. moto's server).
    - ``mask_style`` (``--mask-style``), ``list_config`` (``--list-config``): override the
      seed's ``maskStyle`` and ``listConfig`` (``None`` keeps them).
    """
    state_path = Path(state_file) if state_file is not None else None
    resumed = state_path is not None and state_path.exists()
    state = initial_state(state_path, seed_path)
    if mask_style is not None:
        state.mask_style = mask_style
    if list_config is not None:
        state.list_config = list_config
    server = EmulatorServer(
        state,
        host=host,
        port=port,
        faults=FaultConfig(
            latency_ms=latency_ms, error_rate=error_rate, drop_rate=drop_rate, seed=fault_seed
        ),
        rate_limit=_limits(rate_limit_route, rate_limit_global, rate_limit_window, retry_after),
        validate_contract=validate_contract,
        quiet=False,
        dataplane=dataplane,
        sync_interval=sync_interval,
        stale_after=stale_after,
        dataplane_any_host=dataplane_any_host,
        state_file=state_path,
        dynamodb_endpoint=dynamodb_endpoint,
    )
    _announce(server, state_path, resumed=resumed, seeded=seed_path is not None)
    _serve_until_interrupted(server)


def _limits(
    route: int | None, total: int | None, window: float, retry_after: int | None
) -> RateLimitConfig:
    """The rate-limit settings of ``run``: on when either limit is given."""
    if route is None and total is None:
        return RateLimitConfig()
    return RateLimitConfig(
        enabled=True,
        window_seconds=window,
        route_limit=route if route is not None else 10**9,
        global_limit=total if total is not None else 10**9,
        retry_after=retry_after,
    )


def _announce(
    server: EmulatorServer, state_path: Path | None, *, resumed: bool, seeded: bool
) -> None:
    """Tell stderr where the emulator listens, its state file, quirks and data plane."""
    print(f"LaunchDarkly emulator listening on {server.url}", file=sys.stderr, flush=True)
    state = server.state
    print(
        f"masks: {state.mask_style}; list items "
        + ("carry config" if state.list_config else "without config"),
        file=sys.stderr,
    )
    if server.state_file is not None:
        print(
            f"state file {state_path}: {'resumed from it' if resumed else 'created'}"
            + (" (--seed ignored)" if resumed and seeded else ""),
            file=sys.stderr,
        )
        server.state_file.save()
    if server.dataplane is not None:
        logging.getLogger("reconciler.emulator.dataplane").addHandler(
            logging.StreamHandler(sys.stderr)
        )
        interval = server.dataplane.sync_interval
        every = f"every {interval:g} s" if interval is not None else "on demand"
        kinds = "Redis and DynamoDB" if server.dataplane.dynamodb_endpoint else "Redis"
        print(f"data plane on: syncing {kinds} stores {every}", file=sys.stderr)
        for (project, env), client_side_id in sorted(state.client_side_ids().items()):
            print(f"  {project}/{env}: client-side ID {client_side_id}", file=sys.stderr)


def _serve_until_interrupted(server: EmulatorServer) -> None:
    """Serve until Ctrl-C, printing contract violations to stderr as they are found."""
    seen = 0
    idle = threading.Event()
    server.start()
    try:
        while not idle.wait(0.5):
            violations = server.state.contract_violations
            for violation in violations[seen:]:
                print(f"contract violation: {violation}", file=sys.stderr, flush=True)
            seen = len(violations)
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        server.stop()
