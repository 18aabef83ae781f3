"""Shared pytest fixtures: a real LaunchDarkly emulator on 127.0.0.1 and a checked client.

Fixtures (names and meanings are relied on by every test module):

- ``TOKEN`` (module constant, ``"api-test-token"``) and the ``token`` fixture returning it: the
  only access token the ``emulator`` fixture accepts.
- ``clock``: a ``FakeClock`` (epoch seconds, starts at 1_700_000_000); the emulator reads time
  from it (rate-limit windows, ``_status.lastSync``). Move time with ``clock.advance(s)``.
- ``emulator``: function-scoped, a started ``EmulatorServer`` on ``127.0.0.1:0`` whose account
  has projects ``payments`` (environments ``production``, ``staging``) and ``search``
  (``production``), no stores, and ids drawn from a generator seeded with 0. Use
  ``emulator.url`` as the API host and ``emulator.state`` / ``.faults`` / ``.limiter`` to
  seed, inspect and break it. At teardown it asserts ``emulator.state.contract_violations == []``
  (every request and answer the emulator saw was checked against the OpenAPI contract), then
  stops the server.
- ``api``: an ``httpx.Client`` for the emulator with ``Authorization: TOKEN`` and
  ``LD-API-Version: beta``; every answer it receives is checked on the client side against the
  OpenAPI file too (``check_exchange``), failing the request with ``AssertionError`` if not.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from reconciler.emulator import (
    ContractValidator,
    EmulatorServer,
    EmulatorState,
    FakeClock,
    load_spec,
)

TOKEN = "api-test-token"
SHARED_SPEC = (
    Path(__file__).resolve().parents[2] / "shared/launchdarkly/big-segment-store.openapi.json"
)
FAULT_HEADER = "X-Emulator-Fault"


def _contract_spec() -> dict[str, Any]:
    """The official contract file when it is around, else the copy the package ships."""
    if SHARED_SPEC.exists():
        spec: dict[str, Any] = json.loads(SHARED_SPEC.read_text(encoding="utf-8"))
        return spec
    return load_spec()


_CHECKER: ContractValidator | None = None


def contract_checker() -> ContractValidator:
    global _CHECKER
    if _CHECKER is None:
        _CHECKER = ContractValidator(_contract_spec())
    return _CHECKER


def check_exchange(response: httpx.Response) -> list[str]:
    """Problems of one exchange as seen on the wire, against the OpenAPI contract. Injected
    faults (marked by the emulator's ``X-Emulator-Fault`` header) may use undeclared statuses."""
    request = response.request
    url = request.url
    environ = EnvironBuilder(
        method=request.method,
        path=url.path,
        query_string=url.query.decode("ascii"),
        headers=list(request.headers.multi_items()),
        data=request.content,
        base_url=f"{url.scheme}://{url.host}:{url.port}",
    ).get_environ()
    wz_response = Response(
        response.content,
        status=response.status_code,
        headers=[(k, v) for k, v in response.headers.multi_items() if k.lower() != "date"],
    )
    return contract_checker().response_errors(
        Request(environ), wz_response, undeclared_ok=FAULT_HEADER in response.headers
    )


def _check_hook(response: httpx.Response) -> None:
    response.read()
    problems = check_exchange(response)
    assert not problems, f"{response.request.method} {response.request.url}: {problems}"


@pytest.fixture
def token() -> str:
    return TOKEN


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def small_account(clock: FakeClock) -> EmulatorState:
    return EmulatorState(
        tokens=[TOKEN],
        projects={"payments": ["production", "staging"], "search": ["production"]},
        clock=clock,
        rng=random.Random(0),
    )


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorServer]:
    server = EmulatorServer(small_account(clock), clock=clock).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.url,
        headers={"Authorization": TOKEN, "LD-API-Version": "beta"},
        event_hooks={"response": [_check_hook]},
        timeout=10,
    ) as client:
        yield client
