"""Export: live stores read from the emulator become manifests that plan back to no change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from conftest import TOKEN

from reconciler.api.client import Client, settings_from_env
from reconciler.api.refresh import read_live
from reconciler.emulator import EmulatorServer
from reconciler.integrations import mask_secret
from reconciler.manifest.load import load_manifests
from reconciler.model import DEFAULT_OWNER_TAG, LiveStore, StoreStatus
from reconciler.plan.changes import PROTECT_TAG, Plan, SecretCheck
from reconciler.plan.planner import build_plan
from reconciler.render.export import ExportedFile, export_manifests, secret_variable

PASSWORD = "payments-redis-Secr3t-value"
OTHER_PASSWORD = "another-redis-secret-42"
EXTERNAL_ID = "ext-7f1c2a9e-payments-staging"
ROLE = "arn:aws:iam::123456789012:role/launchdarkly-big-segments"
OWNED = [DEFAULT_OWNER_TAG]


def seed(
    emulator: EmulatorServer,
    environment: str,
    key: str,
    name: str,
    config: Mapping[str, Any],
    *,
    project: str = "payments",
    on: bool = False,
    tags: Sequence[str] = OWNED,
) -> None:
    body = {"name": name, "on": on, "tags": list(tags), "config": dict(config)}
    emulator.state.create_store(project, environment, key, body)


def redis(host: str = "redis.payments.internal", **extra: object) -> dict[str, Any]:
    return {"host": host, **extra}


def dynamodb(external_id: str = EXTERNAL_ID) -> dict[str, Any]:
    return {
        "tableName": "ld-big-segments-staging",
        "region": "us-east-1",
        "roleArn": ROLE,
        "externalId": external_id,
    }


def read(emulator: EmulatorServer, projects: Sequence[str] = ("payments",)) -> list[LiveStore]:
    env = {"LAUNCHDARKLY_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": emulator.url}
    with Client(settings_from_env(env)) as client:
        return read_live(client, projects)


def write_files(files: Sequence[ExportedFile], folder: Path) -> list[str]:
    paths = []
    for exported in files:
        path = folder / exported.filename
        path.write_text(exported.text, encoding="utf-8")
        paths.append(str(path))
    return paths


def round_trip(
    emulator: EmulatorServer,
    folder: Path,
    secrets: Mapping[str, str],
    projects: Sequence[str] = ("payments",),
) -> tuple[list[ExportedFile], Plan]:
    """Export, write, set exactly the listed variables (KeyError if one is unexpected), load
    and plan against the same live stores."""
    live = read(emulator, projects)
    files = export_manifests(live)
    env = {name: secrets[name] for exported in files for name in exported.variables}
    loaded = load_manifests(write_files(files, folder), env=env)
    return files, build_plan(loaded.state, live)


def assert_no_changes(plan: Plan) -> None:
    assert [(str(c.address), c.action) for c in plan.changes if c.is_change] == []
    assert plan.unmanaged == ()


def test_a_redis_store_with_password_port_and_tls_round_trips_to_no_change(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = redis(port="6380", username="launchdarkly", password=PASSWORD, tlsEnabled=True)
    seed(emulator, "production", "redis", "Payments production", config, on=True)
    var = "PAYMENTS_PRODUCTION_REDIS_PASSWORD"
    files, plan = round_trip(emulator, tmp_path, {var: PASSWORD})
    assert_no_changes(plan)
    assert plan.changes[0].secrets == (SecretCheck("password", "unverifiable"),)
    text = files[0].text
    assert "    on: true\n" in text
    assert "      port: 6380\n" in text
    assert "      tlsEnabled: true\n" in text
    assert f"      password: ${{{var}}}\n" in text


def test_a_dynamodb_store_round_trips_with_its_external_id_as_a_placeholder(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "staging", "dynamodb", "Payments staging", dynamodb())
    var = "PAYMENTS_STAGING_DYNAMODB_EXTERNALID"
    files, plan = round_trip(emulator, tmp_path, {var: EXTERNAL_ID})
    assert_no_changes(plan)
    assert plan.changes[0].secrets == (SecretCheck("externalId", "verified"),)
    assert f"externalId: ${{{var}}}" in files[0].text
    assert EXTERNAL_ID not in files[0].text


def test_the_manifest_is_written_as_a_person_would_write_it(emulator: EmulatorServer) -> None:
    config = redis(port="6379", username="", password="", tlsEnabled=False)
    seed(emulator, "production", "redis", "Payments production", config, on=True)
    seed(emulator, "staging", "dynamodb", "Payments staging", dynamodb())
    [exported] = export_manifests(read(emulator))
    assert exported.filename == "payments.yaml"
    assert exported.text.endswith(
        """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    on: true
    config:
      host: redis.payments.internal
  - environment: staging
    integrationKey: dynamodb
    name: Payments staging
    on: false
    config:
      tableName: ld-big-segments-staging
      region: us-east-1
      roleArn: arn:aws:iam::123456789012:role/launchdarkly-big-segments
      externalId: ${PAYMENTS_STAGING_DYNAMODB_EXTERNALID}
"""
    )


def test_the_header_lists_the_variables_in_order_of_appearance(
    emulator: EmulatorServer,
) -> None:
    seed(emulator, "staging", "dynamodb", "Payments staging", dynamodb())
    seed(emulator, "production", "redis", "Payments production", redis(password=PASSWORD))
    [exported] = export_manifests(read(emulator))
    expected = ("PAYMENTS_PRODUCTION_REDIS_PASSWORD", "PAYMENTS_STAGING_DYNAMODB_EXTERNALID")
    assert exported.variables == expected
    assert exported.text.startswith(
        "# Exported from LaunchDarkly by reconciler export.\n"
        "# Secrets are ${...} placeholders: set these variables before running plan:\n"
        "#   PAYMENTS_PRODUCTION_REDIS_PASSWORD\n"
        "#   PAYMENTS_STAGING_DYNAMODB_EXTERNALID\n"
    )


def test_an_empty_password_is_left_out_and_needs_no_variable(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "production", "redis", "Cache", redis(password=""))
    files, plan = round_trip(emulator, tmp_path, {})
    assert_no_changes(plan)
    assert files[0].variables == ()
    assert "password" not in files[0].text


def test_secret_variables_are_named_predictably() -> None:
    assert secret_variable("payments", "production", "redis", "password") == (
        "PAYMENTS_PRODUCTION_REDIS_PASSWORD"
    )
    assert secret_variable("payments", "staging", "dynamodb", "externalId") == (
        "PAYMENTS_STAGING_DYNAMODB_EXTERNALID"
    )
    assert secret_variable("payments", "production", "redis", "password", name="Primary cache") == (
        "PAYMENTS_PRODUCTION_REDIS_PRIMARY_CACHE_PASSWORD"
    )
    assert secret_variable("my-app.v2", "prod eu", "redis", "password", name=" a: b ") == (
        "MY_APP_V2_PROD_EU_REDIS_A_B_PASSWORD"
    )
    assert secret_variable("1st", "prod", "redis", "password") == "_1ST_PROD_REDIS_PASSWORD"


def test_two_stores_of_one_kind_in_one_environment_get_name_qualified_variables(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "production", "redis", "Primary cache", redis("a.internal", password=PASSWORD))
    seed(emulator, "production", "redis", "Fallback", redis("b.internal", password=OTHER_PASSWORD))
    secrets = {
        "PAYMENTS_PRODUCTION_REDIS_FALLBACK_PASSWORD": OTHER_PASSWORD,
        "PAYMENTS_PRODUCTION_REDIS_PRIMARY_CACHE_PASSWORD": PASSWORD,
    }
    files, plan = round_trip(emulator, tmp_path, secrets)
    assert files[0].variables == tuple(secrets)
    assert_no_changes(plan)
    assert [str(c.address) for c in plan.changes] == [
        "payments/production/redis/Fallback",
        "payments/production/redis/Primary cache",
    ]
    assert all(c.secrets == (SecretCheck("password", "unverifiable"),) for c in plan.changes)


def test_store_names_that_clean_up_to_the_same_variable_get_distinct_variables(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "production", "redis", "cache-a", redis("a.internal", password=PASSWORD))
    seed(emulator, "production", "redis", "Cache A", redis("b.internal", password=OTHER_PASSWORD))
    secrets = {
        "PAYMENTS_PRODUCTION_REDIS_CACHE_A_PASSWORD": OTHER_PASSWORD,  # "Cache A" sorts first
        "PAYMENTS_PRODUCTION_REDIS_CACHE_A_PASSWORD_2": PASSWORD,
    }
    files, plan = round_trip(emulator, tmp_path, secrets)
    assert files[0].variables == tuple(secrets)
    assert_no_changes(plan)


def test_tags_every_store_shares_are_factored_into_defaults(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(
        emulator, "production", "redis", "Cache", redis(), tags=["team:payments", "tier:1", *OWNED]
    )
    seed(emulator, "staging", "dynamodb", "Table", dynamodb(), tags=["team:payments", "cost:low"])
    seed(emulator, "staging", "redis", "Cache", redis(), tags=["tier:1", "team:payments"])
    files, plan = round_trip(
        emulator, tmp_path, {"PAYMENTS_STAGING_DYNAMODB_EXTERNALID": EXTERNAL_ID}
    )
    text = files[0].text
    assert "defaults:\n  tags: [team:payments, tier:1]\n" not in text
    assert "defaults:\n  tags: [team:payments]\n" in text
    assert text.count("    tags: [tier:1]\n") == 2
    assert "    tags: [cost:low]\n" in text
    adopted = {str(c.address) for c in plan.changes if c.adopt}  # two stores lack our tag
    assert adopted == {"payments/staging/dynamodb", "payments/staging/redis"}
    ops = {op["path"] for c in plan.changes for op in c.patch if op["op"] != "test"}
    assert ops == {"/tags"}


def test_the_owner_tag_is_dropped_and_the_protect_tag_becomes_protect_true(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    tags = ["team:payments", PROTECT_TAG, DEFAULT_OWNER_TAG]
    seed(emulator, "production", "redis", "Cache", redis(), tags=tags)
    files, plan = round_trip(emulator, tmp_path, {})
    text = files[0].text
    assert DEFAULT_OWNER_TAG not in text
    assert PROTECT_TAG not in text
    assert "    tags: [team:payments]\n    protect: true\n" in text
    assert_no_changes(plan)
    assert plan.changes[0].desired is not None and plan.changes[0].desired.protect


def test_a_custom_owner_tag_is_the_one_dropped(emulator: EmulatorServer) -> None:
    seed(emulator, "production", "redis", "Cache", redis(), tags=["owner:platform", *OWNED])
    [exported] = export_manifests(read(emulator), owner_tag="owner:platform")
    assert "owner:platform" not in exported.text
    assert f"tags: [{DEFAULT_OWNER_TAG}]" in exported.text


def test_a_store_without_the_ownership_tag_plans_as_an_adopt(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "production", "redis", "Cache", redis(), tags=["team:payments"])
    files, plan = round_trip(emulator, tmp_path, {})
    [change] = plan.changes
    assert (change.action, change.adopt) == ("update", True)
    assert [op for op in change.patch if op["op"] != "test"] == [
        {"op": "replace", "path": "/tags", "value": ["team:payments", DEFAULT_OWNER_TAG]}
    ]
    assert "ownership tag" in files[0].text  # the header says why


def test_the_exported_text_holds_no_secret_and_no_mask(emulator: EmulatorServer) -> None:
    seed(emulator, "production", "redis", "Cache", redis(password=PASSWORD))
    seed(emulator, "staging", "dynamodb", "Table", dynamodb())
    live = read(emulator)
    masked = [s.config["password"] for s in live if s.config and "password" in s.config]
    assert masked == [mask_secret(PASSWORD)]  # what the API really returned
    [exported] = export_manifests(live)
    for secret in (PASSWORD, mask_secret(PASSWORD), EXTERNAL_ID, PASSWORD[:3] + "*"):
        assert secret not in exported.text


WEIRD = [
    "Cache: primary",
    'say "hi"',
    "costs ${HOME} and $${x}",
    "  leading and trailing spaces  ",
    "yes",
    "on",
    "null",
    "~",
    "2024-01-01",
    "1e3",
    "0x1F",
    "- dash",
    "# hash",
    "[bracketed], {braced}",
    "a, b",
    "back\\slash\ttab\nnewline",
    "émoji 🚀 and \u2028 separator",
    "'single'",
    "&anchor *alias !tag %percent @at `tick` |pipe >fold",
]


def test_weird_strings_survive_the_round_trip(emulator: EmulatorServer, tmp_path: Path) -> None:
    for i, weird in enumerate(WEIRD):
        config = redis(weird, username=weird, password=PASSWORD + str(i))
        seed(emulator, "production", "redis", weird, config, tags=[weird, "t:" + weird, *OWNED])
    seed(emulator, "staging", "redis", "yes", redis("null"), tags=["on", "true", *OWNED])
    live = read(emulator)
    [exported] = export_manifests(live)
    assert len(exported.variables) == len(WEIRD)
    secrets = {
        secret_variable("payments", "production", "redis", "password", name=weird): (
            PASSWORD + str(i)
        )
        for i, weird in enumerate(WEIRD)
    }
    files, plan = round_trip(emulator, tmp_path, secrets)
    assert_no_changes(plan)
    loaded = load_manifests(write_files(files, tmp_path), env=secrets).state.stores
    assert sorted(s.name for s in loaded) == sorted([*WEIRD, "yes"])
    by_name = {s.name: s for s in loaded if s.environment == "production"}
    for weird in WEIRD:
        assert by_name[weird].config["host"] == weird
        assert by_name[weird].config["username"] == weird
        assert set(by_name[weird].tags) == {weird, "t:" + weird}


def test_weird_project_and_environment_keys_become_safe_files_and_variables() -> None:
    store = LiveStore(
        id="s1",
        project="../My Project",
        environment="prod eu",
        integration_key="redis",
        name="Cache",
        on=False,
        tags=(),
        version=1,
        config={"host": "h", "password": "abc********xyz"},
        status=StoreStatus(),
    )
    [exported] = export_manifests([store])
    assert exported.filename == "_My_Project.yaml"
    assert exported.variables == ("MY_PROJECT_PROD_EU_REDIS_PASSWORD",)
    assert "project: ../My Project\n" in exported.text


def test_only_the_requested_projects_are_exported_and_each_gets_a_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    seed(emulator, "production", "redis", "Cache", redis())
    seed(emulator, "production", "redis", "Search", redis(password=PASSWORD), project="search")
    live = read(emulator, ("payments", "search"))
    assert [f.project for f in export_manifests(live)] == ["payments", "search"]
    files = export_manifests(live, projects=["search", "qa"])
    assert [(f.project, f.filename) for f in files] == [
        ("qa", "qa.yaml"),
        ("search", "search.yaml"),
    ]
    assert "stores: []\n" in files[0].text
    env = {"SEARCH_PRODUCTION_REDIS_PASSWORD": PASSWORD}
    loaded = load_manifests(write_files(files, tmp_path), env=env)
    assert set(loaded.state.projects) == {"qa", "search"}
    assert_no_changes(build_plan(loaded.state, [s for s in live if s.project == "search"]))


def test_the_output_is_deterministic(emulator: EmulatorServer) -> None:
    seed(emulator, "staging", "dynamodb", "Table", dynamodb(), tags=["b", "a", *OWNED])
    seed(emulator, "production", "redis", "Two", redis("2", password=PASSWORD), tags=["a"])
    seed(emulator, "production", "redis", "One", redis("1", password=PASSWORD), tags=["a", "c"])
    seed(emulator, "production", "redis", "Search", redis(), project="search")
    live = read(emulator, ("payments", "search"))
    first = export_manifests(live)
    assert export_manifests(list(reversed(live))) == first
    assert export_manifests(read(emulator, ("search", "payments"))) == first
    names = [line for line in first[0].text.splitlines() if line.startswith("    name:")]
    assert names == ["    name: One", "    name: Two", "    name: Table"]
