"""``api.environments``: LaunchDarkly's environment reads through the real client.

Against the emulator over HTTP (which refuses ``LD-API-Version: beta`` and duplicate versions on
these reads, and checks every exchange against the OpenAPI contract), plus lying servers built
with ``httpx.MockTransport`` for what the emulator never does: pages, the right API version,
404, 403, no SDK keys kept, listings that never end, keys that are not keys.
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
    read_environments,
)
from reconciler.api.routes import environments_path, route_of, store_path
from reconciler.emulator import EmulatorServer
from reconciler.errors import ApiError
from reconciler.model import Environment, ProjectEnvironments

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


def test_client_side_id_discovery_does_not_swallow_other_api_errors(
    emulator: EmulatorServer,
) -> None:
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
    client = Client(settings, transport=lying_server(requests), pacing=False)
    with client, pytest.raises(ApiError, match="did not end") as caught:
        list_environments(client, "big")
    assert len(requests) == MAX_PAGES
    assert "sdk-secret-key-1234" not in str(caught.value)


def test_a_malformed_environment_names_no_secret_from_the_body() -> None:
    body = {"items": [{"key": "production", "apiKey": "sdk-secret-key-1234"}]}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, content=json.dumps(body)))
    settings = ConnectionSettings("https://ld.example", TOKEN)
    client = Client(settings, transport=transport, pacing=False)
    with client, pytest.raises(ApiError) as caught:
        list_environments(client, "payments")
    assert "'_id'" in str(caught.value)
    assert "sdk-secret-key-1234" not in str(caught.value)


def test_all_pages_of_a_project_are_read_in_order(emulator: EmulatorServer) -> None:
    keys = [f"env-{i:02d}" for i in range(45)]
    emulator.state.add_project("big", keys)
    emulator.state.set_environment("big", "env-44", critical=True)
    emulator.state.clear_requests()
    with client_for(emulator) as client:
        found = list_environments(client, "big")
    assert [e.key for e in found] == keys
    assert found[44].critical and not found[0].critical
    assert found[3].client_side_id == emulator.state.client_side_id("big", "env-03")
    pages = [r for r in emulator.state.requests if r.path.endswith("/environments")]
    assert [r.query for r in pages] == [
        "limit=20&offset=0",
        "limit=20&offset=20",
        "limit=20&offset=40",
    ]


def test_environment_reads_send_one_non_beta_version_and_store_reads_send_beta(
    emulator: EmulatorServer,
) -> None:
    emulator.state.clear_requests()
    with client_for(emulator) as client:
        list_environments(client, "payments")
        client.list_stores()
    versions = {r.path: r.headers.get("Ld-Api-Version") for r in emulator.state.requests}
    assert versions == {
        "/api/v2/projects/payments/environments": ["20240415"],
        "/api/v2/integration-capabilities/big-segment-store": ["beta"],
    }


def test_the_sdk_keys_in_the_answers_are_never_kept(emulator: EmulatorServer) -> None:
    details = emulator.state.environment("payments", "production")
    with client_for(emulator) as client:
        found = list_environments(client, "payments")
    assert found[0] == Environment("payments", "production", False, found[0].client_side_id)
    assert details.api_key not in repr(found) and details.mobile_key not in repr(found)


def test_an_unknown_project_is_known_not_to_exist(emulator: EmulatorServer) -> None:
    with client_for(emulator) as client:
        reads = read_environments(client, ["payments", "nope"])
    assert reads.projects["nope"] == ProjectEnvironments("nope", False)
    assert reads.projects["payments"].keys == ("production", "staging")
    assert reads.warnings == ()


def test_a_403_is_a_warning_and_nothing_is_claimed(emulator: EmulatorServer) -> None:
    emulator.state.environment_read_denied = True
    with client_for(emulator) as client:
        reads = read_environments(client, ["payments", "search"])
    assert reads.projects == {}
    assert len(reads.warnings) == 2 and "HTTP 403" in reads.warnings[0]


def test_environment_reads_do_not_swallow_other_api_errors(emulator: EmulatorServer) -> None:
    emulator.state.set_tokens(["api-someone-else"])
    with client_for(emulator) as client, pytest.raises(ApiError) as error:
        read_environments(client, ["payments"])
    assert error.value.status == 401


def test_a_listing_that_never_ends_is_an_error_not_a_loop() -> None:
    seen: list[httpx.Request] = []

    def endless(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset = int(request.url.params["offset"])
        item = {"key": f"e{offset}", "_id": "x", "critical": False, "apiKey": "sdk-secret"}
        return httpx.Response(200, json={"items": [item], "totalCount": 10**12})

    settings = ConnectionSettings(api_host="https://ld.test", token=TOKEN)
    client = Client(settings, transport=httpx.MockTransport(endless), pacing=False)
    with client, pytest.raises(ApiError, match="did not end"):
        list_environments(client, "payments")
    assert len(seen) == MAX_PAGES
    assert all(r.headers.get_list("LD-API-Version") == ["20240415"] for r in seen)


@pytest.mark.parametrize(
    "body", [{"items": "nope"}, {"items": [{"_id": "x"}]}, [], {"items": [{"key": 7}]}]
)
def test_a_malformed_listing_is_a_clean_error(body: object) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    settings = ConnectionSettings(api_host="https://ld.test", token=TOKEN)
    client = Client(settings, transport=httpx.MockTransport(answer), pacing=False)
    with client, pytest.raises(ApiError, match="unexpected shape"):
        list_environments(client, "payments")


@pytest.mark.parametrize("key", ["prod\nx [ok] forged line", "\x1b[32mgreen", "a b", "x" * 300])
def test_an_environment_key_that_is_not_a_key_is_refused_without_echoing_it(key: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": [{"key": key}], "totalCount": 1})

    settings = ConnectionSettings(api_host="https://ld.test", token=TOKEN)
    client = Client(settings, transport=httpx.MockTransport(answer), pacing=False)
    with client, pytest.raises(ApiError, match="not a LaunchDarkly key") as error:
        list_environments(client, "payments")
    assert key not in str(error.value)


def test_environment_reads_are_paced_as_one_route_whatever_the_project() -> None:
    assert (
        route_of("GET", environments_path("payments", 40))
        == route_of("GET", environments_path("search"))
        == "GET /api/v2/projects/{projectKey}/environments"
    )
    assert route_of("GET", store_path("payments", "production")) == (
        "GET /api/v2/integration-capabilities/big-segment-store/{projectKey}/{environmentKey}"
    )
