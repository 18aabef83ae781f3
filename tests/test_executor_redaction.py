"""An error answer that echoes the request never shows a value that came from ``${...}``."""

from __future__ import annotations

import json

import httpx
import pytest

from reconciler.api.client import Client, ConnectionSettings, RetryPolicy
from reconciler.apply.executor import execute
from reconciler.errors import ApplyError
from reconciler.model import (
    DesiredState,
    DesiredStore,
    LiveStore,
    Location,
    ProjectSettings,
    Secret,
    StoreStatus,
)
from reconciler.plan.planner import build_plan

HOST = "redis-from-env.internal"
USER = "user-from-env-Zq"


def echo_400(request: httpx.Request) -> httpx.Response:
    """A lying server that rejects every write, echoing the request body in its message."""
    return httpx.Response(
        400, json={"code": "invalid_request", "message": f"bad body: {request.content.decode()}"}
    )


def desired() -> DesiredState:
    store = DesiredStore(
        project="payments", environment="production", integration_key="redis",
        name="Payments production", on=True, tags=(),
        config={"host": Secret(HOST, "env:REDIS_HOST"), "username": Secret(USER, "env:U")},
        location=Location("m.yaml", 1, 1),
    )  # fmt: skip
    return DesiredState(stores=(store,), projects={"payments": ProjectSettings("payments")})


def live() -> LiveStore:
    return LiveStore(
        "65f0c0ffee00000000000001", "payments", "production", "redis", "Payments production",
        False, ("managed-by:reconciler",), 3, {"host": "old.internal", "username": "old"},
        StoreStatus(),
    )  # fmt: skip


@pytest.mark.parametrize("existing", [[], [live()]], ids=["create", "update"])
def test_an_echoed_request_body_is_redacted_in_the_error(existing: list[LiveStore]) -> None:
    plan = build_plan(desired(), existing)
    client = Client(
        ConnectionSettings(api_host="https://ld.example", token="api-test-token-0000"),
        transport=httpx.MockTransport(echo_400),
        retry=RetryPolicy(max_attempts=1),
    )
    with client, pytest.raises(ApplyError) as caught:
        execute(plan, client, live=existing)
    message = str(caught.value)
    assert "bad body" in message and "HTTP 400" in message
    assert HOST not in message and USER not in message
    assert json.dumps(HOST)[1:-1] not in message
