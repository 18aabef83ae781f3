"""The emulator's environment reads (API-NOTES §9): paging, details, secrets, errors, switches.

Every exchange goes over HTTP and is checked against the shared OpenAPI contract by the ``api``
fixture's hook; the emulator also checks its own traffic (no violations at teardown).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from conftest import TOKEN

from reconciler.emulator import EmulatorServer, state_from_seed

V = {"LD-API-Version": "20240415"}
ENVS = "/api/v2/projects/{}/environments"


def get(api: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return api.get(path, params=params, headers=V)


def many_environments(emulator: EmulatorServer, count: int) -> list[str]:
    keys = [f"env-{i:02d}" for i in range(count)]
    emulator.state.add_project("big", keys)
    return keys


def test_the_list_pages_by_twenty_by_default_and_follows_next_links(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    keys = many_environments(emulator, 45)
    first = get(api, ENVS.format("big")).json()
    assert first["totalCount"] == 45 and len(first["items"]) == 20
    assert "prev" not in first["_links"] and "first" not in first["_links"]
    seen, page = [], first
    while True:
        seen += [e["key"] for e in page["items"]]
        if "next" not in page["_links"]:
            break
        page = api.get(page["_links"]["next"]["href"], headers=V).json()
    assert seen == keys
    assert "last" not in page["_links"] and "prev" in page["_links"]


def test_limit_and_offset_select_a_page(api: httpx.Client, emulator: EmulatorServer) -> None:
    many_environments(emulator, 7)
    page = get(api, ENVS.format("big"), limit=3, offset=5).json()
    assert [e["key"] for e in page["items"]] == ["env-05", "env-06"]
    assert page["totalCount"] == 7
    assert get(api, ENVS.format("big"), offset=50).json()["items"] == []


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": "x"}, {"offset": -1}])
def test_bad_paging_parameters_are_400(api: httpx.Client, params: dict[str, Any]) -> None:
    response = get(api, ENVS.format("payments"), **params)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"


def test_an_environment_carries_client_side_id_critical_and_secret_keys(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    emulator.state.set_environment("payments", "production", critical=True)
    env = get(api, ENVS.format("payments") + "/production").json()
    assert env["_id"] == emulator.state.client_side_id("payments", "production")
    assert env["critical"] is True and env["key"] == "production"
    assert env["apiKey"].startswith("sdk-") and env["mobileKey"].startswith("mob-")
    staging = get(api, ENVS.format("payments") + "/staging").json()
    assert staging["critical"] is False
    assert staging["apiKey"] != env["apiKey"] and staging["mobileKey"] != env["mobileKey"]
    listed = {e["key"]: e for e in get(api, ENVS.format("payments")).json()["items"]}
    assert listed["production"] == env


def test_unknown_projects_and_environments_are_404(api: httpx.Client) -> None:
    for path in (ENVS.format("nope"), ENVS.format("nope") + "/production"):
        assert get(api, path).status_code == 404
    missing = get(api, ENVS.format("payments") + "/prod")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


@pytest.mark.parametrize("version", ["beta", "20240415, beta", "20191212"])
def test_the_environment_reads_refuse_beta_and_other_versions(
    api: httpx.Client, version: str
) -> None:
    response = api.get(ENVS.format("payments"), headers={"LD-API-Version": version})
    assert response.status_code == 400
    assert "20240415" in response.json()["message"]


def test_the_environment_reads_need_a_valid_token(emulator: EmulatorServer) -> None:
    response = httpx.get(emulator.url + ENVS.format("payments"), headers=V)
    assert response.status_code == 401


def test_a_token_denied_environment_reads_gets_403_but_stores_still_work(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    assert api.patch("/__emulator/settings", json={"environmentReadDenied": True}).is_success
    for path in (ENVS.format("payments"), ENVS.format("payments") + "/production"):
        denied = get(api, path)
        assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert api.get("/api/v2/integration-capabilities/big-segment-store").status_code == 200


def test_the_side_door_changes_an_environment(api: httpx.Client, emulator: EmulatorServer) -> None:
    side = "/__emulator/environments/payments/staging"
    changed = api.patch(side, json={"critical": True, "clientSideId": "abc123", "apiKey": "sdk-x"})
    assert changed.status_code == 200
    assert changed.json()["critical"] is True
    env = get(api, ENVS.format("payments") + "/staging").json()
    assert (env["critical"], env["_id"], env["apiKey"]) == (True, "abc123", "sdk-x")
    assert api.patch(side, json={"critical": "yes"}).status_code == 400
    assert api.patch(side, json={"color": "red"}).status_code == 400
    assert api.get("/__emulator/environments/payments/nope").status_code == 404


def test_the_seed_sets_critical_and_keys_and_the_snapshot_keeps_them() -> None:
    seed = {
        "tokens": [TOKEN],
        "projects": [
            {
                "key": "payments",
                "environments": [
                    "staging",
                    {"key": "production", "critical": True, "clientSideId": "c0ffee"},
                    {"key": "qa", "apiKey": "sdk-fixed", "mobileKey": "mob-fixed"},
                ],
            }
        ],
    }
    state = state_from_seed(seed)
    assert state.environment("payments", "production").critical is True
    assert state.client_side_id("payments", "production") == "c0ffee"
    assert state.environment("payments", "qa").api_key == "sdk-fixed"
    again = state_from_seed(state.snapshot())
    for env in ("staging", "production", "qa"):
        mine, theirs = again.environment("payments", env), state.environment("payments", env)
        assert (mine.critical, mine.api_key, mine.mobile_key) == (
            theirs.critical,
            theirs.api_key,
            theirs.mobile_key,
        )
        assert again.client_side_id("payments", env) == state.client_side_id("payments", env)


@pytest.mark.parametrize(
    "environment",
    [{"key": "p", "critical": "yes"}, {"key": "p", "apiKey": ""}, {"key": "p", "color": "red"}],
)
def test_bad_seed_environments_are_named(environment: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"projects\[0\]\.environments\[0\]"):
        state_from_seed({"projects": [{"key": "x", "environments": [environment]}]})
