"""``verify.verifier`` against a real redis-server and moto's DynamoDB server (127.0.0.1)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
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

from reconciler.emulator import EmulatorState, FakeClock
from reconciler.emulator.dataplane import DataPlane
from reconciler.model import DesiredStore, Location, Secret
from reconciler.verify.verifier import StoreReport, redis_marker_key, verify_all, verify_store

NOW = 1_700_000_000.0
PREFIX = "0123456789abcdef01234567"
EXTERNAL_ID = "5b9e6f0a-9a53-4d0c-8d55-3c8b0a6c1e21"


def clock() -> float:
    return NOW


def redis_store(
    port: int,
    *,
    password: str = ROOT_PASSWORD,
    username: str | None = None,
    on: bool = True,
    environment: str = "production",
    name: str = "Payments",
) -> DesiredStore:
    config: dict[str, Any] = {
        "host": LOOPBACK,
        "port": str(port),
        "password": Secret(password, "env:REDIS_PASSWORD"),
    }
    if username is not None:
        config["username"] = username
    return DesiredStore(
        project="payments",
        environment=environment,
        integration_key="redis",
        name=name,
        on=on,
        tags=(),
        config=config,
        location=Location("stores.yaml", 1, 1),
    )


def kinds(report: StoreReport) -> dict[str, bool]:
    return {c.kind: c.ok for c in report.checks}


def messages(report: StoreReport) -> str:
    return "\n".join(c.message for c in report.checks)


def write_marker(server: RedisServer, prefix: str, age_seconds: float) -> None:
    server.admin().set(redis_marker_key(prefix), str(int((NOW - age_seconds) * 1000)))


# -- Redis ----------------------------------------------------------------------------------


def test_a_fresh_marker_is_healthy(redis_clean: RedisServer) -> None:
    write_marker(redis_clean, PREFIX, 42)
    report = verify_store(redis_store(redis_clean.port), client_side_id=PREFIX, now=clock)
    assert report.healthy, messages(report)
    assert kinds(report) == {"reachable": True, "auth": True, "marker": True}
    assert report.marker_age_seconds == pytest.approx(42)
    assert report.address == "payments/production/redis"
    assert "42 s old" in messages(report)


def test_an_acl_user_is_checked_with_its_username(redis_clean: RedisServer) -> None:
    write_marker(redis_clean, PREFIX, 1)
    store = redis_store(redis_clean.port, username=ACL_USER, password=ACL_PASSWORD)
    report = verify_store(store, client_side_id=PREFIX, now=clock)
    assert report.healthy, messages(report)
    assert f"user {ACL_USER!r}" in messages(report)


def test_a_wrong_password_fails_authentication_without_showing_it(
    redis_clean: RedisServer,
) -> None:
    report = verify_store(
        redis_store(redis_clean.port, password="definitely-wrong"), client_side_id=PREFIX, now=clock
    )
    assert not report.healthy
    assert kinds(report) == {"reachable": True, "auth": False}
    assert "WRONGPASS" in messages(report)
    assert "definitely-wrong" not in repr(report)
    assert ROOT_PASSWORD not in repr(report)


def test_a_missing_password_is_noauth(redis_clean: RedisServer) -> None:
    report = verify_store(redis_store(redis_clean.port, password=""), client_side_id=PREFIX)
    assert kinds(report) == {"reachable": True, "auth": False}
    assert "NOAUTH" in messages(report)


def test_an_unreachable_port_is_reported() -> None:
    report = verify_store(redis_store(free_port()), client_side_id=PREFIX, timeout=2)
    assert not report.healthy
    assert kinds(report) == {"reachable": False}
    assert "Connection refused" in messages(report)
    assert report.marker_age_seconds is None


def test_a_stale_marker_fails(redis_clean: RedisServer) -> None:
    write_marker(redis_clean, PREFIX, 3600)
    report = verify_store(
        redis_store(redis_clean.port), client_side_id=PREFIX, now=clock, max_marker_age=300
    )
    assert not report.healthy
    assert kinds(report) == {"reachable": True, "auth": True, "marker": False}
    assert report.marker_age_seconds == pytest.approx(3600)
    assert "stale" in messages(report)


def test_a_missing_marker_fails(redis_clean: RedisServer) -> None:
    write_marker(redis_clean, "another-environment", 1)  # not ours
    report = verify_store(redis_store(redis_clean.port), client_side_id=PREFIX, now=clock)
    assert kinds(report)["marker"] is False
    assert "never synchronised" in messages(report)


def test_without_a_prefix_the_markers_are_scanned(redis_clean: RedisServer) -> None:
    store = redis_store(redis_clean.port)
    empty = verify_store(store, client_side_id=None, now=clock)
    assert kinds(empty)["marker"] is False
    assert "no marker found: LaunchDarkly has never synchronised" in messages(empty)
    for i in range(50):
        redis_clean.admin().set(f"noise:{i}", "x")
    write_marker(redis_clean, "aaaaaaaaaaaaaaaaaaaaaaaa", 10)
    write_marker(redis_clean, "bbbbbbbbbbbbbbbbbbbbbbbb", 5000)
    report = verify_store(store, client_side_id=None, now=clock)
    markers = [c for c in report.checks if c.kind == "marker"]
    assert [c.ok for c in markers] == [True, False]
    assert "'aaaaaaaaaaaaaaaaaaaaaaaa'" in markers[0].message
    assert report.marker_age_seconds == pytest.approx(10)


def test_a_store_that_is_off_skips_the_marker(redis_clean: RedisServer) -> None:
    report = verify_store(redis_store(redis_clean.port, on=False), client_side_id=PREFIX)
    assert report.healthy
    assert "skipped" in next(c for c in report.checks if c.kind == "marker").message


def test_verify_all_sorts_names_duplicates_and_uses_client_side_ids(
    redis_clean: RedisServer,
) -> None:
    write_marker(redis_clean, PREFIX, 1)
    stores = [
        redis_store(redis_clean.port, environment="staging", name="B"),
        redis_store(redis_clean.port, environment="staging", name="A", password="wrong-pass"),
        redis_store(redis_clean.port),
    ]
    reports = verify_all(
        stores, client_side_ids={("payments", "production"): PREFIX}, now=clock, parallelism=3
    )
    assert [(r.address, r.healthy) for r in reports] == [
        ("payments/production/redis", True),
        ("payments/staging/redis/A", False),
        ("payments/staging/redis/B", True),  # no ID for staging: the scan finds a marker
    ]
    assert f"prefix {PREFIX!r}" in messages(reports[2])
    assert "WRONGPASS" in messages(reports[1])
    assert verify_all([], client_side_ids=None) == []


def test_what_the_emulator_data_plane_writes_verifies(redis_clean: RedisServer) -> None:
    fake = FakeClock(NOW)
    state = EmulatorState(projects={"payments": ["production"]}, clock=fake)
    config = {"host": LOOPBACK, "port": str(redis_clean.port), "password": ROOT_PASSWORD}
    state.create_store("payments", "production", "redis", {"on": True, "config": config})
    (result,) = DataPlane(state, sync_interval=None).sync_now()
    assert result.ok
    fake.advance(30)
    (report,) = verify_all(
        [redis_store(redis_clean.port)], client_side_ids=state.client_side_ids(), now=fake
    )
    assert report.healthy, messages(report)
    assert report.marker_age_seconds == pytest.approx(30)


# -- DynamoDB (moto server) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str, tmp_path: Any) -> Any:
    """A boto3 DynamoDB client for the moto server, with dummy credentials in the env."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    client = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint
    )
    for name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    return client


def create_table(client: Any, name: str, keys: list[tuple[str, str, str]]) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": n, "KeyType": k} for n, _, k in keys],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t, _ in keys],
        BillingMode="PAY_PER_REQUEST",
    )


LD_KEYS = [("namespace", "S", "HASH"), ("key", "S", "RANGE")]


def dynamo_store(table: str, *, on: bool = True) -> DesiredStore:
    return DesiredStore(
        project="payments",
        environment="production",
        integration_key="dynamodb",
        name="Payments",
        on=on,
        tags=(),
        config={
            "tableName": table,
            "region": "us-east-1",
            "roleArn": "arn:aws:iam::123456789012:role/launchdarkly",
            "externalId": Secret(EXTERNAL_ID, "env:LD_EXTERNAL_ID"),
        },
        location=Location("stores.yaml", 1, 1),
    )


def put_metadata(client: Any, table: str, age_seconds: float) -> None:
    key = f"{PREFIX}:big_segments_metadata"
    client.put_item(
        TableName=table,
        Item={
            "namespace": {"S": key},
            "key": {"S": key},
            "synchronizedOn": {"N": str(int((NOW - age_seconds) * 1000))},
        },
    )


def test_a_correct_table_with_a_fresh_marker_passes(aws: Any, moto_endpoint: str) -> None:
    create_table(aws, "ld-big-segments", LD_KEYS)
    put_metadata(aws, "ld-big-segments", 20)
    report = verify_store(
        dynamo_store("ld-big-segments"),
        client_side_id=PREFIX,
        now=clock,
        dynamodb_endpoint=moto_endpoint,
    )
    assert report.healthy, messages(report)
    assert kinds(report) == {"table": True, "schema": True, "marker": True}
    assert report.marker_age_seconds == pytest.approx(20)
    assert EXTERNAL_ID not in repr(report)
    unknown = verify_store(
        dynamo_store("ld-big-segments"), client_side_id=None, dynamodb_endpoint=moto_endpoint
    )
    assert unknown.healthy and "skipped" in messages(unknown)


def test_a_stale_or_missing_dynamodb_marker_fails(aws: Any, moto_endpoint: str) -> None:
    create_table(aws, "ld-big-segments", LD_KEYS)
    missing = verify_store(
        dynamo_store("ld-big-segments"),
        client_side_id=PREFIX,
        now=clock,
        dynamodb_endpoint=moto_endpoint,
    )
    assert kinds(missing)["marker"] is False and "never synchronised" in messages(missing)
    put_metadata(aws, "ld-big-segments", 900)
    stale = verify_store(
        dynamo_store("ld-big-segments"),
        client_side_id=PREFIX,
        now=clock,
        dynamodb_endpoint=moto_endpoint,
    )
    assert kinds(stale)["marker"] is False and "stale" in messages(stale)


def test_a_wrong_key_schema_fails(aws: Any, moto_endpoint: str) -> None:
    create_table(aws, "wrong-keys", [("id", "S", "HASH")])
    create_table(aws, "wrong-types", [("namespace", "S", "HASH"), ("key", "N", "RANGE")])
    for table, found in (
        ("wrong-keys", "partition key 'id' (S) and no sort key"),
        ("wrong-types", "sort key 'key' (N)"),
    ):
        report = verify_store(
            dynamo_store(table), client_side_id=PREFIX, dynamodb_endpoint=moto_endpoint
        )
        assert not report.healthy
        assert kinds(report) == {"table": True, "schema": False}
        assert found in messages(report)
        assert "LaunchDarkly needs partition key 'namespace' (S)" in messages(report)


def test_a_missing_table_fails(aws: Any, moto_endpoint: str) -> None:
    report = verify_store(
        dynamo_store("no-such-table"), client_side_id=PREFIX, dynamodb_endpoint=moto_endpoint
    )
    assert not report.healthy
    assert kinds(report) == {"table": False}
    assert "'no-such-table' in us-east-1 does not exist" in messages(report)
