"""A real DynamoDB-compatible server for tests: moto's, in this process, on 127.0.0.1.

``MotoServer`` serves moto's backends over HTTP on a free loopback port (``.endpoint``), and
``create_table`` makes a table with LaunchDarkly's key schema (partition key ``namespace`` (S),
sort key ``key`` (S)) or any other. Fixtures (import ``moto_server_fixture, moto_clean_fixture``
into a test module): ``moto_server`` is module-scoped; ``moto_clean`` is the same server with
every table gone (moto's ``/moto-api/reset``). Both skip the test when ``moto[server]`` is not
installed (it is in the ``dev`` extra).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

REGION = "us-east-1"
LD_SCHEMA = (("namespace", "HASH"), ("key", "RANGE"))


class MotoServer:
    """moto's server on 127.0.0.1, port chosen by the OS."""

    def __init__(self) -> None:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError:  # pragma: no cover - the dev extra has it
            pytest.skip("moto[server] is not installed (pip install -e '.[dev]')")
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._clients: dict[str, Any] = {}

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._server.stop()
        wsgi = getattr(self._server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()  # stop() leaves the listening socket open

    def reset(self) -> None:
        httpx.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()

    def client(self, region: str = REGION) -> Any:
        """A boto3 DynamoDB client for this server (fake credentials), one per region."""
        if region not in self._clients:
            self._clients[region] = boto3.session.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name=region
            ).client(
                "dynamodb", endpoint_url=self.endpoint, config=Config(retries={"max_attempts": 1})
            )
        return self._clients[region]

    def create_table(
        self,
        name: str,
        region: str = REGION,
        schema: tuple[tuple[str, str], ...] = LD_SCHEMA,
        attribute_type: str = "S",
    ) -> None:
        client = self.client(region)
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in schema],
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": attribute_type} for a, _ in schema
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def marker(self, table: str, prefix: str, region: str = REGION) -> int | None:
        """``synchronizedOn`` of the item LaunchDarkly's SDKs read, or ``None``."""
        key = f"{prefix}:big_segments_metadata"
        item = (
            self.client(region)
            .get_item(TableName=table, Key={"namespace": {"S": key}, "key": {"S": key}})
            .get("Item")
        )
        return None if item is None else int(item["synchronizedOn"]["N"])

    def put_marker(self, table: str, prefix: str, ms: int, region: str = REGION) -> None:
        key = f"{prefix}:big_segments_metadata"
        client = self.client(region)
        client.put_item(
            TableName=table,
            Item={"namespace": {"S": key}, "key": {"S": key}, "synchronizedOn": {"N": str(ms)}},
        )


@pytest.fixture(scope="module", name="moto_server")
def moto_server_fixture() -> Iterator[MotoServer]:
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(name="moto_clean")
def moto_clean_fixture(moto_server: MotoServer) -> MotoServer:
    """The module's server, with no tables."""
    moto_server.reset()
    return moto_server
