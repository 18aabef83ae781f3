"""LaunchDarkly's server-side SDK agrees with the emulator's ``_status`` about what the data plane
wrote: fresh, old and missing markers, a wrong Redis password, a missing DynamoDB table.

The emulator's clock starts at the real time (the SDK judges markers by the wall clock); old
markers are written by moving the emulator's clock back before a sync. The ages straddle the
SDK's default ``stale_after`` (120 s) by 10 s each way, so these tests fail if the emulator's
marker key, its value format or its staleness default drift from the SDK's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from conftest import small_account
from moto_support import (  # noqa: F401  (fixtures)
    REGION,
    MotoServer,
    moto_clean_fixture,
    moto_server_fixture,
)
from redis_support import (  # noqa: F401  (fixtures)
    LOOPBACK,
    ROOT_PASSWORD,
    RedisServer,
    redis_clean_fixture,
    redis_server_fixture,
)
from sdk_oracle import FRESH_AGE, OLD_AGE, TABLE, SdkStatus, same_verdict, sdk_status

from reconciler.emulator import EmulatorServer, FakeClock
from reconciler.emulator.dataplane import DataPlane
from reconciler.emulator.records import Store

pytestmark = pytest.mark.sdk_oracle

BASE = "/api/v2/integration-capabilities/big-segment-store"


@pytest.fixture
def real_clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def emulator(real_clock: FakeClock, moto_server: MotoServer) -> Iterator[EmulatorServer]:
    server = EmulatorServer(
        small_account(real_clock),
        clock=real_clock,
        dataplane=True,
        sync_interval=None,
        dynamodb_endpoint=moto_server.endpoint,
    ).start()
    try:
        yield server
    finally:
        server.stop()


def plane(emulator: EmulatorServer) -> DataPlane:
    if emulator.dataplane is None:
        raise RuntimeError("the emulator has no data plane")
    return emulator.dataplane


def redis_conn(redis: RedisServer, password: str = ROOT_PASSWORD) -> dict[str, Any]:
    return {"host": LOOPBACK, "port": str(redis.port), "password": password}


def dynamo_conn(moto: MotoServer, table: str = TABLE) -> dict[str, Any]:
    return {
        "tableName": table,
        "region": REGION,
        "roleArn": "arn:aws:iam::123456789012:role/launchdarkly",
        "externalId": "oracle-external-id",
        "endpoint": moto.endpoint,
    }


def add_store(emulator: EmulatorServer, kind: str, conn: dict[str, Any]) -> Store:
    config = {k: v for k, v in conn.items() if k != "endpoint"}
    return emulator.state.create_store(
        "payments", "production", kind, {"on": True, "config": config}
    )


def sync_aged(emulator: EmulatorServer, clock: FakeClock, age: float) -> None:
    """Sync with the emulator's clock ``age`` seconds in the past, then bring it back to now."""
    clock.now = time.time() - age
    plane(emulator).sync_now()
    clock.now = time.time()


def verdicts(
    api: httpx.Client, emulator: EmulatorServer, store: Store, conn: dict[str, Any]
) -> tuple[dict[str, Any], SdkStatus]:
    """The ``_status`` the emulator's API answers, and the SDK's verdict through ``conn``."""
    kind = store.integration_key
    response = api.get(f"{BASE}/{store.project}/{store.environment}/{kind}/{store.id}")
    assert response.status_code == 200, response.text
    prefix = emulator.state.client_side_id(store.project, store.environment)
    return response.json()["_status"], sdk_status(kind, conn, prefix)


@pytest.mark.parametrize(("age", "healthy"), [(FRESH_AGE, True), (OLD_AGE, False)])
def test_the_sdk_agrees_on_a_redis_marker_by_its_age(
    api: httpx.Client,
    emulator: EmulatorServer,
    real_clock: FakeClock,
    redis_clean: RedisServer,
    age: float,
    healthy: bool,
) -> None:
    conn = redis_conn(redis_clean)
    store = add_store(emulator, "redis", conn)
    sync_aged(emulator, real_clock, age)
    status, sdk = verdicts(api, emulator, store, conn)
    assert sdk == SdkStatus(available=True, stale=not healthy)
    assert status["available"] is healthy
    assert same_verdict(status, sdk), (status, sdk)


def test_the_sdk_agrees_that_a_missing_redis_marker_is_stale(
    api: httpx.Client, emulator: EmulatorServer, redis_clean: RedisServer
) -> None:
    conn = redis_conn(redis_clean)
    store = add_store(emulator, "redis", conn)  # never synchronised
    status, sdk = verdicts(api, emulator, store, conn)
    assert sdk == SdkStatus(available=True, stale=True)
    assert same_verdict(status, sdk), (status, sdk)


def test_the_sdk_agrees_about_a_redis_store_declared_with_a_wrong_password(
    api: httpx.Client, emulator: EmulatorServer, redis_clean: RedisServer
) -> None:
    wrong = redis_conn(redis_clean, password="not-the-password")
    store = add_store(emulator, "redis", wrong)
    plane(emulator).sync_now()
    status, through_wrong = verdicts(api, emulator, store, wrong)
    assert status["available"] is False and "WRONGPASS" in status["errors"][0]["message"]
    assert through_wrong.available is False  # neither can use the declared credentials
    # The application, with the right password, finds what LaunchDarkly could not write.
    _, app_view = verdicts(api, emulator, store, redis_conn(redis_clean))
    assert app_view == SdkStatus(available=True, stale=True)
    assert same_verdict(status, app_view), (status, app_view)


@pytest.mark.parametrize(("age", "healthy"), [(FRESH_AGE, True), (OLD_AGE, False)])
def test_the_sdk_agrees_on_a_dynamodb_marker_by_its_age(
    api: httpx.Client,
    emulator: EmulatorServer,
    real_clock: FakeClock,
    moto_clean: MotoServer,
    age: float,
    healthy: bool,
) -> None:
    moto_clean.create_table(TABLE)
    conn = dynamo_conn(moto_clean)
    store = add_store(emulator, "dynamodb", conn)
    sync_aged(emulator, real_clock, age)
    status, sdk = verdicts(api, emulator, store, conn)
    assert sdk == SdkStatus(available=True, stale=not healthy)
    assert status["available"] is healthy
    assert same_verdict(status, sdk), (status, sdk)


def test_the_sdk_agrees_that_a_missing_dynamodb_marker_is_stale(
    api: httpx.Client, emulator: EmulatorServer, moto_clean: MotoServer
) -> None:
    moto_clean.create_table(TABLE)
    conn = dynamo_conn(moto_clean)
    store = add_store(emulator, "dynamodb", conn)  # never synchronised
    status, sdk = verdicts(api, emulator, store, conn)
    assert sdk == SdkStatus(available=True, stale=True)
    assert same_verdict(status, sdk), (status, sdk)


def test_the_sdk_agrees_that_a_missing_dynamodb_table_is_unavailable(
    api: httpx.Client, emulator: EmulatorServer, moto_clean: MotoServer
) -> None:
    conn = dynamo_conn(moto_clean, table="no-such-table")
    store = add_store(emulator, "dynamodb", conn)
    plane(emulator).sync_now()
    status, sdk = verdicts(api, emulator, store, conn)
    assert status["available"] is False and "not found" in status["errors"][0]["message"]
    assert sdk.available is False
