"""Contract tests of the LaunchDarkly emulator, over real HTTP.

Every answer the ``api`` client receives is checked against the OpenAPI file on the client side
(conftest ``check_exchange``), and the ``emulator`` fixture asserts at teardown that the
emulator's own runtime validation found no contract violation.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TOKEN, check_exchange

from reconciler.emulator import (
    API_ROOT,
    EmulatorServer,
    FakeClock,
    FaultConfig,
    FaultInjector,
    RateLimitConfig,
    SeedError,
    load_seed_file,
    run,
    state_from_seed,
)
from reconciler.emulator.manifests import mask_secret

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_SPEC = (
    Path(__file__).resolve().parents[2] / "shared/launchdarkly/big-segment-store.openapi.json"
)
SHIPPED_SPEC = Path(__file__).resolve().parents[1] / "reconciler/emulator/openapi.json"
REDIS = {"host": "redis.internal", "port": "6380", "password": "supersecret123"}
DYNAMO = {
    "tableName": "ld-big-segments",
    "region": "us-east-1",
    "roleArn": "arn:aws:iam::123456789012:role/launchdarkly",
    "externalId": "6f1c2a1e-0000-4000-8000-000000000001",
}
PROD_REDIS = f"{API_ROOT}/payments/production/redis"


def create(api: httpx.Client, body: dict[str, Any] | None = None, path: str = PROD_REDIS) -> Any:
    response = api.post(path, json=body or {"name": "Payments", "config": dict(REDIS)})
    assert response.status_code == 201, response.text
    return response.json()


def item_path(store: dict[str, Any]) -> str:
    return str(store["_links"]["self"]["href"])


def assert_error(response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    for word in words:
        assert word in body["message"]


# -- the five operations ------------------------------------------------------------------


def test_create_returns_201_with_links_id_version_status_and_masked_config(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock
) -> None:
    store = create(api, {"name": "Payments", "on": True, "tags": ["t"], "config": dict(REDIS)})
    assert len(store["_id"]) == 24 and int(store["_id"], 16) >= 0
    assert store["version"] == 1
    assert (store["projectKey"], store["environmentKey"], store["integrationKey"]) == (
        "payments",
        "production",
        "redis",
    )
    assert store["_links"] == {
        "self": {"href": f"{PROD_REDIS}/{store['_id']}", "type": "application/json"},
        "parent": {"href": API_ROOT, "type": "application/json"},
        "project": {"href": "/api/v2/projects/payments", "type": "application/json"},
        "environment": {
            "href": "/api/v2/projects/payments/environments/production",
            "type": "application/json",
        },
    }
    assert store["_status"] == {
        "available": True,
        "potentiallyStale": False,
        "lastSync": int(clock.now * 1000),
    }
    assert store["config"]["password"] == mask_secret("supersecret123") == "sup********123"
    assert emulator.state.store(store["_id"]).config["password"] == "supersecret123"


def test_create_fills_defaults_and_keeps_port_a_string(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api, {"config": {"host": "h"}})
    assert store["config"] == {
        "host": "h",
        "port": "6379",
        "username": "",
        "password": "",
        "tlsEnabled": False,
    }
    assert (store["name"], store["on"], store["tags"]) == ("", False, [])
    assert store["_status"] == {"available": False, "potentiallyStale": False}
    fetched = api.get(item_path(store)).json()
    assert fetched["config"]["port"] == "6379"


def test_dynamodb_external_id_is_returned_unmasked(api: httpx.Client) -> None:
    path = f"{API_ROOT}/search/production/dynamodb"
    store = create(api, {"name": "Search", "config": dict(DYNAMO)}, path=path)
    fetched = api.get(item_path(store)).json()
    assert fetched["config"] == DYNAMO


def test_list_is_account_wide_and_omits_config(api: httpx.Client) -> None:
    assert api.get(API_ROOT).json() == {
        "_links": {
            "self": {"href": API_ROOT, "type": "application/json"},
            "parent": {"href": "/api/v2", "type": "application/json"},
        },
        "items": [],
    }
    one = create(api)
    two = create(api, {"config": dict(DYNAMO)}, path=f"{API_ROOT}/search/production/dynamodb")
    items = api.get(API_ROOT).json()["items"]
    assert [i["_id"] for i in items] == [one["_id"], two["_id"]]
    assert all("config" not in i for i in items)
    assert items[0]["_status"] == one["_status"]


def test_get_by_id_returns_config_masked(api: httpx.Client) -> None:
    store = create(api)
    response = api.get(item_path(store))
    assert response.status_code == 200
    assert response.json() == store


def test_delete_answers_204_without_body_and_removes_the_store(api: httpx.Client) -> None:
    store = create(api)
    response = api.delete(item_path(store))
    assert response.status_code == 204
    assert response.content == b""
    assert_error(api.get(item_path(store)), 404, "not_found")
    assert_error(api.delete(item_path(store)), 404, "not_found")


def test_several_stores_of_one_kind_may_share_an_environment(api: httpx.Client) -> None:
    create(api, {"name": "a", "config": {"host": "h"}})
    create(api, {"name": "a", "config": {"host": "h"}})
    assert len(api.get(API_ROOT).json()["items"]) == 2


def test_ids_are_deterministic_for_a_seeded_generator(api: httpx.Client) -> None:
    expected = f"{random.Random(0).getrandbits(96):024x}"
    assert create(api)["_id"] == expected


# -- PATCH ---------------------------------------------------------------------------------


def test_patch_replaces_fields_and_bumps_version(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    patch = [
        {"op": "test", "path": "/version", "value": 1},
        {"op": "replace", "path": "/name", "value": "Renamed"},
        {"op": "replace", "path": "/on", "value": True},
        {"op": "replace", "path": "/tags", "value": ["x", "y"]},
        {"op": "replace", "path": "/config", "value": {"host": "new", "password": "p4ssw0rd!"}},
    ]
    response = api.patch(item_path(store), json=patch)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["name"], body["on"], body["tags"], body["version"]) == (
        "Renamed",
        True,
        ["x", "y"],
        2,
    )
    assert body["config"]["port"] == "6379"
    assert body["config"]["password"] == "p4s********rd!"
    assert emulator.state.store(store["_id"]).config["password"] == "p4ssw0rd!"
    assert api.get(item_path(store)).json()["version"] == 2


def test_patch_config_sub_paths_and_refills_defaults(api: httpx.Client) -> None:
    store = create(api)
    patch = [
        {"op": "replace", "path": "/config/host", "value": "other"},
        {"op": "remove", "path": "/config/port"},
        {"op": "add", "path": "/tags/-", "value": "new"},
    ]
    body = api.patch(item_path(store), json=patch).json()
    assert body["config"]["host"] == "other"
    assert body["config"]["port"] == "6379"
    assert body["tags"] == ["new"]
    assert body["version"] == 2


def test_patch_without_change_keeps_version(api: httpx.Client) -> None:
    store = create(api)
    same = [{"op": "replace", "path": "/name", "value": store["name"]}]
    assert api.patch(item_path(store), json=same).json()["version"] == 1


def test_failed_test_op_is_409_and_changes_nothing(api: httpx.Client) -> None:
    store = create(api)
    patch = [
        {"op": "replace", "path": "/name", "value": "lost update"},
        {"op": "test", "path": "/version", "value": 7},
    ]
    assert_error(api.patch(item_path(store), json=patch), 409, "optimistic_locking_error")
    after = api.get(item_path(store)).json()
    assert (after["name"], after["version"]) == (store["name"], 1)


def test_test_op_sees_unmasked_secrets(api: httpx.Client) -> None:
    store = create(api)
    ok = [{"op": "test", "path": "/config/password", "value": "supersecret123"}]
    assert api.patch(item_path(store), json=ok).status_code == 200
    masked = [{"op": "test", "path": "/config/password", "value": "sup********123"}]
    assert api.patch(item_path(store), json=masked).status_code == 409


@pytest.mark.parametrize(
    ("patch", "word"),
    [
        ([{"op": "replace", "path": "/_id", "value": "0" * 24}], "/_id"),
        ([{"op": "replace", "path": "/version", "value": 9}], "/version"),
        ([{"op": "add", "path": "/projectKey", "value": "x"}], "/projectKey"),
        ([{"op": "move", "from": "/_links", "path": "/name"}], "/_links"),
        ([{"op": "replace", "path": "/config/port", "value": 6379}], "config.port"),
        ([{"op": "add", "path": "/config/prefix", "value": "x"}], "config.prefix"),
        ([{"op": "remove", "path": "/config/host"}], "config.host"),
        ([{"op": "replace", "path": "/on", "value": "yes"}], "on"),
        ([{"op": "replace", "path": "/tags", "value": [1]}], "tags"),
        ([{"op": "remove", "path": "/config/nothing"}], "patch"),
        ([{"op": "frobnicate", "path": "/name", "value": 1}], "frobnicate"),
        ({"op": "replace", "path": "/name", "value": "x"}, ""),
        ([{"path": "/name", "value": "x"}], ""),
    ],
)
def test_bad_patches_are_400(api: httpx.Client, patch: Any, word: str) -> None:
    store = create(api)
    assert_error(api.patch(item_path(store), json=patch), 400, "invalid_request", word)
    assert api.get(item_path(store)).json()["version"] == 1


def test_method_override_header_turns_a_post_into_a_patch(api: httpx.Client) -> None:
    store = create(api)
    response = api.post(
        item_path(store),
        json=[{"op": "replace", "path": "/name", "value": "via override"}],
        headers={"X-HTTP-Method-Override": "PATCH"},
    )
    assert response.status_code == 200
    assert response.json()["name"] == "via override"


# -- validation errors (400) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "word"),
    [
        ({"host": "h", "port": 6379}, "config.port"),
        ({"host": "h", "port": "70000"}, "config.port"),
        ({"host": "h", "port": "0"}, "config.port"),
        ({"host": "h", "port": "63a9"}, "config.port"),
        ({"host": "h", "tlsEnabled": "true"}, "config.tlsEnabled"),
        ({"host": "h", "tls": True}, "config.tls"),
        ({"port": "6379"}, "config.host"),
        ({"host": ""}, "config.host"),
        ({"host": 1}, "config.host"),
        ({**DYNAMO}, "config.externalId"),
    ],
)
def test_invalid_redis_config_is_400_naming_the_key(
    api: httpx.Client, config: dict[str, Any], word: str
) -> None:
    assert_error(api.post(PROD_REDIS, json={"config": config}), 400, "invalid_request", word)
    assert api.get(API_ROOT).json()["items"] == []


@pytest.mark.parametrize(
    ("change", "word"),
    [
        ({"region": "mars-1"}, "config.region"),
        ({"roleArn": "arn:aws:iam::123:user/x"}, "config.roleArn"),
        ({"externalId": None}, "config.externalId"),
        ({"awsRegion": "us-east-1"}, "config.awsRegion"),
    ],
)
def test_invalid_dynamodb_config_is_400(
    api: httpx.Client, change: dict[str, Any], word: str
) -> None:
    config = {k: v for k, v in {**DYNAMO, **change}.items() if v is not None}
    response = api.post(f"{API_ROOT}/search/production/dynamodb", json={"config": config})
    assert_error(response, 400, "invalid_request", word)


@pytest.mark.parametrize(
    ("content", "word"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "Invalid request"),
        (b'{"name": "x"}', "config"),
        (b'{"config": {"host": "h"}, "on": "yes"}', "on"),
        (b'{"config": {"host": "h"}, "tags": "a"}', "tags"),
        (b'{"config": "host=h"}', "config"),
    ],
)
def test_malformed_create_bodies_are_400(api: httpx.Client, content: bytes, word: str) -> None:
    response = api.post(PROD_REDIS, content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_request", word)


def test_create_with_a_non_json_content_type_is_400(api: httpx.Client) -> None:
    response = api.post(PROD_REDIS, content=b'{"config": {"host": "h"}}')
    assert_error(response, 400, "invalid_request")


# -- 401, 403, 404, 405, 409 -----------------------------------------------------------------

OPERATIONS = [
    ("GET", API_ROOT, None),
    ("POST", PROD_REDIS, {"config": {"host": "h"}}),
    ("GET", f"{PROD_REDIS}/{'a' * 24}", None),
    ("PATCH", f"{PROD_REDIS}/{'a' * 24}", []),
    ("DELETE", f"{PROD_REDIS}/{'a' * 24}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
@pytest.mark.parametrize("token", [None, "", "api-unknown", f"Bearer {TOKEN}", "api-revoked"])
def test_bad_tokens_are_401(
    api: httpx.Client,
    emulator: EmulatorServer,
    method: str,
    path: str,
    body: Any,
    token: str | None,
) -> None:
    emulator.state.revoke_token("api-revoked")
    headers = [("LD-API-Version", "beta")]
    if token is not None:
        headers.append(("Authorization", token))
    with httpx.Client(base_url=emulator.url) as raw:
        response = raw.request(method, path, json=body, headers=headers)
    assert not check_exchange(response)
    assert_error(response, 401, "unauthorized")


def test_revoking_the_fixture_token_locks_it_out(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    assert api.get(API_ROOT).status_code == 200
    emulator.state.revoke_token(TOKEN)
    assert_error(api.get(API_ROOT), 401, "unauthorized")


def test_without_configured_tokens_any_api_token_is_accepted(clock: FakeClock) -> None:
    state = state_from_seed({"projects": [{"key": "p", "environments": ["e"]}]}, clock=clock)
    with EmulatorServer(state) as server, httpx.Client(base_url=server.url) as client:
        ok = client.get(
            API_ROOT, headers={"Authorization": "api-anything", "LD-API-Version": "beta"}
        )
        bad = client.get(API_ROOT, headers={"Authorization": "sdk-key", "LD-API-Version": "beta"})
        assert (ok.status_code, bad.status_code) == (200, 401)
        assert server.state.contract_violations == []


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
@pytest.mark.parametrize(
    "versions", [[], ["20240415"], ["beta", "beta"], ["beta", "20240415"], ["20240415", "beta"]]
)
def test_anything_but_one_beta_version_header_is_403(
    emulator: EmulatorServer, method: str, path: str, body: Any, versions: list[str]
) -> None:
    headers = [("Authorization", TOKEN)] + [("LD-API-Version", v) for v in versions]
    with httpx.Client(base_url=emulator.url) as raw:
        response = raw.request(method, path, json=body, headers=headers)
    assert not check_exchange(response)
    assert_error(response, 403, "forbidden", "LD-API-Version")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_missing_entitlement_is_403_everywhere(
    api: httpx.Client, emulator: EmulatorServer, method: str, path: str, body: Any
) -> None:
    emulator.state.entitlement = False
    assert_error(api.request(method, path, json=body), 403, "forbidden", "not enabled")


def test_auth_is_checked_before_the_version_header_and_existence(
    emulator: EmulatorServer,
) -> None:
    with httpx.Client(base_url=emulator.url) as raw:
        response = raw.get(f"{API_ROOT}/nope/nope/redis/{'a' * 24}")
    assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    ("scope", "word"),
    [
        ("nope/production/redis", "Environment or project not found"),
        ("payments/nope/redis", "Environment or project not found"),
        ("search/staging/redis", "Environment or project not found"),
        ("payments/production/mongodb", "integration key"),
        ("payments/production/redis", "not found"),
        ("payments/staging/redis", "not found"),
        ("payments/production/dynamodb", "not found"),
    ],
)
def test_unknown_scope_or_id_is_404(api: httpx.Client, method: str, scope: str, word: str) -> None:
    live = create(api)
    store_id = live["_id"] if not scope.endswith("production/redis") else "f" * 24
    body = [] if method == "PATCH" else None
    response = api.request(method, f"{API_ROOT}/{scope}/{store_id}", json=body)
    assert_error(response, 404, "not_found", word)


@pytest.mark.parametrize(
    ("scope", "word"),
    [
        ("nope/production/redis", "Environment or project not found"),
        ("payments/qa/redis", "Environment or project not found"),
        ("payments/production/mongodb", "integration key"),
    ],
)
def test_create_in_unknown_scope_is_404_before_body_checks(
    api: httpx.Client, scope: str, word: str
) -> None:
    assert_error(api.post(f"{API_ROOT}/{scope}", content=b"{bad"), 404, "not_found", word)


def test_unknown_paths_are_json_404_and_wrong_methods_json_405(api: httpx.Client) -> None:
    assert_error(api.get("/api/v2/flags"), 404, "not_found")
    assert_error(api.get(f"{API_ROOT}/payments"), 404, "not_found")
    assert_error(api.get(f"{API_ROOT}/a//b/c"), 404, "not_found")
    assert_error(api.get("/"), 404, "not_found")
    response = api.put(f"{PROD_REDIS}/{'a' * 24}", json={})
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "GET, PATCH, DELETE"
    assert_error(api.delete(API_ROOT), 405, "method_not_allowed")
    assert_error(api.get(PROD_REDIS), 405, "method_not_allowed")


def test_duplicate_names_are_409_when_the_account_requires_unique_names(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.unique_names = True
    create(api, {"name": "same", "config": {"host": "h"}})
    response = api.post(PROD_REDIS, json={"name": "same", "config": {"host": "h"}})
    assert_error(response, 409, "optimistic_locking_error", "same")
    create(api, {"name": "other", "config": {"host": "h"}})


def test_an_injected_409_on_delete_matches_the_contract(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    emulator.faults.fail_next(1, status=409, method="DELETE")
    response = api.delete(item_path(store))
    assert_error(response, 409, "optimistic_locking_error")
    assert response.headers["X-Emulator-Fault"] == "error:rule"
    assert api.delete(item_path(store)).status_code == 204


# -- rate limiting (429) ---------------------------------------------------------------------


def test_rate_limit_headers_count_down_and_429_until_the_window_resets(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock
) -> None:
    clock.now = 1_700_000_003.5
    emulator.limiter.configure(
        RateLimitConfig(
            enabled=True, window_seconds=10, route_limit=2, global_limit=3, retry_after=7
        )
    )
    reset = "1700000010000"
    first, second, third = (api.get(API_ROOT) for _ in range(3))
    assert [r.status_code for r in (first, second)] == [200, 200]
    assert [r.headers["X-Ratelimit-Route-Remaining"] for r in (first, second)] == ["1", "0"]
    assert [r.headers["X-Ratelimit-Global-Remaining"] for r in (first, second)] == ["2", "1"]
    assert first.headers["X-Ratelimit-Reset"] == reset
    assert "Retry-After" not in first.headers
    assert_error(third, 429, "rate_limited")
    assert third.headers["X-Ratelimit-Reset"] == reset
    assert third.headers["Retry-After"] == "7"
    other = api.post(PROD_REDIS, json={"config": {"host": "h"}})
    assert other.status_code == 201
    assert other.headers["X-Ratelimit-Global-Remaining"] == "0"
    assert_error(api.delete(item_path(other.json())), 429, "rate_limited")
    clock.advance(6.5)
    fresh = api.get(API_ROOT)
    assert fresh.status_code == 200
    assert fresh.headers["X-Ratelimit-Route-Remaining"] == "1"
    assert fresh.headers["X-Ratelimit-Reset"] == "1700000020000"


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_every_operation_can_be_rate_limited(
    api: httpx.Client, emulator: EmulatorServer, method: str, path: str, body: Any
) -> None:
    emulator.limiter.configure(RateLimitConfig(enabled=True, route_limit=0, global_limit=5))
    response = api.request(method, path, json=body)
    assert_error(response, 429, "rate_limited")
    assert response.headers["X-Ratelimit-Route-Remaining"] == "0"
    assert "Retry-After" not in response.headers


def test_rate_limit_headers_are_on_error_answers_too(emulator: EmulatorServer) -> None:
    emulator.limiter.configure(RateLimitConfig(enabled=True))
    with httpx.Client(base_url=emulator.url) as raw:
        response = raw.get(API_ROOT)
    assert response.status_code == 401
    assert response.headers["X-Ratelimit-Route-Remaining"] == "24"
    assert response.headers["X-Ratelimit-Global-Remaining"] == "99"


def test_rate_limit_headers_are_absent_when_limiting_is_off(api: httpx.Client) -> None:
    assert "X-Ratelimit-Reset" not in api.get(API_ROOT).headers


# -- fault injection ---------------------------------------------------------------------------


def test_latency_is_applied_through_the_injected_sleep(clock: FakeClock) -> None:
    slept: list[float] = []
    with (
        EmulatorServer(
            state_from_seed({"tokens": [TOKEN]}, clock=clock),
            faults=FaultConfig(latency_ms=250),
            sleep=slept.append,
        ) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        client.get(API_ROOT, headers={"Authorization": TOKEN, "LD-API-Version": "beta"})
        client.get("/__emulator/state")
        assert slept == [0.25]
        assert [r.latency_ms for r in server.state.requests] == [250]
        assert server.state.contract_violations == []


def test_error_rate_answers_json_5xx_deterministically_per_seed(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.faults.configure(FaultConfig(error_rate=0.5, seed=42))
    first = [api.get(API_ROOT).status_code for _ in range(12)]
    emulator.faults.configure(FaultConfig(error_rate=0.5, seed=42))
    again = [api.get(API_ROOT).status_code for _ in range(12)]
    assert first == again
    assert 200 in first and set(first) - {200} <= {500, 502, 503} and len(set(first)) > 1
    emulator.faults.configure(FaultConfig(error_rate=1.0))
    response = api.get(API_ROOT)
    assert response.status_code in (500, 502, 503)
    assert set(response.json()) == {"code", "message"}


def test_dropped_connections_are_transport_errors(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.faults.configure(FaultConfig(drop_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.get(API_ROOT)
    emulator.faults.reset()
    emulator.faults.fail_next(1, method="POST", drop=True)
    with pytest.raises(httpx.TransportError):
        api.post(PROD_REDIS, json={"config": {"host": "h"}})
    assert api.get(API_ROOT).json()["items"] == []
    assert [(r.status, r.fault) for r in emulator.state.requests] == [
        (None, "drop:drop_rate"),
        (None, "drop:rule"),
        (200, None),
    ]


def test_ambiguous_create_answers_5xx_but_creates_the_store(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.faults.ambiguous_creates(1)
    response = api.post(PROD_REDIS, json={"name": "ghost", "config": {"host": "h"}})
    assert response.status_code == 502
    assert response.headers["X-Emulator-Fault"] == "ambiguous_create"
    items = api.get(API_ROOT).json()["items"]
    assert [i["name"] for i in items] == ["ghost"]
    assert create(api)["name"] == "Payments"
    emulator.faults.configure(FaultConfig(ambiguous_create_rate=1.0, ambiguous_create_status=504))
    assert api.post(PROD_REDIS, json={"config": {"host": "h"}}).status_code == 504
    assert len(api.get(API_ROOT).json()["items"]) == 3


def test_fail_rules_match_method_and_path_prefix_and_run_out(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.faults.fail_next(2, status=503, method="GET", path_prefix=f"{API_ROOT}/payments")
    store = create(api)
    assert api.get(API_ROOT).status_code == 200
    assert [api.get(item_path(store)).status_code for _ in range(3)] == [503, 503, 200]
    assert emulator.faults.config.rules == ()


def test_fault_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="error_rate"):
        FaultConfig(error_rate=2)
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig.from_dict({"latency": 5})
    injector = FaultInjector(FaultConfig.from_dict({"rules": [{"status": 500, "count": 1}]}))
    assert injector.decide("GET", "/api/v2/x") is not None
    assert injector.decide("GET", "/api/v2/x") is None


# -- contract validation at runtime ----------------------------------------------------------


def test_a_response_that_breaks_the_contract_is_recorded(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    emulator.state.store(store["_id"]).status = {"lastSync": "yesterday"}
    response = httpx.get(
        emulator.url + item_path(store),
        headers={"Authorization": TOKEN, "LD-API-Version": "beta"},
    )
    assert response.status_code == 200
    assert check_exchange(response)
    violations = list(emulator.state.contract_violations)
    assert len(violations) == 1 and "lastSync" in violations[0]
    emulator.state.contract_violations.clear()


def test_the_shipped_contract_is_the_official_file() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("shared/launchdarkly is not next to the repository")
    assert json.loads(SHIPPED_SPEC.read_text()) == json.loads(SHARED_SPEC.read_text())


# -- seeds -----------------------------------------------------------------------------------


def test_seed_file_loads_stores_tokens_and_status(clock: FakeClock) -> None:
    state = load_seed_file(FIXTURES / "emulator-seed.yaml", clock=clock)
    with EmulatorServer(state) as server, httpx.Client(base_url=server.url) as client:
        headers = {"Authorization": "api-seeded-token", "LD-API-Version": "beta"}
        items = client.get(API_ROOT, headers=headers).json()["items"]
        assert (items[0]["_id"], items[0]["version"]) == ("0123456789abcdef01234567", 4)
        redis = client.get(items[0]["_links"]["self"]["href"], headers=headers).json()
        assert redis["config"]["port"] == "6380"
        assert redis["config"]["password"] == "sup********123"
        assert items[1]["_status"]["errors"][0]["message"] == "AccessDenied"
        revoked = {"Authorization": "api-revoked", "LD-API-Version": "beta"}
        assert client.get(API_ROOT, headers=revoked).status_code == 401
        assert server.state.contract_violations == []


def test_a_json_seed_round_trips_through_snapshot(tmp_path: Path, clock: FakeClock) -> None:
    state = load_seed_file(FIXTURES / "emulator-seed.yaml", clock=clock)
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(state.snapshot()))
    assert load_seed_file(path, clock=clock).snapshot() == state.snapshot()


@pytest.mark.parametrize(
    ("seed", "words"),
    [
        ("- a list", ["must be a mapping"]),
        ("token: [x]", ["token: unknown key"]),
        ("tokens: x\nentitlement: maybe", ["tokens:", "entitlement:"]),
        (
            "projects: [{key: p}]\nstores: [{project: q, environment: e, integrationKey: redis,"
            " config: {host: h}}]",
            ["stores[0]: q/e/redis: Environment or project not found"],
        ),
        (
            "projects: [{key: p, environments: [e]}]\nstores: [{project: p, environment: e,"
            " integrationKey: redis, config: {host: h, port: 6379}}]",
            ["config.port"],
        ),
        (
            "projects: [{key: p, environments: [e]}]\nstores: [{project: p, environment: e,"
            " integrationKey: redis, id: xyz, config: {host: h}}]",
            ["id must be 24"],
        ),
        (
            "projects: [{key: p, environments: [e]}]\nstores: [{project: p, environment: e,"
            " integrationKey: redis, config: {host: h}, colour: red}]",
            ["colour"],
        ),
        (
            "projects: [{key: p, environments: [e]}]\nstores: [{project: p, environment: e,"
            " integrationKey: redis, config: {host: h}, status: {available: 1}}]",
            ["available"],
        ),
        (
            "projects: [{key: p, environments: [e]}]\nstores:\n"
            "  - {project: p, environment: e, integrationKey: redis, id: "
            + "a"
            * 24
            + ", config: {host: h}}\n"
            "  - {project: p, environment: e, integrationKey: redis, id: "
            + "a" * 24
            + ", config: {host: h}}",
            ["stores[1]: duplicate id"],
        ),
        ("projects: [ {key: p", ["not valid YAML"]),
    ],
)
def test_bad_seeds_are_reported_with_every_problem(
    tmp_path: Path, seed: str, words: list[str]
) -> None:
    path = tmp_path / "seed.yaml"
    path.write_text(seed)
    with pytest.raises(SeedError) as info:
        load_seed_file(path)
    assert str(path) in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_a_missing_seed_file_is_a_seed_error(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read"):
        load_seed_file(tmp_path / "absent.yaml")
    with pytest.raises(SeedError, match="cannot read"):
        run(port=0, seed_path=tmp_path / "absent.yaml")


# -- the side door ---------------------------------------------------------------------------


def test_side_door_state_shows_unmasked_secrets_and_reseeds(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    snapshot = api.get("/__emulator/state").json()
    assert snapshot["stores"][0]["config"]["password"] == "supersecret123"
    assert snapshot["stores"][0]["id"] == store["_id"]
    seed = load_seed_file(FIXTURES / "emulator-seed.yaml").snapshot()
    response = api.post("/__emulator/state", json=seed)
    assert response.status_code == 200
    assert [s["name"] for s in response.json()["stores"]] == [
        "Payments production",
        "Search production",
    ]
    assert_error(api.get(API_ROOT), 401, "unauthorized")
    bad = api.post("/__emulator/state", json={"projects": "x"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_seed"


def test_side_door_edits_bump_version_like_a_ui_edit(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    side = f"/__emulator/stores/{store['_id']}"
    edited = api.patch(side, json={"config": {"password": "rotated-secret"}, "on": True})
    assert edited.status_code == 200
    assert edited.json()["config"]["password"] == "rotated-secret"
    assert edited.json()["config"]["host"] == REDIS["host"]
    assert edited.json()["version"] == 2
    live = api.get(item_path(store)).json()
    assert (live["version"], live["on"], live["config"]["password"]) == (2, True, "rot********ret")
    stale = [{"op": "test", "path": "/version", "value": 1}]
    assert_error(api.patch(item_path(store), json=stale), 409, "optimistic_locking_error")
    assert api.patch(side, json={"config": {"port": 1}}).status_code == 400
    assert api.patch(side, json={"version": 9}).status_code == 400
    assert api.patch("/__emulator/stores/" + "0" * 24, json={}).status_code == 404


def test_side_door_status_override_shows_in_the_api(api: httpx.Client) -> None:
    store = create(api, {"on": True, "config": {"host": "h"}})
    side = f"/__emulator/stores/{store['_id']}"
    status = {
        "available": False,
        "potentiallyStale": True,
        "lastError": 1_700_000_000_000,
        "errors": [{"statusCode": 500, "message": "connection refused", "timestamp": 1}],
    }
    assert api.patch(side, json={"status": status}).json()["version"] == 1
    assert api.get(item_path(store)).json()["_status"] == status
    assert api.get(API_ROOT).json()["items"][0]["_status"] == status
    assert api.patch(side, json={"status": {"available": "no"}}).status_code == 400
    api.patch(side, json={"status": None})
    assert api.get(item_path(store)).json()["_status"]["available"] is True


def test_side_door_adds_and_deletes_stores(api: httpx.Client) -> None:
    added = api.post(
        "/__emulator/stores",
        json={
            "project": "search",
            "environment": "production",
            "integrationKey": "dynamodb",
            "name": "out of band",
            "config": DYNAMO,
            "version": 3,
        },
    )
    assert added.status_code == 201
    store_id = added.json()["id"]
    assert api.get(API_ROOT).json()["items"][0]["version"] == 3
    assert api.get("/__emulator/stores").json()[0]["id"] == store_id
    assert api.delete(f"/__emulator/stores/{store_id}").status_code == 204
    assert api.get(API_ROOT).json()["items"] == []
    assert api.post("/__emulator/stores", json={"project": "x"}).status_code == 400


def test_side_door_request_log_records_api_calls_only(api: httpx.Client) -> None:
    create(api)
    api.get("/__emulator/state")
    log = api.get("/__emulator/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [("POST", PROD_REDIS, 201)]
    assert log[0]["headers"]["Ld-Api-Version"] == ["beta"]
    assert log[0]["body"]["config"]["host"] == REDIS["host"]
    assert api.delete("/__emulator/requests").status_code == 204
    assert api.get("/__emulator/requests").json() == []


def test_side_door_configures_faults_rate_limits_and_settings(api: httpx.Client) -> None:
    faults = api.put(
        "/__emulator/faults",
        json={"rules": [{"method": "GET", "pathPrefix": API_ROOT, "status": 502}]},
    )
    assert faults.json()["rules"][0]["count"] == 1
    assert api.get(API_ROOT).status_code == 502
    assert api.get("/__emulator/faults").json()["rules"] == []
    assert api.put("/__emulator/faults", json={"errorRate": 3}).status_code == 400

    limits = api.put("/__emulator/ratelimit", json={"routeLimit": 1, "globalLimit": 9})
    assert limits.json()["enabled"] is True
    assert api.get(API_ROOT).status_code == 200
    assert api.get(API_ROOT).status_code == 429
    assert api.get("/__emulator/ratelimit").json()["routesUsed"] == {f"GET {API_ROOT}": 1}
    assert api.put("/__emulator/ratelimit", json={"enabled": False}).status_code == 200
    assert api.put("/__emulator/ratelimit", json={"limit": 1}).status_code == 400

    settings = api.patch("/__emulator/settings", json={"entitlement": False})
    assert settings.json()["entitlement"] is False
    assert_error(api.get(API_ROOT), 403, "forbidden")
    api.patch("/__emulator/settings", json={"entitlement": True, "tokens": [TOKEN, "api-2"]})
    assert api.get(API_ROOT, headers={"Authorization": "api-2"}).status_code == 200
    assert api.patch("/__emulator/settings", json={"tokens": 5}).status_code == 400
    assert api.get("/__emulator/violations").json() == []
    assert api.get("/__emulator/nothing").status_code == 404
    assert api.delete("/__emulator/state").status_code == 405


def test_a_seed_of_twenty_thousand_stores_with_ids_loads_them_all() -> None:
    """Seeding is linear (it was quadratic: 10k stores with ids took 11 s); this size would
    take minutes if it regressed."""
    count = 20_000
    seed = {
        "uniqueNames": True,
        "projects": [{"key": "p", "environments": ["e"]}],
        "stores": [
            {
                "project": "p",
                "environment": "e",
                "integrationKey": "redis",
                "name": f"s{i}",
                "id": f"{i:024x}",
                "config": {"host": "h"},
            }
            for i in range(count)
        ],
    }
    state = state_from_seed(seed)
    assert len(state.stores()) == count
    assert state.store(f"{count - 1:024x}").name == f"s{count - 1}"
    seed["stores"].append({**seed["stores"][0], "id": "f" * 24})  # type: ignore[attr-defined]
    with pytest.raises(SeedError, match="already exists"):
        state_from_seed(seed)


def test_repeated_status_errors_from_the_data_plane_are_shown_once(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api)
    failures = [
        {"message": "WRONGPASS", "timestamp": 1},
        {"message": "timeout", "timestamp": 2},
        {"message": "WRONGPASS", "timestamp": 3},
        {"message": "WRONGPASS", "timestamp": 4},
    ]
    emulator.state.status_provider = lambda s: {"available": False, "errors": failures}
    shown = api.get(item_path(store)).json()["_status"]["errors"]
    assert shown == [
        {"message": "timeout", "timestamp": 2},
        {"message": "WRONGPASS", "timestamp": 4},
    ]
