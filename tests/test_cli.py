"""End-to-end tests: the real CLI, in-process, against the real emulator over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import EXTERNAL_ID, PASSWORD, PAYMENTS, Tty, cli, write

from reconciler.emulator import EmulatorServer
from reconciler.integrations import mask_secret
from reconciler.model import DEFAULT_OWNER_TAG

OWNER = DEFAULT_OWNER_TAG


def stores(server: EmulatorServer) -> dict[str, object]:
    return {
        f"{s.project}/{s.environment}/{s.integration_key}/{s.name}": s
        for s in server.state.stores()
    }


def writes(server: EmulatorServer) -> list[str]:
    return [f"{r.method} {r.path}" for r in server.state.requests if r.method != "GET"]


def seed_store(
    server: EmulatorServer,
    env: str = "qa",
    *,
    tags: list[str] | None = None,
    project: str = "payments",
    name: str = "Hand made",
) -> str:
    if project == "payments" and env == "qa":
        server.state.add_project("payments", ["production", "staging", "qa"])
    store = server.state.create_store(
        project,
        env,
        "redis",
        {"name": name, "on": False, "tags": tags or [], "config": {"host": "h"}},
    )
    return store.id


def test_apply_creates_every_declared_store_from_empty(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    planned = cli(emulator, "plan", manifest, "--detailed-exitcode")
    assert planned.code == 2, planned.all
    assert "+ payments/production/redis" in planned.out
    assert "Plan: 2 to create, 0 to update, 0 to delete" in planned.out
    assert writes(emulator) == []

    applied = cli(emulator, "apply", manifest, "--auto-approve")
    assert applied.code == 0, applied.all
    assert "Apply complete: 2 created, 0 updated, 0 deleted." in applied.out
    live = stores(emulator)
    redis = live["payments/production/redis/Payments production"]
    assert redis.config == {  # type: ignore[attr-defined]
        "host": "redis.payments.internal",
        "port": "6379",
        "username": "launchdarkly",
        "password": PASSWORD,
        "tlsEnabled": True,
    }
    assert redis.tags == ["team:payments", "tier:1", OWNER]  # type: ignore[attr-defined]
    dynamo = live["payments/staging/dynamodb/Payments staging"]
    assert dynamo.config["externalId"] == EXTERNAL_ID  # type: ignore[attr-defined]


def test_a_second_plan_after_apply_shows_no_changes(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    again = cli(emulator, "plan", manifest, "--detailed-exitcode")
    assert again.code == 0, again.all
    assert "No changes." in again.out
    assert "payments/production/redis: config.password" in again.out  # reported as unverifiable
    assert cli(emulator, "drift", manifest).code == 0


@pytest.mark.parametrize(
    ("old", "new", "op"),
    [
        ("name: Payments production", "name: Payments prod", "/name"),
        ("on: true", "on: false", "/on"),
        ("tags: [tier:1]", "tags: [tier:2]", "/tags"),
        ("host: redis.payments.internal", "host: redis2.payments.internal", "/config"),
        ("port: 6379", "port: 6380", "/config"),
        ("tlsEnabled: true", "tlsEnabled: false", "/config"),
    ],
)
def test_each_field_change_is_one_guarded_patch_of_the_same_store(
    emulator: EmulatorServer, tmp_path: Path, old: str, new: str, op: str
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    before = {s.id: s.version for s in emulator.state.stores()}
    write(tmp_path, PAYMENTS.replace(old, new))
    planned = cli(emulator, "plan", manifest, "--format", "json")
    doc = json.loads(planned.out)
    updates = [c for c in doc["changes"] if c["action"] == "update"]
    assert len(updates) == 1
    patch = updates[0]["patch"]
    assert patch[0] == {"op": "test", "path": "/version", "value": before[updates[0]["id"]]}
    assert [p["path"] for p in patch[1:]] == [op]
    emulator.state.clear_requests()
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    assert [w.split()[0] for w in writes(emulator)] == ["PATCH"]
    assert cli(emulator, "plan", manifest, "--detailed-exitcode").code == 0
    assert {s.id for s in emulator.state.stores()} == set(before)


def test_a_rename_patches_the_store_and_keeps_its_id(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    ids = {s.id for s in emulator.state.stores()}
    write(tmp_path, PAYMENTS.replace("name: Payments production", "name: Payments (primary)"))
    result = cli(emulator, "apply", manifest, "--auto-approve")
    assert result.code == 0, result.all
    assert '"Payments production" -> "Payments (primary)"' in result.out
    assert {s.id for s in emulator.state.stores()} == ids
    assert "payments/production/redis/Payments (primary)" in stores(emulator)


def test_a_changed_password_is_sent_whole_and_never_the_mask(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    result = cli(
        emulator, "apply", manifest, "--auto-approve", REDIS_PAYMENTS_PASSWORD="rotated-Passw0rd-2"
    )
    assert result.code == 0, result.all
    assert "config.password: (sensitive) -> (sensitive)" in result.out
    redis = stores(emulator)["payments/production/redis/Payments production"]
    assert redis.config["password"] == "rotated-Passw0rd-2"  # type: ignore[attr-defined]
    patches = [r.body for r in emulator.state.requests if r.method == "PATCH"]
    assert mask_secret(PASSWORD) not in json.dumps(patches)


def test_an_owned_store_removed_from_the_manifests_is_deleted_only_with_allow_delete(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    write(tmp_path, PAYMENTS.split("  - environment: staging")[0])
    refused = cli(emulator, "apply", manifest, "--auto-approve")
    assert refused.code == 1
    assert "--allow-delete" in refused.err
    assert len(emulator.state.stores()) == 2
    allowed = cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete")
    assert allowed.code == 0, allowed.all
    assert list(stores(emulator)) == ["payments/production/redis/Payments production"]


def test_an_unmanaged_store_is_reported_never_deleted_and_is_drift(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    hand = seed_store(emulator)
    planned = cli(emulator, "plan", manifest, "--detailed-exitcode")
    assert planned.code == 0, planned.all  # unmanaged alone is not a change
    assert f"? payments/qa/redis  (id {hand})" in planned.out
    assert cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete").code == 0
    assert emulator.state.store(hand).id == hand
    drift = cli(emulator, "drift", manifest, "--format", "json")
    assert drift.code == 2
    unmanaged = json.loads(drift.out)["unmanaged"]
    assert [(u["address"], u["id"]) for u in unmanaged] == [("payments/qa/redis", hand)]


def test_prune_true_deletes_undeclared_stores_it_does_not_own(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(
        tmp_path, PAYMENTS.replace("project: payments\n", "project: payments\nprune: true\n")
    )
    hand = seed_store(emulator)
    result = cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete")
    assert result.code == 0, result.all
    assert hand not in {s.id for s in emulator.state.stores()}


def test_projects_no_manifest_names_are_never_read_or_touched(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    other = seed_store(emulator, "production", project="search", tags=[OWNER])
    manifest = write(tmp_path, PAYMENTS)
    assert cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete").code == 0
    assert emulator.state.store(other).version == 1
    assert not [r for r in emulator.state.requests if other in r.path]


def test_drift_after_an_out_of_band_change_goes_red_then_apply_fixes_it(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    redis = stores(emulator)["payments/production/redis/Payments production"]
    emulator.state.mutate_store(redis.id, {"on": False, "config": {"host": "evil.example"}})  # type: ignore[attr-defined]
    drift = cli(emulator, "drift", manifest)
    assert drift.code == 2
    assert 'config.host: "redis.payments.internal" -> "evil.example"' not in drift.out
    assert 'config.host: "evil.example" -> "redis.payments.internal"' in drift.out
    assert "on: false -> true" in drift.out
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    assert cli(emulator, "drift", manifest).code == 0


def test_a_hand_changed_password_is_drift(emulator: EmulatorServer, tmp_path: Path) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    redis = stores(emulator)["payments/production/redis/Payments production"]
    emulator.state.mutate_store(redis.id, {"config": {"password": "someone-else-set-this"}})  # type: ignore[attr-defined]
    drift = cli(emulator, "drift", manifest, "--format", "json")
    assert drift.code == 2
    change = next(c for c in json.loads(drift.out)["changes"] if c["id"] == redis.id)  # type: ignore[attr-defined]
    assert change["secrets"] == {"password": "changed"}


def test_an_unowned_existing_store_is_adopted_by_a_patch(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.create_store(
        "payments", "production", "redis",
        {"name": "Payments production", "on": True, "tags": ["team:payments", "tier:1"],
         "config": {"host": "redis.payments.internal", "port": "6379", "username": "launchdarkly",
                    "password": PASSWORD, "tlsEnabled": True}},
    )  # fmt: skip
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "apply", manifest, "--auto-approve")
    assert result.code == 0, result.all
    assert "adopt" in result.out
    assert [w.split()[0] for w in writes(emulator)] == [
        "POST",
        "PATCH",
        "PATCH",
    ]  # staging created (and settled: the twin check's PATCH), prod adopted
    redis = stores(emulator)["payments/production/redis/Payments production"]
    assert OWNER in redis.tags  # type: ignore[attr-defined]


def test_apply_without_auto_approve_refuses_when_stdin_is_not_a_terminal(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "apply", manifest)
    assert result.code == 1
    assert "--auto-approve" in result.err
    assert emulator.state.stores() == []


def test_apply_asks_on_a_terminal_and_only_yes_proceeds(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    declined = cli(emulator, "apply", manifest, stdin=Tty("no\n"))
    assert declined.code == 1 and "Only 'yes'" in declined.err
    assert emulator.state.stores() == []
    accepted = cli(emulator, "apply", manifest, stdin=Tty("yes\n"))
    assert accepted.code == 0, accepted.all
    assert len(emulator.state.stores()) == 2


def test_json_plan_is_deterministic_and_shaped_as_the_spec_says(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    seed_store(emulator)
    first = cli(emulator, "plan", manifest, "--format", "json")
    second = cli(emulator, "plan", manifest, "--format", "json")
    assert first.out == second.out
    doc = json.loads(first.out)
    assert doc["format_version"] == "1" and doc["api_host"] == emulator.url
    assert doc["summary"] == {"create": 2, "update": 0, "delete": 0, "no-op": 0, "unmanaged": 1}
    for change in doc["changes"]:
        assert {"address", "action", "id", "version", "before", "after", "patch"} <= set(change)
    assert doc["changes"][0]["after"]["config"]["password"] == "(sensitive)"


def test_markdown_plan_starts_with_a_summary_table(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    result = cli(emulator, "plan", manifest, "--format", "markdown")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[2].startswith("| create | update | delete")
    assert "| 2 | 0 | 0 | 0 | 0 |" in result.out
    assert "<details>" in result.out


def test_an_ignore_rule_accepts_drift_until_it_expires(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, PAYMENTS)
    cli(emulator, "apply", manifest, "--auto-approve")
    redis = stores(emulator)["payments/production/redis/Payments production"]
    emulator.state.mutate_store(redis.id, {"on": False})  # type: ignore[attr-defined]
    rule = (
        "    tags: [tier:1]\n    ignore:\n      - field: on\n"
        "        reason: INC-42 failover\n        expires: {}\n"
    )
    write(tmp_path, PAYMENTS.replace("    tags: [tier:1]\n", rule.format("2999-12-31")))
    accepted = cli(emulator, "drift", manifest)
    assert accepted.code == 0, accepted.all
    assert "ignored difference on on until 2999-12-31: INC-42 failover" in accepted.out
    write(tmp_path, PAYMENTS.replace("    tags: [tier:1]\n", rule.format("2020-01-31")))
    expired = cli(emulator, "drift", manifest)
    assert expired.code == 2
    assert "expired on 2020-01-31" in expired.out and "on: false -> true" in expired.out


def test_a_protected_store_survives_removal_from_the_manifests(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    protected = PAYMENTS.replace("    tags: [tier:1]\n", "    tags: [tier:1]\n    protect: true\n")
    manifest = write(tmp_path, protected)
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    write(
        tmp_path,
        PAYMENTS.split("  - environment: production")[0]
        + PAYMENTS.split("    tlsEnabled: true\n")[1],
    )
    refused = cli(emulator, "apply", manifest, "--auto-approve", "--allow-delete", "--force")
    assert refused.code == 1
    assert "protected" in refused.err
    assert "payments/production/redis/Payments production" in stores(emulator)


def test_the_change_threshold_refuses_a_large_update_unless_forced(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    def many(on: str) -> str:
        return "project: payments\nstores:\n" + "".join(
            f"  - {{environment: production, integrationKey: redis, name: S{i},"
            f" on: {on if i < 4 else 'true'}, config: {{host: h{i}}}}}\n"
            for i in range(10)
        )

    manifest = write(tmp_path, many("true"))
    assert cli(emulator, "apply", manifest, "--auto-approve").code == 0
    write(tmp_path, many("false"))  # 4 of 10 live stores change: over 30%
    refused = cli(emulator, "apply", manifest, "--auto-approve")
    assert refused.code == 1
    assert "4 of 10 live stores" in refused.err and "--force" in refused.err
    assert all(s.on for s in emulator.state.stores())
    assert cli(emulator, "apply", manifest, "--auto-approve", "--force").code == 0
    assert sum(1 for s in emulator.state.stores() if not s.on) == 4
