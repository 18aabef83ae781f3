"""The ownership tag and the protection marker are not user data: ignore rules, ``defaults``
and tag diffs can neither drop nor hide them."""

from __future__ import annotations

from pathlib import Path

from cli_helpers import cli, write

from reconciler.emulator import EmulatorServer
from reconciler.model import DEFAULT_OWNER_TAG
from reconciler.plan.changes import PROTECT_TAG

IGNORE_TAGS = """\
    ignore:
      - field: tags
        reason: "the ops team tags stores by hand"
        expires: 2999-12-31
"""
STORE = """\
project: payments
{defaults}stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    tags: [declared]
{protect}{ignore}    config: {{host: redis.internal}}
"""
HAND_MADE = {
    "name": "Payments production",
    "on": False,
    "tags": ["hand-tag"],
    "config": {"host": "redis.internal"},
}


def manifest(*, protect: bool = False, ignore: str = "store") -> str:
    defaults = "defaults:\n" + IGNORE_TAGS.replace("    ", "  ", 1) if ignore == "defaults" else ""
    return STORE.format(
        defaults=defaults,
        protect="    protect: true\n" if protect else "",
        ignore=IGNORE_TAGS if ignore == "store" else "",
    )


def tags(server: EmulatorServer) -> set[str]:
    (store,) = server.state.stores()
    return set(store.tags)


def test_an_ignore_rule_on_tags_does_not_stop_adoption_adding_the_ownership_tag(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.create_store("payments", "production", "redis", HAND_MADE)
    path = write(tmp_path, manifest())
    plan = cli(emulator, "plan", path, "--detailed-exitcode")
    assert plan.code == 2, plan.all
    assert "adopt" in plan.out
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    assert tags(emulator) == {"hand-tag", DEFAULT_OWNER_TAG}  # user tags ignored, owner added
    assert cli(emulator, "plan", path, "--detailed-exitcode").code == 0


def test_an_ignore_rule_on_tags_cannot_drop_the_protection_marker(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = write(tmp_path, manifest(protect=True))
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    assert PROTECT_TAG in tags(emulator)
    (store,) = emulator.state.stores()
    emulator.state.mutate_store(store.id, {"tags": ["hand-tag", DEFAULT_OWNER_TAG]})
    plan = cli(emulator, "plan", path, "--detailed-exitcode")
    assert plan.code == 2, plan.all
    assert PROTECT_TAG in plan.out  # the tag diff shows the marker coming back
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    assert tags(emulator) == {"hand-tag", DEFAULT_OWNER_TAG, PROTECT_TAG}
    # so removing the manifest entry can still not delete it
    empty = write(tmp_path, "project: payments\nstores: []\n")
    refused = cli(emulator, "apply", empty, "--auto-approve", "--allow-delete")
    assert refused.code == 1 and "protected" in refused.err
    assert len(emulator.state.stores()) == 1


def test_an_ignore_rule_in_defaults_cannot_drop_the_protection_marker_either(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.state.create_store("payments", "production", "redis", HAND_MADE)
    path = write(tmp_path, manifest(protect=True, ignore="defaults"))
    plan = cli(emulator, "plan", path)
    assert plan.code == 0, plan.all
    assert PROTECT_TAG in plan.out
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    assert tags(emulator) == {"hand-tag", DEFAULT_OWNER_TAG, PROTECT_TAG}


def test_protect_false_removes_the_marker_even_under_an_ignore_rule(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    path = write(tmp_path, manifest(protect=True))
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    write(tmp_path, manifest(protect=False))
    assert cli(emulator, "apply", path, "--auto-approve").code == 0
    assert PROTECT_TAG not in tags(emulator)


def test_declaring_the_protection_marker_as_a_tag_is_an_error_with_its_position(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    in_store = manifest().replace("tags: [declared]", f"tags: [declared, '{PROTECT_TAG}']")
    in_defaults = f"defaults:\n  tags: ['{PROTECT_TAG}']\n" + manifest().split("\n", 1)[1]
    for text, position in ((in_store, ":6:"), (in_defaults, ":3:")):
        path = write(tmp_path, "project: payments\n" + text.removeprefix("project: payments\n"))
        result = cli(emulator, "validate", path)
        assert result.code == 1
        assert position in result.err and "reserved" in result.err and "protect: true" in result.err
        assert "Traceback" not in result.err
