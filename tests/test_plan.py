"""Unit tests of the pure planner: declared and live values in, a plan out, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date

import pytest

from reconciler.errors import PlanError, UnsafePlanError
from reconciler.integrations import mask_secret
from reconciler.model import (
    DEFAULT_OWNER_TAG,
    ConfigValue,
    DesiredState,
    DesiredStore,
    IgnoreRule,
    LiveStore,
    Location,
    ProjectSettings,
    Secret,
    StoreStatus,
)
from reconciler.plan.changes import PROTECT_TAG, Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import check_safety

OWNER = DEFAULT_OWNER_TAG
PASSWORD = "correct-horse-battery"


def want(
    env: str = "production",
    *,
    name: str = "Payments production",
    key: str = "redis",
    on: bool = True,
    tags: tuple[str, ...] = ("team:payments",),
    config: Mapping[str, ConfigValue] | None = None,
    project: str = "payments",
) -> DesiredStore:
    if config is None:
        config = {"host": "redis.internal", "port": "6379", "password": Secret(PASSWORD, "env:PW")}
    return DesiredStore(
        project=project,
        environment=env,
        integration_key=key,  # type: ignore[arg-type]
        name=name,
        on=on,
        tags=tags,
        config=config,
        location=Location("m.yaml", 3, 5),
    )


def have(
    env: str = "production",
    *,
    id: str = "a" * 24,
    name: str = "Payments production",
    key: str = "redis",
    on: bool = True,
    tags: tuple[str, ...] = ("team:payments", OWNER),
    config: Mapping[str, object] | None = None,
    version: int = 3,
    project: str = "payments",
) -> LiveStore:
    if config is None:
        config = {
            "host": "redis.internal",
            "port": "6379",
            "username": "",
            "password": mask_secret(PASSWORD),
            "tlsEnabled": False,
        }
    return LiveStore(
        id=id,
        project=project,
        environment=env,
        integration_key=key,
        name=name,
        on=on,
        tags=tags,
        version=version,
        config=config,
        status=StoreStatus(available=True),
    )


def state(
    *stores: DesiredStore, prune: bool = False, projects: tuple[str, ...] = ()
) -> DesiredState:
    keys = {s.project for s in stores} | set(projects)
    return DesiredState(stores, {k: ProjectSettings(k, prune=prune) for k in keys})


def only(plan: Plan) -> dict[str, object]:
    assert len(plan.changes) == 1
    change = plan.changes[0]
    return {"action": change.action, "patch": list(change.patch)}


def test_a_store_just_applied_plans_as_no_change() -> None:
    plan = build_plan(state(want()), [have()])
    assert only(plan)["action"] == "no-op"
    assert not plan.has_changes
    assert plan.changes[0].secrets[0].state == "unverifiable"


def test_a_missing_store_is_created_with_the_ownership_tag_and_defaults() -> None:
    plan = build_plan(state(want()), [])
    change = plan.changes[0]
    assert change.action == "create"
    assert change.body is not None
    assert change.body["tags"] == ["team:payments", OWNER]
    config = change.body["config"]
    assert isinstance(config, dict)
    assert config["tlsEnabled"] is False and config["port"] == "6379"
    assert isinstance(config["password"], Secret)


def test_every_update_patch_begins_with_a_test_of_the_version() -> None:
    plan = build_plan(state(want(on=False)), [have(version=7)])
    patch = only(plan)["patch"]
    assert patch == [
        {"op": "test", "path": "/version", "value": 7},
        {"op": "replace", "path": "/on", "value": False},
    ]


def test_plan_renames_instead_of_recreating() -> None:
    plan = build_plan(state(want(name="New name")), [have(name="Old name")])
    assert only(plan)["patch"] == [
        {"op": "test", "path": "/version", "value": 3},
        {"op": "replace", "path": "/name", "value": "New name"},
    ]
    assert str(plan.changes[0].address) == "payments/production/redis"


def test_tag_order_and_the_ownership_tag_never_show_as_a_diff() -> None:
    plan = build_plan(state(want(tags=("b", "a"))), [have(tags=(OWNER, "a", "b"))])
    assert only(plan)["action"] == "no-op"


def test_a_string_port_and_filled_defaults_are_not_a_diff() -> None:
    desired = want(config={"host": "h", "port": "6380"})
    live = have(
        config={"host": "h", "port": 6380, "username": "", "password": "", "tlsEnabled": "false"}
    )
    assert only(build_plan(state(desired), [live]))["action"] == "no-op"


def test_a_config_change_sends_the_whole_desired_config_never_the_mask() -> None:
    desired = want(config={"host": "new", "password": Secret(PASSWORD, "env:PW")})
    plan = build_plan(state(desired), [have()])
    patch = plan.changes[0].patch
    config_op = patch[-1]
    assert config_op["path"] == "/config"
    value = config_op["value"]
    assert isinstance(value, dict)
    assert value["host"] == "new"
    assert isinstance(value["password"], Secret) and value["password"].value == PASSWORD
    assert mask_secret(PASSWORD) not in repr(patch)


def test_a_secret_whose_mask_cannot_match_is_a_change() -> None:
    desired = want(
        config={"host": "redis.internal", "password": Secret("other-password", "env:PW")}
    )
    plan = build_plan(state(desired), [have()])
    change = plan.changes[0]
    assert change.action == "update"
    assert [(s.key, s.state) for s in change.secrets] == [("password", "changed")]
    assert change.patch[-1]["path"] == "/config"


def test_an_owned_undeclared_store_is_deleted_and_an_unowned_one_is_unmanaged() -> None:
    live = [
        have("staging", id="b" * 24, tags=(OWNER,)),
        have("qa", id="c" * 24, tags=()),
    ]
    plan = build_plan(state(want()), [have(), *live])
    actions = {str(c.address): c.action for c in plan.changes}
    assert actions["payments/staging/redis"] == "delete"
    assert [str(u.address) for u in plan.unmanaged] == ["payments/qa/redis"]
    assert plan.summary == {"create": 0, "update": 0, "delete": 1, "no-op": 1, "unmanaged": 1}


def test_prune_deletes_unowned_undeclared_stores() -> None:
    plan = build_plan(state(want(), prune=True), [have(), have("qa", id="c" * 24, tags=())])
    assert [c.action for c in plan.changes] == ["no-op", "delete"]
    assert plan.unmanaged == ()


def test_projects_out_of_scope_are_never_touched() -> None:
    plan = build_plan(state(want()), [have(), have(project="search", id="d" * 24)])
    assert len(plan.changes) == 1 and plan.unmanaged == ()
    assert plan.live_in_scope == 1


def test_an_unowned_matching_store_is_adopted_by_a_patch() -> None:
    plan = build_plan(state(want()), [have(tags=("team:payments",))])
    change = plan.changes[0]
    assert change.action == "update" and change.adopt
    assert change.patch[1] == {"op": "replace", "path": "/tags", "value": ["team:payments", OWNER]}


def test_two_stores_of_one_kind_in_one_environment_are_matched_by_name() -> None:
    desired = state(want(name="A"), want(name="B", config={"host": "b"}))
    live = [have(name="B", id="b" * 24, config={"host": "b"}), have(name="A", id="a" * 24)]
    plan = build_plan(desired, live)
    assert [(str(c.address), c.id) for c in plan.changes] == [
        ("payments/production/redis/A", "a" * 24),
        ("payments/production/redis/B", "b" * 24),
    ]


def test_two_live_stores_with_the_declared_name_are_an_ambiguity_naming_both_ids() -> None:
    desired = state(want(name="A"), want(name="B"))
    live = [have(name="A", id="1" * 24), have(name="A", id="2" * 24)]
    with pytest.raises(PlanError) as error:
        build_plan(desired, live)
    assert "1" * 24 in str(error.value) and "2" * 24 in str(error.value)


def test_a_dynamodb_external_id_returned_in_clear_is_verified() -> None:
    config: dict[str, ConfigValue] = {
        "tableName": "t",
        "region": "us-east-1",
        "roleArn": "arn:aws:iam::123456789012:role/ld",
        "externalId": Secret("ext-123", "env:EXT"),
    }
    live_cfg = {**config, "externalId": "ext-123"}
    plan = build_plan(
        state(want(key="dynamodb", config=config)), [have(key="dynamodb", config=live_cfg)]
    )
    assert plan.changes[0].action == "no-op"
    assert [(s.key, s.state) for s in plan.changes[0].secrets] == [("externalId", "verified")]


def test_deletes_are_refused_without_allow_delete() -> None:
    plan = build_plan(state(want()), [have(), have("staging", id="b" * 24, tags=(OWNER,))])
    with pytest.raises(UnsafePlanError, match="--allow-delete"):
        check_safety(plan)
    check_safety(plan, allow_delete=True)


def test_the_change_threshold_applies_only_from_ten_live_stores() -> None:
    envs = [f"e{i}" for i in range(10)]
    desired = state(*(want(e, on=False) for e in envs[:4]), *(want(e) for e in envs[4:]))
    live = [have(e, id=f"{i:024d}") for i, e in enumerate(envs)]
    plan = build_plan(desired, live)
    assert plan.count("update") == 4
    with pytest.raises(UnsafePlanError, match="--force"):
        check_safety(plan)
    check_safety(plan, force=True)
    small = build_plan(state(*(want(e, on=False) for e in envs[:4])), live[:4])
    check_safety(small)  # 4 of 4 changed, but fewer than 10 in scope


def rule(field: str, expires: date, reason: str = "accepted during INC-1") -> IgnoreRule:
    return IgnoreRule(field, reason, expires, Location("m.yaml", 9, 9))


TODAY = date(2026, 11, 28)


def test_an_unexpired_ignore_rule_turns_a_difference_into_a_note() -> None:
    desired = replace(want(), ignore=(rule("on", date(2026, 12, 31)),))
    plan = build_plan(state(desired), [have(on=False)], today=TODAY)
    change = plan.changes[0]
    assert change.action == "no-op"
    assert "ignored difference on on until 2026-12-31" in change.notes[0]


def test_an_expired_ignore_rule_counts_as_drift_again_and_says_so() -> None:
    desired = replace(want(), ignore=(rule("on", date(2026, 11, 27)),))
    plan = build_plan(state(desired), [have(on=False)], today=TODAY)
    change = plan.changes[0]
    assert change.action == "update"
    assert "expired on 2026-11-27" in change.notes[0]


def test_an_ignored_config_key_keeps_its_live_value_when_other_keys_change() -> None:
    desired = replace(
        want(config={"host": "declared", "port": "6380", "password": Secret(PASSWORD, "env:PW")}),
        ignore=(rule("config.host", date(2027, 1, 1)),),
    )
    plan = build_plan(state(desired), [have()], today=TODAY)
    config = plan.changes[0].patch[-1]["value"]
    assert isinstance(config, dict)
    assert config["host"] == "redis.internal" and config["port"] == "6380"


def test_protect_is_remembered_as_a_tag_and_blocks_deletes_whatever_the_flags() -> None:
    protected = replace(want(), protect=True)
    plan = build_plan(state(protected), [have()])
    assert plan.changes[0].patch[1]["value"] == ["team:payments", PROTECT_TAG, OWNER]
    gone = build_plan(state(projects=("payments",)), [have(tags=(OWNER, PROTECT_TAG))])
    assert gone.changes[0].action == "delete" and gone.changes[0].protected
    with pytest.raises(UnsafePlanError, match="protected"):
        check_safety(gone, allow_delete=True, force=True)


def test_a_project_may_raise_its_own_change_threshold() -> None:
    envs = [f"e{i}" for i in range(10)]
    stores = [want(e, on=False) for e in envs[:4]] + [want(e) for e in envs[4:]]
    live = [have(e, id=f"{i:024d}") for i, e in enumerate(envs)]
    relaxed = DesiredState(
        tuple(stores), {"payments": ProjectSettings("payments", change_threshold=0.5)}
    )
    check_safety(build_plan(relaxed, live))
    strict = DesiredState(
        tuple(stores), {"payments": ProjectSettings("payments", change_threshold=0.1, min_stores=2)}
    )
    with pytest.raises(UnsafePlanError, match="project payments"):
        check_safety(build_plan(strict, live))
