"""The emulator's DynamoDB data plane against moto's server: marker items written, ``_status``
honest (missing table, wrong key schema, access errors, staleness), secrets kept out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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

from reconciler.emulator import EmulatorServer, FakeClock
from reconciler.emulator.dataplane import DEFAULT_STALE_AFTER, DataPlane
from reconciler.emulator.state import derived_client_side_id

BASE = "/api/v2/integration-capabilities/big-segment-store"
EXTERNAL_ID = "ext-id-0f9e8d7c6b5a"
PREFIX = derived_client_side_id("payments", "production")


def dynamo_config(table: str = "ld-big-segments", region: str = REGION) -> dict[str, Any]:
    return {
        "tableName": table,
        "region": region,
        "roleArn": "arn:aws:iam::123456789012:role/launchdarkly",
        "externalId": EXTERNAL_ID,
    }


def serve(
    state_clock: FakeClock, endpoint: str | None, *, any_host: bool = False
) -> EmulatorServer:
    return EmulatorServer(
        small_account(state_clock),
        clock=state_clock,
        dataplane=True,
        sync_interval=None,
        dynamodb_endpoint=endpoint,
        dataplane_any_host=any_host,
    ).start()


@pytest.fixture
def emulator(clock: FakeClock, moto_clean: MotoServer) -> Iterator[EmulatorServer]:
    """The conftest emulator with the data plane writing through moto's server."""
    server = serve(clock, moto_clean.endpoint)
    try:
        yield server
        assert server.state.contract_violations == []
    finally:
        server.stop()


def plane(emulator: EmulatorServer) -> DataPlane:
    if emulator.dataplane is None:
        raise RuntimeError("the emulator has no data plane")
    return emulator.dataplane


def create(api: httpx.Client, config: dict[str, Any], *, on: bool = True) -> dict[str, Any]:
    response = api.post(
        f"{BASE}/payments/production/dynamodb", json={"name": "d", "on": on, "config": config}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def status(api: httpx.Client, store: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"{BASE}/payments/production/dynamodb/{store['_id']}")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()["_status"]
    return result


def test_an_on_store_gets_the_marker_item_the_sdks_read(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, moto_clean: MotoServer
) -> None:
    moto_clean.create_table("ld-big-segments")
    store = create(api, dynamo_config())
    now_ms = int(clock() * 1000)
    (result,) = plane(emulator).sync_now()
    assert result.ok and result.key == f"{PREFIX}:big_segments_metadata"
    assert moto_clean.marker("ld-big-segments", PREFIX) == now_ms
    assert status(api, store) == {"available": True, "potentiallyStale": False, "lastSync": now_ms}


def test_the_marker_goes_stale_after_the_sdk_default_and_recovers(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock, moto_clean: MotoServer
) -> None:
    moto_clean.create_table("ld-big-segments")
    store = create(api, dynamo_config())
    first_ms = int(clock() * 1000)
    plane(emulator).sync_now()
    clock.advance(DEFAULT_STALE_AFTER + 1)
    assert status(api, store) == {
        "available": False,
        "potentiallyStale": True,
        "lastSync": first_ms,
    }
    plane(emulator).sync_now()
    assert moto_clean.marker("ld-big-segments", PREFIX) == int(clock() * 1000)
    assert status(api, store)["available"] is True


def test_a_missing_table_is_a_sync_error_naming_it(
    api: httpx.Client, emulator: EmulatorServer, clock: FakeClock
) -> None:
    store = create(api, dynamo_config("no-such-table"))
    (result,) = plane(emulator).sync_now()
    assert not result.ok
    got = status(api, store)
    assert got["available"] is False and got["potentiallyStale"] is True
    assert got["lastError"] == int(clock() * 1000) and "lastSync" not in got
    (error,) = got["errors"]
    assert error["message"].startswith("table 'no-such-table' not found in us-east-1")
    assert "ResourceNotFoundException" in error["message"]


def test_a_table_in_another_region_is_not_found(
    api: httpx.Client, emulator: EmulatorServer, moto_clean: MotoServer
) -> None:
    moto_clean.create_table("ld-big-segments", region="eu-west-1")
    store = create(api, dynamo_config(region="us-west-2"))
    plane(emulator).sync_now()
    assert "not found in us-west-2" in status(api, store)["errors"][0]["message"]
    assert moto_clean.marker("ld-big-segments", PREFIX, region="eu-west-1") is None


@pytest.mark.parametrize(
    ("schema", "attribute_type", "found"),
    [
        ((("pk", "HASH"), ("sk", "RANGE")), "S", "partition key 'pk' (S) and sort key 'sk' (S)"),
        ((("namespace", "HASH"),), "S", "partition key 'namespace' (S)"),
        (
            (("namespace", "HASH"), ("key", "RANGE")),
            "N",
            "partition key 'namespace' (N) and sort key 'key' (N)",
        ),
    ],
)
def test_a_wrong_key_schema_is_a_sync_error_and_writes_nothing(
    api: httpx.Client,
    emulator: EmulatorServer,
    moto_clean: MotoServer,
    schema: tuple[tuple[str, str], ...],
    attribute_type: str,
    found: str,
) -> None:
    moto_clean.create_table("ld-big-segments", schema=schema, attribute_type=attribute_type)
    store = create(api, dynamo_config())
    (result,) = plane(emulator).sync_now()
    assert not result.ok
    message = status(api, store)["errors"][0]["message"]
    assert message == (
        f"table 'ld-big-segments' has the wrong key schema: {found}; LaunchDarkly needs"
        " partition key 'namespace' (S) and sort key 'key' (S)"
    )
    scan = moto_clean.client().scan(TableName="ld-big-segments")
    assert scan["Count"] == 0


def test_a_store_that_is_off_is_not_synchronised(
    api: httpx.Client, emulator: EmulatorServer, moto_clean: MotoServer
) -> None:
    moto_clean.create_table("ld-big-segments")
    store = create(api, dynamo_config(), on=False)
    assert plane(emulator).sync_now() == []
    assert moto_clean.marker("ld-big-segments", PREFIX) is None
    assert status(api, store) == {"available": False, "potentiallyStale": False}


def test_without_an_endpoint_an_on_store_never_claims_a_sync(clock: FakeClock) -> None:
    for dataplane in (True, False):
        state = small_account(clock)
        store = state.create_store(
            "payments", "production", "dynamodb", {"on": True, "config": dynamo_config()}
        )
        if dataplane:
            assert DataPlane(state, sync_interval=None).sync_now() == []
        clock.advance(1)
        assert state.status_of(store) == {"available": False, "potentiallyStale": True}


def test_the_endpoint_must_be_loopback_unless_allowed(clock: FakeClock) -> None:
    server = serve(clock, "http://dynamodb.us-east-1.amazonaws.com")
    try:
        store = server.state.create_store(
            "payments", "production", "dynamodb", {"on": True, "config": dynamo_config()}
        )
        (result,) = plane(server).sync_now()
        assert result.message == (
            "the emulator's data plane only connects to loopback hosts,"
            " not 'dynamodb.us-east-1.amazonaws.com'"
        )
        assert server.state.status_of(store)["available"] is False
    finally:
        server.stop()


class _Denying(BaseHTTPRequestHandler):
    """A DynamoDB endpoint that refuses everything, echoing a secret in its message."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.dumps(
            {
                "__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                "message": f"not authorized (external id {EXTERNAL_ID})",
            }
        ).encode()
        self.send_response(400)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_an_access_error_keeps_its_code_and_never_the_external_id(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    denying = ThreadingHTTPServer(("127.0.0.1", 0), _Denying)
    thread = threading.Thread(target=denying.serve_forever, daemon=True)
    thread.start()
    server = serve(clock, f"http://127.0.0.1:{denying.server_address[1]}")
    try:
        store = server.state.create_store(
            "payments", "production", "dynamodb", {"on": True, "config": dynamo_config()}
        )
        with caplog.at_level("DEBUG", logger="reconciler.emulator.dataplane"):
            (result,) = plane(server).sync_now()
        assert result.message == "AccessDeniedException: not authorized (external id (sensitive))"
        got = server.state.status_of(store)
        assert got["available"] is False and got["potentiallyStale"] is True
        assert EXTERNAL_ID not in json.dumps(got)
        assert EXTERNAL_ID not in caplog.text and "AccessDeniedException" in caplog.text
    finally:
        server.stop()
        denying.shutdown()
        denying.server_close()
        thread.join(timeout=5)


def test_an_unreachable_endpoint_is_a_connection_error(clock: FakeClock) -> None:
    from redis_support import free_port

    server = serve(clock, f"http://127.0.0.1:{free_port()}")
    try:
        store = server.state.create_store(
            "payments", "production", "dynamodb", {"on": True, "config": dynamo_config()}
        )
        (result,) = plane(server).sync_now()
        assert not result.ok and result.message is not None
        assert "Could not connect to the endpoint URL" in result.message
        assert server.state.status_of(store)["errors"][0]["message"] == result.message
    finally:
        server.stop()


def test_the_background_thread_syncs_dynamodb_stores_too(
    clock: FakeClock, moto_clean: MotoServer
) -> None:
    moto_clean.create_table("ld-big-segments")
    state = small_account(clock)
    state.create_store(
        "payments", "production", "dynamodb", {"on": True, "config": dynamo_config()}
    )
    with EmulatorServer(
        state,
        clock=clock,
        dataplane=True,
        sync_interval=3600,
        dynamodb_endpoint=moto_clean.endpoint,
    ):
        deadline = time.monotonic() + 10
        while moto_clean.marker("ld-big-segments", PREFIX) is None:
            assert time.monotonic() < deadline, "the data plane thread never synchronised"
            time.sleep(0.02)  # waiting for the thread's first round, not timing a behaviour
    assert moto_clean.marker("ld-big-segments", PREFIX) == int(clock() * 1000)


def test_many_stores_in_many_tables_sync_concurrently(
    clock: FakeClock, moto_clean: MotoServer
) -> None:
    state = small_account(clock)
    envs = [("payments", "production"), ("payments", "staging"), ("search", "production")]
    stores = []
    for n in range(24):
        project, env = envs[n % 3]
        table = f"t{n}"
        if n % 4:
            moto_clean.create_table(table)
        stores.append(
            state.create_store(
                project, env, "dynamodb", {"on": True, "config": dynamo_config(table)}
            )
        )
    results = DataPlane(state, sync_interval=None, dynamodb_endpoint=moto_clean.endpoint).sync_now()
    by_id = {r.store_id: r for r in results}
    for n, store in enumerate(stores):
        assert by_id[store.id].ok is bool(n % 4), by_id[store.id]
        if n % 4:
            prefix = state.client_side_id(store.project, store.environment)
            assert moto_clean.marker(f"t{n}", prefix) == int(clock() * 1000)
