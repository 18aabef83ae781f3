"""The emulator's data plane against a real redis-server: markers written, ``_status`` honest."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import small_account
from redis_support import (  # noqa: F401  (fixtures)
    ACL_PASSWORD,
    ACL_USER,
    LOOPBACK,
    ROOT_PASSWORD,
    RedisServer,
    free_port,
    redis_clean_fixture,
    redis_server_fixture,
)

from reconciler.emulator import EmulatorServer, FakeClock, state_from_seed
from reconciler.emulator.dataplane import DEFAULT_STALE_AFTER, DataPlane
from reconciler.emulator.state import derived_client_side_id

BASE = "/api/v2/integration-capabilities/big-segment-store"


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[EmulatorServer]:
    """The conftest emulator, with the data plane on and no background thread."""
    server = EmulatorServer(
        small_account(clock), clock=clock, dataplane=True, sync_interval=None
    ).start()
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def plane(emulator: EmulatorServer) -> DataPlane:
    assert emulator.dataplane is not None
    return emulator.dataplane


def redis_config(server: RedisServer | None, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "host": LOOPBACK,
        "port": str(server.port if server else free_port()),
        "password": ROOT_PASSWORD,
    }
    config.update(overrides)
    return config


def create(
    api: httpx.Client, config: dict[str, Any], *, on: bool = True, env: str = "production"
) -> dict[str, Any]:
    response = api.post(
        f"{BASE}/payments/{env}/redis", json={"name": "r", "on": on, "config": config}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def status(api: httpx.Client, store: dict[str, Any], env: str = "production") -> dict[str, Any]:
    response = api.get(f"{BASE}/payments/{env}/redis/{store['_id']}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()["_status"]
    return result


def marker(server: RedisServer, env: str = "production") -> bytes | None:
    key = f"{derived_client_side_id('payments', env)}:big_segments_synchronized_on"
    value = server.admin().get(key)
    assert value is None or isinstance(value, bytes)
    return value


def test_a_good_password_writes_the_marker_and_reports_available(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean))
    now_ms = int(clock() * 1000)
    (result,) = plane(emulator).sync_now()
    assert result.ok and result.message is None
    assert status(api, store) == {"available": True, "potentiallyStale": False, "lastSync": now_ms}
    assert marker(redis_clean) == str(now_ms).encode()
    client_side_id = emulator.state.client_side_id("payments", "production")
    assert client_side_id == derived_client_side_id("payments", "production")
    assert len(client_side_id) == 24 and int(client_side_id, 16) >= 0
    assert result.key == f"{client_side_id}:big_segments_synchronized_on"


def test_a_wrong_password_is_reported_with_the_redis_error(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean, password="not-the-password"))
    now_ms = int(clock() * 1000)
    plane(emulator).sync_now()
    got = status(api, store)
    assert got["available"] is False
    assert got["potentiallyStale"] is True
    assert got["lastError"] == now_ms and "lastSync" not in got
    (error,) = got["errors"]
    assert error["message"].startswith("WRONGPASS invalid username-password pair")
    assert error["timestamp"] == now_ms
    assert marker(redis_clean) is None
    full = api.get(f"{BASE}/payments/production/redis/{store['_id']}").text
    assert "not-the-password" not in full


def test_no_password_against_requirepass_is_noauth(
    api: httpx.Client, emulator: EmulatorServer, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean, password=""))
    plane(emulator).sync_now()
    got = status(api, store)
    assert got["available"] is False
    assert got["errors"][0]["message"].startswith("NOAUTH")


def test_an_acl_user_authenticates_with_its_username(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, redis_clean: RedisServer
) -> None:
    good = create(api, redis_config(redis_clean, username=ACL_USER, password=ACL_PASSWORD))
    bad = create(
        api, redis_config(redis_clean, username=ACL_USER, password=ROOT_PASSWORD), env="staging"
    )
    results = {r.store_id: r for r in plane(emulator).sync_now()}
    assert results[good["_id"]].ok
    assert not results[bad["_id"]].ok
    assert status(api, good)["available"] is True
    assert status(api, bad, "staging")["errors"][0]["message"].startswith("WRONGPASS")
    assert marker(redis_clean) == str(int(clock() * 1000)).encode()
    assert marker(redis_clean, "staging") is None


def test_an_unreachable_port_is_a_connection_error(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api, redis_config(None))
    (result,) = plane(emulator).sync_now()
    assert not result.ok
    got = status(api, store)
    assert got["available"] is False
    assert "Connection refused" in got["errors"][0]["message"]


def test_a_store_that_is_off_is_not_synchronised(
    api: httpx.Client, emulator: EmulatorServer, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean), on=False)
    assert plane(emulator).sync_now() == []
    assert marker(redis_clean) is None
    assert redis_clean.admin().dbsize() == 0
    assert status(api, store) == {"available": False, "potentiallyStale": False}


def test_status_goes_stale_when_syncs_stop_and_recovers(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean))
    first_ms = int(clock() * 1000)
    plane(emulator).sync_now()
    clock.advance(DEFAULT_STALE_AFTER - 1)
    assert status(api, store)["available"] is True
    clock.advance(2)
    assert status(api, store) == {
        "available": False,
        "potentiallyStale": True,
        "lastSync": first_ms,
    }
    plane(emulator).sync_now()
    now_ms = int(clock() * 1000)
    assert status(api, store) == {"available": True, "potentiallyStale": False, "lastSync": now_ms}
    assert marker(redis_clean) == str(now_ms).encode()


def test_fixing_the_password_recovers_and_keeps_the_repeated_error_once(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, redis_clean: RedisServer
) -> None:
    store = create(api, redis_config(redis_clean, password="wrong-one"))
    for _ in range(7):
        plane(emulator).sync_now()
        clock.advance(1)
    patch = [
        {"op": "test", "path": "/version", "value": store["version"]},
        {"op": "replace", "path": "/config", "value": redis_config(redis_clean)},
    ]
    path = f"{BASE}/payments/production/redis/{store['_id']}"
    assert api.patch(path, json=patch).status_code == 200
    plane(emulator).sync_now()
    got = status(api, store)
    assert got["available"] is True and got["potentiallyStale"] is False
    assert got["lastSync"] == int(clock() * 1000) > got["lastError"]
    # Seven failed syncs with the same error: shown once, at its latest occurrence.
    assert len(got["errors"]) == 1
    assert got["errors"][0]["timestamp"] == got["lastError"]


def test_the_seed_can_fix_the_client_side_id(clock: FakeClock, redis_clean: RedisServer) -> None:
    seed = {
        "projects": [
            {
                "key": "shop",
                "environments": [
                    "dev",
                    {"key": "prod", "clientSideId": "abcdefabcdefabcdefabcdef"},
                ],
            }
        ],
        "stores": [
            {
                "project": "shop",
                "environment": "prod",
                "integrationKey": "redis",
                "on": True,
                "config": redis_config(redis_clean),
            },
            {
                "project": "shop",
                "environment": "prod",
                "integrationKey": "dynamodb",
                "on": True,
                "config": {
                    "tableName": "t",
                    "region": "us-east-1",
                    "roleArn": "arn:aws:iam::123456789012:role/ld",
                    "externalId": "x",
                },
            },
        ],
    }
    state = state_from_seed(seed, clock=clock)
    assert state.client_side_ids() == {
        ("shop", "dev"): derived_client_side_id("shop", "dev"),
        ("shop", "prod"): "abcdefabcdefabcdefabcdef",
    }
    assert state_from_seed(json.loads(json.dumps(state.snapshot()))).client_side_ids() == (
        state.client_side_ids()
    )
    dataplane = DataPlane(state, sync_interval=None)
    (result,) = dataplane.sync_now()  # no DynamoDB endpoint: the DynamoDB store is not synced
    assert result.key == "abcdefabcdefabcdefabcdef:big_segments_synchronized_on"
    assert redis_clean.admin().get(result.key) == str(int(clock() * 1000)).encode()
    dynamo = next(s for s in state.stores() if s.integration_key == "dynamodb")
    assert state.status_of(dynamo) == {"available": False, "potentiallyStale": True}


def test_the_background_thread_syncs_on_start(clock: FakeClock, redis_clean: RedisServer) -> None:
    state = small_account(clock)
    state.create_store(
        "payments", "production", "redis", {"on": True, "config": redis_config(redis_clean)}
    )
    with EmulatorServer(state, clock=clock, dataplane=True, sync_interval=3600) as server:
        deadline = time.monotonic() + 10
        while not plane(server).records() and time.monotonic() < deadline:
            time.sleep(0.01)  # waiting for the thread's first round, not timing a behaviour
        assert plane(server).records(), "the data plane thread never synchronised"
    assert marker(redis_clean) == str(int(clock() * 1000)).encode()


def test_the_data_plane_never_leaves_loopback_by_default(
    api: httpx.Client, emulator: EmulatorServer
) -> None:
    store = create(api, redis_config(None, host="redis.payments.internal"))
    (result,) = plane(emulator).sync_now()
    assert not result.ok
    message = status(api, store)["errors"][0]["message"]
    assert "only connects to loopback hosts" in message


def test_the_data_plane_imports_nothing_from_the_product() -> None:
    import ast
    from pathlib import Path

    import reconciler.emulator

    package = Path(reconciler.emulator.__file__).parent
    modules = sorted(package.glob("dataplane*.py"))
    assert len(modules) >= 3
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for name in names:
                assert not name.startswith("reconciler.") or name.startswith(
                    "reconciler.emulator"
                ), f"{module.name} imports {name}"
