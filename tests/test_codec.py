"""plan.codec: a plan written as JSON reads back equal, secrets only through the caller's hooks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.errors import PlanError
from reconciler.model import (
    Address,
    DesiredState,
    DesiredStore,
    IgnoreRule,
    LiveStore,
    Location,
    ProjectSettings,
    Secret,
    StoreError,
    StoreStatus,
)
from reconciler.plan.changes import ACTIONS, Change, Plan, SecretCheck, Unmanaged
from reconciler.plan.codec import (
    SECRET_MARK,
    MalformedPlanError,
    change_from_dict,
    plan_from_dict,
    plan_to_dict,
)
from reconciler.plan.planner import build_plan


class Vault:
    """Secret hooks that keep values in memory and write only an index into the document."""

    def __init__(self) -> None:
        self.values: list[Secret] = []

    def encode(self, ref: str, secret: Secret) -> object:
        self.values.append(secret)
        return {SECRET_MARK: {"ref": ref, "n": len(self.values) - 1}}

    def decode(self, ref: str, meta: Mapping[str, Any]) -> Secret:
        assert meta["ref"] == ref
        return self.values[int(meta["n"])]


def round_trip(plan: Plan) -> tuple[Plan, str]:
    vault = Vault()
    text = json.dumps(plan_to_dict(plan, vault.encode), sort_keys=True)
    return plan_from_dict(json.loads(text), vault.decode), text


words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
secrets = st.builds(
    Secret,
    value=words,
    source=st.sampled_from(("inline", "default", "env:REDIS_PASSWORD", "env:A,B")),
)
config_values = st.one_of(words, st.booleans(), secrets)
configs = st.dictionaries(words, config_values, max_size=4)
plain_views = st.none() | st.fixed_dictionaries(
    {"name": words, "on": st.booleans(), "tags": st.lists(words, max_size=3)},
    optional={"config": st.dictionaries(words, words | st.booleans(), max_size=3)},
)
addresses = st.builds(
    Address, words, words, st.sampled_from(("redis", "dynamodb")), st.none() | words
)
patch_ops = st.one_of(
    st.builds(lambda v: {"op": "test", "path": "/version", "value": v}, st.integers(0, 10**6)),
    st.builds(lambda v: {"op": "replace", "path": "/name", "value": v}, words),
    st.builds(
        lambda v: {"op": "replace", "path": "/tags", "value": v}, st.lists(words, max_size=3)
    ),
    st.builds(lambda v: {"op": "replace", "path": "/config", "value": v}, configs),
)
bodies = st.none() | st.builds(
    lambda name, on, tags, config: {"name": name, "on": on, "tags": tags, "config": config},
    words, st.booleans(), st.lists(words, max_size=3), configs,
)  # fmt: skip
changes = st.builds(
    Change,
    address=addresses,
    action=st.sampled_from(ACTIONS),
    id=st.none() | words,
    version=st.none() | st.integers(0, 10**9),
    before=plain_views,
    after=plain_views,
    patch=st.lists(patch_ops, max_size=4).map(tuple),
    body=bodies,
    secrets=st.lists(
        st.builds(SecretCheck, words, st.sampled_from(("verified", "unverifiable", "changed"))),
        max_size=3,
    ).map(tuple),
    reason=words,
    adopt=st.booleans(),
    notes=st.lists(words, max_size=3).map(tuple),
    protected=st.booleans(),
)
statuses = st.builds(
    StoreStatus,
    st.none() | st.booleans(),
    st.none() | st.booleans(),
    st.none() | st.integers(0, 2**50),
    st.none() | st.integers(0, 2**50),
    st.lists(
        st.builds(StoreError, st.none() | st.integers(100, 599), words, st.none() | st.integers()),
        max_size=2,
    ).map(tuple),
)


def _unmanaged(address: Address, store_id: str, status: StoreStatus) -> Unmanaged:
    live = LiveStore(
        store_id, address.project, address.environment, address.integration_key,
        address.name or "x", True, ("t",), 3, None, status,
    )  # fmt: skip
    return Unmanaged(address, store_id, live)


settings_values = st.builds(
    ProjectSettings,
    key=words,
    prune=st.booleans(),
    location=st.none() | st.builds(Location, words, st.integers(1, 999), st.integers(1, 99)),
    change_threshold=st.none() | st.floats(0, 1),
    min_stores=st.none() | st.integers(0, 100),
)
plans = st.builds(
    Plan,
    changes=st.lists(changes, max_size=5).map(tuple),
    unmanaged=st.lists(st.builds(_unmanaged, addresses, words, statuses), max_size=2).map(tuple),
    projects=st.lists(words, max_size=3).map(tuple),
    live_in_scope=st.integers(0, 10**6),
    owner_tag=words,
    live_by_project=st.dictionaries(words, st.integers(0, 1000), max_size=3),
    safety=st.lists(settings_values, max_size=3).map(lambda ps: {p.key: p for p in ps}),
)


@settings(max_examples=150, deadline=None)
@given(plans)
def test_any_plan_reads_back_equal_after_json(plan: Plan) -> None:
    restored, _ = round_trip(plan)
    assert restored == plan
    assert [u.live.status for u in restored.unmanaged] == [u.live.status for u in plan.unmanaged]


@settings(max_examples=100, deadline=None)
@given(plans)
def test_no_secret_value_is_written_by_the_codec(plan: Plan) -> None:
    def hidden(ref: str, secret: Secret) -> object:
        return {SECRET_MARK: {"ref": ref, "source": "x"}}

    text = json.dumps(plan_to_dict(plan, hidden))
    assert "Secret(" not in text
    body = {"name": "n", "config": {"password": Secret("s3cr3t-value", "inline")}}
    create = Change(Address("p", "e", "redis"), "create", None, None, None, None, body=body)
    sentinel = Plan(changes=(create,), unmanaged=(), projects=("p",), live_in_scope=0)
    assert "s3cr3t-value" not in json.dumps(plan_to_dict(sentinel, hidden))


def _store(name: str, password: bool = True, **extra: Any) -> DesiredStore:
    config: dict[str, Any] = {"host": "redis.internal"}
    if password:
        config["password"] = Secret("pw", "env:PW")
    return DesiredStore(
        "payments", extra.pop("environment", "production"), "redis", name, True, ("team:a",),
        config, Location("m.yaml", 3, 5), **extra,
    )  # fmt: skip


def _live(store_id: str, environment: str, name: str, tags: tuple[str, ...]) -> LiveStore:
    config = {"host": "old.internal", "port": "6379", "password": "**", "tlsEnabled": False}
    return LiveStore(
        store_id, "payments", environment, "redis", name, True, tags, 7, config, StoreStatus()
    )


def test_a_real_plan_keeps_protection_adoption_notes_and_defaults() -> None:
    rule = IgnoreRule("config.host", "migrating", date(2099, 1, 1), Location("m.yaml", 9, 9))
    desired = DesiredState(
        stores=(
            _store("Adopted", ignore=(rule,)),
            _store("New", password=False, environment="staging", protect=True),
        ),
        projects={"payments": ProjectSettings("payments", prune=True, change_threshold=0.5)},
    )
    live = [
        _live("a1", "production", "Old name", ("team:a",)),
        _live("g1", "test", "Gone", ("managed-by:reconciler", "reconciler:protected")),
    ]
    plan = build_plan(desired, live, today=date(2030, 1, 1))
    by_action = {c.action: c for c in plan.changes}
    assert by_action["update"].adopt and by_action["update"].notes
    assert by_action["delete"].protected
    assert by_action["create"].body is not None
    default_password = by_action["create"].body["config"]["password"]
    assert isinstance(default_password, Secret) and default_password.source == "default"
    restored, text = round_trip(plan)
    assert restored == plan
    assert "pw" not in json.loads(text)["changes"][0]["patch"][-1]["value"].values()


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda c: c.update(address="a/b/c"), "'address' must be"),
        (lambda c: c.update(action="explode"), "unknown action"),
        (lambda c: c.update(protected="yes"), "'protected' must be bool"),
        (lambda c: c.update(version=True), "'version' must be int"),
        (lambda c: c.update(secrets=[["password", "leaked"]]), "unknown secret state"),
        (lambda c: c.update(patch=["op"]), "expected an object"),
    ],
)
def test_a_malformed_change_is_refused_with_the_field_named(mangle: Any, message: str) -> None:
    delete = Change(Address("p", "e", "redis"), "delete", "id1", 2, None, None, protected=True)
    plan = Plan(changes=(delete,), unmanaged=(), projects=("p",), live_in_scope=1)
    document = plan_to_dict(plan, Vault().encode)
    mangle(document["changes"][0])
    with pytest.raises(MalformedPlanError, match=message) as error:
        change_from_dict(document["changes"][0], Vault().decode)
    assert isinstance(error.value, PlanError)
