"""Tests of ``api.environments``: LaunchDarkly's environment reads against the emulator (and a
lying server through MockTransport): pages, the right API version, 404, 403, no SDK keys."""

from __future__ import annotations

import httpx
import pytest
from conftest import TOKEN

from reconciler.api.client import Client, ConnectionSettings
from reconciler.api.environments import MAX_PAGES, list_environments, read_environments
from reconciler.api.routes import environments_path, route_of, store_path
from reconciler.emulator import EmulatorServer
from reconciler.errors import ApiError
from reconciler.model import Environment, ProjectEnvironments


def client_for(server: EmulatorServer) -> Client:
    return Client(ConnectionSettings(api_host=server.url, token=TOKEN), pacing=False)


def test_all_pages_of_a_project_are_read_in_order(emulator: EmulatorServer) -> None:
    keys = [f"env-{i:02d}" for i in range(45)]
    emulator.state.add_project("big", keys)
    emulator.state.set_environment("big", "env-44", critical=True)
    emulator.state.clear_requests()
    with client_for(emulator) as client:
        found = list_environments(client, "big")
    assert [e.key for e in found] == keys
    assert found[44].critical and not found[0].critical
    assert found[3].id == emulator.state.client_side_id("big", "env-03")
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
    assert found[0] == Environment("production", False, found[0].id)
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


def test_other_errors_are_not_swallowed(emulator: EmulatorServer) -> None:
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
