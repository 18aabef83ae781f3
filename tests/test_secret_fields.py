"""Any config value that came from ``${...}`` is a secret in every view, not only passwords."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import PAYMENTS, Result, cli, write

from reconciler.emulator import EmulatorServer

HOST = "redis-host-from-env.internal"
USER = "user-from-env-Qx7"
PORT = "6390"
OTHER_HOST = "hand-edited-host.example"
PLAIN_ENV = {"REDIS_HOST": HOST, "REDIS_USER": USER, "REDIS_PORT": PORT}
MANIFEST = (
    PAYMENTS.replace("host: redis.payments.internal", "host: ${REDIS_HOST}")
    .replace("username: launchdarkly", "username: ${REDIS_USER}")
    .replace("port: 6379", "port: ${REDIS_PORT}")
    .replace("name: Payments production", "name: ${STORE_NAME}")
    .replace("tags: [tier:1]", 'tags: ["tier:${TIER}"]')
)
ENV = {**PLAIN_ENV, "STORE_NAME": "Payments from env", "TIER": "tier-from-env"}


def run(server: EmulatorServer, *argv: str, **env: str) -> Result:
    return cli(server, *argv, **{**ENV, **env})


def assert_hidden(text: str) -> None:
    for value in (HOST, USER, OTHER_HOST):
        assert value not in text, f"a ${{...}} config value leaked: {value}"
    assert f'"{PORT}"' not in text and f": {PORT}" not in text


def redis_id(server: EmulatorServer) -> str:
    return next(s.id for s in server.state.stores() if s.integration_key == "redis")


def test_interpolated_plain_config_values_never_appear_in_any_command_or_file(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, MANIFEST)
    journal = tmp_path / "journal.jsonl"
    outputs = [run(emulator, "validate", manifest).all]
    outputs += [
        run(emulator, "plan", manifest, "--format", f).all for f in ("text", "json", "markdown")
    ]
    saved = str(tmp_path / "plan.json")
    outputs.append(run(emulator, "plan", manifest, "--out", saved).all)
    outputs.append(Path(saved).read_text())
    outputs += [
        run(emulator, "show", saved, "--format", f).all for f in ("text", "json", "markdown")
    ]
    assert all(
        "Plan:" in o or '"summary"' in o or "### reconciler plan" in o for o in outputs[-3:]
    )  # show worked
    applied = run(emulator, "apply", "--plan", saved, "--auto-approve", "--journal", str(journal))
    assert applied.code == 0, applied.all
    outputs.append(applied.all)
    store = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    assert (store.config["host"], store.config["username"], store.config["port"]) == (
        HOST,
        USER,
        PORT,
    )
    emulator.state.mutate_store(redis_id(emulator), {"config": {"host": OTHER_HOST}, "on": False})
    drift = [run(emulator, "drift", manifest, "--format", f) for f in ("text", "json", "markdown")]
    assert all(d.code == 2 for d in drift)
    assert "config.host: (sensitive) -> (sensitive)" in drift[0].out
    outputs += [d.all for d in drift]
    again = run(emulator, "apply", manifest, "--auto-approve", "--journal", str(journal))
    assert again.code == 0, again.all
    outputs += [again.all, journal.read_text()]
    for output in outputs:
        assert_hidden(output)
    # name and tags from ${...} are not secrets: they are shown as they are
    assert "Payments from env" in outputs[1] and "tier:tier-from-env" in outputs[1]


def test_an_interpolated_host_that_matches_live_is_no_diff_line(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, MANIFEST)
    assert run(emulator, "apply", manifest, "--auto-approve").code == 0
    assert run(emulator, "plan", manifest, "--detailed-exitcode").code == 0
    # another field changes: the plan shows only that field, not a false host/username line
    write(tmp_path, MANIFEST.replace("    on: true\n", "    on: false\n", 1))
    changed = run(emulator, "plan", manifest, "--detailed-exitcode")
    assert changed.code == 2, changed.all
    assert "on: true -> false" in changed.out
    assert "config.host" not in changed.out and "config.username" not in changed.out
    assert "(sensitive)" not in changed.out
    document = json.loads(run(emulator, "plan", manifest, "--format", "json").out)
    redis = next(c for c in document["changes"] if c["address"].endswith("redis"))
    assert redis["before"]["config"]["host"] == "(sensitive)"
    assert redis["after"]["config"]["username"] == "(sensitive)"


def test_an_interpolated_host_is_compared_exactly_with_the_live_value(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, MANIFEST)
    assert run(emulator, "apply", manifest, "--auto-approve").code == 0
    # a live value that merely looks like a mask of the declared host is a change, not a match
    masked_lookalike = HOST[:3] + "*" * 8 + HOST[-3:]
    emulator.state.mutate_store(redis_id(emulator), {"config": {"host": masked_lookalike}})
    result = run(emulator, "plan", manifest, "--detailed-exitcode", "--format", "json")
    assert result.code == 2
    redis = next(c for c in json.loads(result.out)["changes"] if c["address"].endswith("redis"))
    assert redis["secrets"]["host"] == "changed"
    assert masked_lookalike not in result.out
    assert run(emulator, "apply", manifest, "--auto-approve").code == 0
    store = next(s for s in emulator.state.stores() if s.integration_key == "redis")
    assert store.config["host"] == HOST


def test_a_saved_plan_pins_interpolated_plain_values_like_passwords(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    manifest = write(tmp_path, MANIFEST)
    saved = str(tmp_path / "plan.json")
    key = {"RECONCILER_FINGERPRINT_KEY": "k" * 32}
    assert run(emulator, "plan", manifest, "--out", saved, **key).code == 0
    text = Path(saved).read_text()
    assert "#config.host" in text and "#config.username" in text
    moved = run(emulator, "apply", "--plan", saved, "--auto-approve",
                REDIS_HOST="attacker.example", **key)  # fmt: skip
    assert moved.code == 1
    assert "config.host no longer matches" in moved.err
    assert "attacker.example" not in moved.all
    assert emulator.state.stores() == []
