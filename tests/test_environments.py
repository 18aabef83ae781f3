"""``api.environments``: LaunchDarkly's environment reads through the real client.

Against the emulator over HTTP (which refuses ``LD-API-Version: beta`` and duplicate versions on
these reads, and checks every exchange against the OpenAPI contract), plus one lying server
built with ``httpx.MockTransport`` for what the emulator never does.
"""

from __future__ import annotations

import dataclasses
import json

import httpx
import pytest
from conftest import TOKEN

from reconciler.api.client import Client, ConnectionSettings, RetryPolicy
from reconciler.api.environments import (
    MAX_PAGES,
    PAGE_SIZE,
    find_client_side_ids,
    list_environments,
)
from reconciler.emulator import EmulatorServer
from reconciler.errors import ApiError
from reconciler.model import Environment

ENV_PATH = "/api/v2/projects/big/environments"


def client_for(emulator: EmulatorServer) -> Client:
    return Client(ConnectionSettings(emulator.url, TOKEN), retry=RetryPolicy(max_attempts=1))


def test_every_page_is_read_with_the_current_api_version(emulator: EmulatorServer) -> None:
    keys = [f"env-{i:02d}" for i in range(2 * PAGE_SIZE + 5)]
    emulator.state.add_project("big", keys)
    emulator.state.set_environment("big", "env-07", critical=True, client_side_id="c0ffee")
    emulator.state.clear_requests()
    with client_for(emulator) as client:
        found = list_environments(client, "big")
    assert [e.key for e in found] == keys
    assert found[7] == Environment("big", "env-07", critical=True, client_side_id="c0ffee")
    assert all(e.client_side_id == emulator.state.client_side_id("big", e.key) for e in found)
    assert sum(e.critical for e in found) == 1
    requests = [r for r in emulator.state.requests if r.path == ENV_PATH]
    assert len(requests) == 3
    for request in requests:
        versions = [
            v for k, vs in request.headers.items() if k.lower() == "ld-api-version" for v in vs
        ]
        assert versions == ["20240415"]


def test_environments_keep_no_sdk_or_mobile_key(emulator: EmulatorServer) -> None:
    with client_for(emulator) as client:
        found = list_environments(client, "payments")
    details = emulator.state.environment("payments", "production")
    assert [f.name for f in dataclasses.fields(Environment)] == [
        "project",
        "key",
        "critical",
        "client_side_id",
    ]
    assert details.api_key not in repr(found) and details.mobile_key not in repr(found)


def test_client_side_ids_are_found_for_the_environments_asked_for(
    emulator: EmulatorServer,
) -> None:
    wanted = {("payments", "production"), ("search", "production"), ("payments", "qa")}
    with client_for(emulator) as client:
        found = find_client_side_ids(client, wanted | {("nowhere", "production")})
    assert found.ids == {
        ("payments", "production"): emulator.state.client_side_id("payments", "production"),
        ("search", "production"): emulator.state.client_side_id("search", "production"),
    }
    assert found.warnings == (
        "project 'nowhere' is not in LaunchDarkly (404)",
        "environment payments/qa is not in LaunchDarkly",
    )


def test_a_token_that_may_not_read_environments_is_a_warning_asked_once(
    emulator: EmulatorServer,
) -> None:
    emulator.state.environment_read_denied = True
    emulator.state.clear_requests()
    with client_for(emulator) as client:
        found = find_client_side_ids(client, {("payments", "production"), ("search", "dev")})
    assert found.ids == {}
    assert len(found.warnings) == 1 and "403" in found.warnings[0]
    assert "--client-side-id" in found.warnings[0]
    assert len(emulator.state.requests) == 1


def test_other_api_errors_are_not_swallowed(emulator: EmulatorServer) -> None:
    bad = Client(ConnectionSettings(emulator.url, "api-not-a-token"), retry=RetryPolicy(1))
    with bad, pytest.raises(ApiError) as caught:
        find_client_side_ids(bad, {("payments", "production")})
    assert caught.value.status == 401


def lying_server(requests: list[httpx.Request]) -> httpx.MockTransport:
    """Always a full page, always claiming more: the SDK key of each environment in clear."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        items = [
            {"key": f"e{len(requests)}-{i}", "_id": "x", "apiKey": "sdk-secret-key-1234"}
            for i in range(PAGE_SIZE)
        ]
        return httpx.Response(200, json={"items": items, "totalCount": 10**9})

    return httpx.MockTransport(answer)


def test_a_server_that_never_stops_paging_is_not_followed_forever() -> None:
    requests: list[httpx.Request] = []
    settings = ConnectionSettings("https://ld.example", TOKEN)
    with Client(settings, transport=lying_server(requests), pacing=False) as client:
        found = list_environments(client, "big")
    assert len(requests) == MAX_PAGES
    assert len(found) == MAX_PAGES * PAGE_SIZE


def test_a_malformed_environment_names_no_secret_from_the_body() -> None:
    body = {"items": [{"key": "production", "apiKey": "sdk-secret-key-1234"}]}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=json.dumps(body)))
    settings = ConnectionSettings("https://ld.example", TOKEN)
    client = Client(settings, transport=transport, pacing=False)
    with client, pytest.raises(ApiError) as caught:
        list_environments(client, "payments")
    assert "'_id'" in str(caught.value)
    assert "sdk-secret-key-1234" not in str(caught.value)
