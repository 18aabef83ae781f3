"""LaunchDarkly's official REST client (``launchdarkly-api``) against the emulator (issue #13).

All five big-segment-store operations and both environment reads go through the generated
client over HTTP, and every answer must parse into the client's own model. The client's
``BigSegmentStoreIntegration`` requires ``config``, which the spec's text says list items lack:
the emulator's default list therefore fails to parse (the documented disagreement), and its
``listConfig`` mode parses. Skipped when the package is not installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TOKEN

from reconciler.emulator import EmulatorServer

ld = pytest.importorskip("launchdarkly_api")
from launchdarkly_api.api.environments_api import EnvironmentsApi  # noqa: E402
from launchdarkly_api.api.persistent_store_integrations_beta_api import (  # noqa: E402
    PersistentStoreIntegrationsBetaApi,
)
from launchdarkly_api.models import (  # noqa: E402
    BigSegmentStoreIntegration,
    BigSegmentStoreIntegrationCollection,
    Environment,
    Environments,
    IntegrationDeliveryConfigurationPost,
    PatchOperation,
)

REDIS_CONFIG = {"host": "redis.internal", "port": "6379", "password": "supersecret123"}


def client(emulator: EmulatorServer, version: str) -> Any:
    configuration = ld.Configuration(host=emulator.url)
    configuration.api_key["ApiKey"] = TOKEN
    api_client = ld.ApiClient(configuration)
    # The client hard-sets 20240415 in its constructor; only this overrides it (API-NOTES §6).
    api_client.set_default_header("LD-API-Version", version)
    return api_client


@pytest.fixture
def stores_api(emulator: EmulatorServer) -> Iterator[PersistentStoreIntegrationsBetaApi]:
    with client(emulator, "beta") as api_client:
        yield PersistentStoreIntegrationsBetaApi(api_client)


@pytest.fixture
def environments_api(emulator: EmulatorServer) -> Iterator[EnvironmentsApi]:
    with client(emulator, "20240415") as api_client:
        yield EnvironmentsApi(api_client)


def create(api: PersistentStoreIntegrationsBetaApi) -> BigSegmentStoreIntegration:
    body = IntegrationDeliveryConfigurationPost(
        config=REDIS_CONFIG, on=True, tags=["tier:1"], name="Payments"
    )
    return api.create_big_segment_store_integration("payments", "production", "redis", body)


def test_all_five_operations_parse_into_the_official_models(
    stores_api: PersistentStoreIntegrationsBetaApi, emulator: EmulatorServer
) -> None:
    created = create(stores_api)
    assert isinstance(created, BigSegmentStoreIntegration)
    assert created.config["password"] == "sup********123"
    assert created.status.available is True
    address = ("payments", "production", "redis", created.id)
    got = stores_api.get_big_segment_store_integration(*address)
    assert isinstance(got, BigSegmentStoreIntegration) and got.version == created.version
    ops = [
        PatchOperation(op="test", path="/version", value=got.version),
        PatchOperation(op="replace", path="/name", value="Renamed"),
    ]
    patched = stores_api.patch_big_segment_store_integration(*address, ops)
    assert isinstance(patched, BigSegmentStoreIntegration)
    assert (patched.name, patched.version) == ("Renamed", got.version + 1)
    emulator.state.list_config = True
    listed = stores_api.get_big_segment_store_integrations()
    assert isinstance(listed, BigSegmentStoreIntegrationCollection)
    assert [item.id for item in listed.items] == [created.id]
    assert listed.items[0].config["password"] == "sup********123"
    assert stores_api.delete_big_segment_store_integration(*address) is None
    with pytest.raises(ld.ApiException) as missing:
        stores_api.get_big_segment_store_integration(*address)
    assert missing.value.status == 404


def test_the_default_list_without_config_does_not_parse_with_the_official_client(
    stores_api: PersistentStoreIntegrationsBetaApi,
) -> None:
    create(stores_api)
    with pytest.raises(ValueError, match="config"):
        stores_api.get_big_segment_store_integrations()


def test_the_environment_reads_parse_into_the_official_models(
    environments_api: EnvironmentsApi, emulator: EmulatorServer
) -> None:
    emulator.state.set_environment("payments", "production", critical=True)
    page = environments_api.get_environments_by_project("payments", limit=1, offset=1)
    assert isinstance(page, Environments)
    assert page.total_count == 2 and [e.key for e in page.items] == ["staging"]
    env = environments_api.get_environment("payments", "production")
    assert isinstance(env, Environment)
    assert env.critical is True
    assert env.id == emulator.state.client_side_id("payments", "production")
    assert env.api_key.startswith("sdk-") and env.mobile_key.startswith("mob-")


def test_official_client_errors_carry_launchdarkly_error_bodies(
    stores_api: PersistentStoreIntegrationsBetaApi,
) -> None:
    created = create(stores_api)
    stale = [PatchOperation(op="test", path="/version", value=created.version + 5)]
    with pytest.raises(ld.ApiException) as conflict:
        stores_api.patch_big_segment_store_integration(
            "payments", "production", "redis", created.id, stale
        )
    assert conflict.value.status == 409
    assert "optimistic_locking_error" in conflict.value.body
    assert "'" not in conflict.value.body  # a sentence, not a Python repr
