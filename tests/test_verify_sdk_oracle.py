"""``reconciler verify`` agrees with LaunchDarkly's server-side SDK and with the emulator's
``_status``: fresh, old (> 120 s) and missing markers, a wrong Redis password, a missing
DynamoDB table.

The emulator's data plane writes the markers into a real redis-server and moto's DynamoDB
server; the emulator's clock starts at the real time (the SDK judges markers by the wall clock)
and is moved back for an old sync. ``verify`` runs as a user runs it: the real CLI, the declared
credentials, no ``--client-side-id`` (it reads the environment's ``_id`` from the emulator's
environment reads) and the default staleness. Each side's answer becomes one verdict —
``healthy``, ``stale`` (readable, marker missing or too old) or ``unavailable`` — and the three
must be equal. The ages straddle the SDK's ``stale_after`` (120 s) by 10 s, so these tests fail
if verify's marker key, its staleness default or the environment's ``_id`` field drift from
what LaunchDarkly's SDK and API use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cli_helpers import cli, write
from conftest import TOKEN, small_account
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
from sdk_oracle import FRESH_AGE, OLD_AGE, TABLE, SdkStatus, sdk_status

from reconciler.emulator import EmulatorServer, FakeClock
from reconciler.emulator.records import Store

pytestmark = pytest.mark.sdk_oracle

EXTERNAL_ID = "oracle-external-id-5b9e6f0a"
WRONG_PASSWORD = "not-the-password-7c1d"

REDIS_MANIFEST = """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments
    on: true
    config:
      host: {host}
      port: {port}
      password: ${{ORACLE_REDIS_PASSWORD}}
"""
DYNAMODB_MANIFEST = """\
project: payments
stores:
  - environment: production
    integrationKey: dynamodb
    name: Payments
    on: true
    config:
      tableName: {table}
      region: {region}
      roleArn: arn:aws:iam::123456789012:role/launchdarkly
      externalId: ${{ORACLE_EXTERNAL_ID}}
"""


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
        assert server.state.contract_violations == []
    finally:
        server.stop()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy AWS credentials for verify's own boto3 chain (moto accepts any)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "oracle")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "oracle")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


def add_store(emulator: EmulatorServer, kind: str, config: dict[str, Any]) -> Store:
    return emulator.state.create_store(
        "payments", "production", kind, {"on": True, "config": config}
    )


def sync(emulator: EmulatorServer, clock: FakeClock, age: float = 0.0) -> None:
    """One data-plane sync with the emulator's clock ``age`` seconds in the past."""
    if emulator.dataplane is None:
        raise RuntimeError("the emulator has no data plane")
    clock.now = time.time() - age
    emulator.dataplane.sync_now()
    clock.now = time.time()


def status_verdict(emulator: EmulatorServer, store: Store) -> str:
    """The emulator's ``_status``, read through its API, as one verdict."""
    kind = store.integration_key
    url = f"{emulator.url}/api/v2/integration-capabilities/big-segment-store"
    response = httpx.get(
        f"{url}/payments/production/{kind}/{store.id}",
        headers={"Authorization": TOKEN, "LD-API-Version": "beta"},
    )
    assert response.status_code == 200, response.text
    status = response.json()["_status"]
    if status.get("available") is True:
        return "healthy"
    return "unavailable" if status.get("errors") or status.get("lastError") else "stale"


def sdk_verdict(sdk: SdkStatus) -> str:
    if not sdk.available:
        return "unavailable"
    return "stale" if sdk.stale else "healthy"


def verify_verdict(
    emulator: EmulatorServer, manifest: str, tmp: Path, *extra: str, password: str = ROOT_PASSWORD
) -> str:
    """``reconciler verify`` (JSON, defaults, no client-side ID given) as one verdict."""
    path = write(tmp, manifest, "oracle.yaml")
    env = {"ORACLE_REDIS_PASSWORD": password, "ORACLE_EXTERNAL_ID": EXTERNAL_ID}
    result = cli(emulator, "verify", path, "--format", "json", "--timeout", "2", *extra, **env)
    assert result.code in (0, 2), result.all
    assert "warning" not in result.err  # the client-side ID came from the environment read
    details = emulator.state.environment("payments", "production")
    assert details.api_key not in result.all and details.mobile_key not in result.all
    assert password not in result.all and EXTERNAL_ID not in result.all
    (report,) = json.loads(result.out)
    failed = {c["kind"] for c in report["checks"] if not c["ok"]}
    assert not any("skipped" in c["message"] for c in report["checks"])
    if report["healthy"]:
        return "healthy"
    return "stale" if failed == {"marker"} else "unavailable"


def redis_config(redis: RedisServer, password: str = ROOT_PASSWORD) -> dict[str, Any]:
    return {"host": LOOPBACK, "port": str(redis.port), "password": password}


def prefix(emulator: EmulatorServer) -> str:
    return emulator.state.client_side_id("payments", "production")


def redis_verdicts(
    emulator: EmulatorServer,
    redis: RedisServer,
    store: Store,
    tmp: Path,
    password: str = ROOT_PASSWORD,
) -> tuple[str, str, str]:
    """verify's, the SDK's and ``_status``'s verdicts, all with the declared password."""
    manifest = REDIS_MANIFEST.format(host=LOOPBACK, port=redis.port)
    return (
        verify_verdict(emulator, manifest, tmp, password=password),
        sdk_verdict(sdk_status("redis", redis_config(redis, password), prefix(emulator))),
        status_verdict(emulator, store),
    )


@pytest.mark.parametrize(("age", "expected"), [(FRESH_AGE, "healthy"), (OLD_AGE, "stale")])
def test_verify_the_sdk_and_the_api_agree_on_a_redis_marker_by_its_age(
    emulator: EmulatorServer,
    real_clock: FakeClock,
    redis_clean: RedisServer,
    tmp_path: Path,
    age: float,
    expected: str,
) -> None:
    store = add_store(emulator, "redis", redis_config(redis_clean))
    sync(emulator, real_clock, age)
    assert redis_verdicts(emulator, redis_clean, store, tmp_path) == (expected,) * 3


def test_verify_the_sdk_and_the_api_agree_that_a_missing_redis_marker_is_stale(
    emulator: EmulatorServer, redis_clean: RedisServer, tmp_path: Path
) -> None:
    redis_clean.admin().set("some-other-environment:big_segments_synchronized_on", "1")
    store = add_store(emulator, "redis", redis_config(redis_clean))  # never synchronised
    assert redis_verdicts(emulator, redis_clean, store, tmp_path) == ("stale",) * 3


def test_verify_the_sdk_and_the_api_agree_about_a_wrong_redis_password(
    emulator: EmulatorServer, real_clock: FakeClock, redis_clean: RedisServer, tmp_path: Path
) -> None:
    store = add_store(emulator, "redis", redis_config(redis_clean, WRONG_PASSWORD))
    sync(emulator, real_clock)
    verdicts = redis_verdicts(emulator, redis_clean, store, tmp_path, WRONG_PASSWORD)
    assert verdicts == ("unavailable",) * 3


def dynamodb_config(table: str = TABLE) -> dict[str, Any]:
    return {
        "tableName": table,
        "region": REGION,
        "roleArn": "arn:aws:iam::123456789012:role/launchdarkly",
        "externalId": EXTERNAL_ID,
    }


def dynamodb_verdicts(
    emulator: EmulatorServer, moto: MotoServer, store: Store, tmp: Path, table: str = TABLE
) -> tuple[str, str, str]:
    manifest = DYNAMODB_MANIFEST.format(table=table, region=REGION)
    conn = {**dynamodb_config(table), "endpoint": moto.endpoint}
    return (
        verify_verdict(emulator, manifest, tmp, "--dynamodb-endpoint", moto.endpoint),
        sdk_verdict(sdk_status("dynamodb", conn, prefix(emulator))),
        status_verdict(emulator, store),
    )


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(("age", "expected"), [(FRESH_AGE, "healthy"), (OLD_AGE, "stale")])
def test_verify_the_sdk_and_the_api_agree_on_a_dynamodb_marker_by_its_age(
    emulator: EmulatorServer,
    real_clock: FakeClock,
    moto_clean: MotoServer,
    tmp_path: Path,
    age: float,
    expected: str,
) -> None:
    moto_clean.create_table(TABLE)
    store = add_store(emulator, "dynamodb", dynamodb_config())
    sync(emulator, real_clock, age)
    assert dynamodb_verdicts(emulator, moto_clean, store, tmp_path) == (expected,) * 3


@pytest.mark.usefixtures("aws")
def test_verify_the_sdk_and_the_api_agree_that_a_missing_dynamodb_marker_is_stale(
    emulator: EmulatorServer, moto_clean: MotoServer, tmp_path: Path
) -> None:
    moto_clean.create_table(TABLE)
    store = add_store(emulator, "dynamodb", dynamodb_config())  # never synchronised
    assert dynamodb_verdicts(emulator, moto_clean, store, tmp_path) == ("stale",) * 3


@pytest.mark.usefixtures("aws")
def test_verify_the_sdk_and_the_api_agree_that_a_missing_dynamodb_table_is_unavailable(
    emulator: EmulatorServer, real_clock: FakeClock, moto_clean: MotoServer, tmp_path: Path
) -> None:
    store = add_store(emulator, "dynamodb", dynamodb_config("no-such-table"))
    sync(emulator, real_clock)
    verdicts = dynamodb_verdicts(emulator, moto_clean, store, tmp_path, table="no-such-table")
    assert verdicts == ("unavailable",) * 3
