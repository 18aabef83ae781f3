"""The Markdown plan for pull-request comments: under GitHub's comment limit whatever the plan
size, summary first, one collapsed block per store, diff fences GitHub can colour, every
section balanced, long lists counted instead of spelled out."""

from __future__ import annotations

import dataclasses
import re

import pytest

from reconciler.model import (
    DEFAULT_OWNER_TAG,
    DesiredState,
    DesiredStore,
    LiveStore,
    Location,
    ProjectSettings,
    StoreStatus,
)
from reconciler.plan.changes import Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import Refusal
from reconciler.render.markdown import COMMENT_LIMIT, render_markdown

FENCE_OPEN = "```diff"


def want(env: str, name: str = "Store", host: str = "redis.internal") -> DesiredStore:
    return DesiredStore(
        project="payments", environment=env, integration_key="redis", name=name, on=True,
        tags=("team:payments",), config={"host": host, "port": "6379"},
        location=Location("m.yaml", 3, 5),
    )  # fmt: skip


def have(
    env: str, ident: int, name: str = "Store", host: str = "redis.internal", owned: bool = True
) -> LiveStore:
    tags = ("team:payments", DEFAULT_OWNER_TAG) if owned else ("team:payments",)
    return LiveStore(
        id=f"{ident:024x}", project="payments", environment=env, integration_key="redis",
        name=name, on=True, tags=tags, version=3,
        config={"host": host, "port": "6379", "username": "", "password": "", "tlsEnabled": False},
        status=StoreStatus(available=True),
    )  # fmt: skip


def plan_of(desired: list[DesiredStore], live: list[LiveStore], prune: bool = True) -> Plan:
    state = DesiredState(tuple(desired), {"payments": ProjectSettings("payments", prune=prune)})
    return build_plan(state, live)


def creates(count: int, name: str = "Store") -> Plan:
    return plan_of([want(f"env-{i:05d}", name) for i in range(count)], [])


def fenced_lines(markdown: str) -> list[str]:
    """Every line inside a ```diff fence."""
    inside, out = False, []
    for line in markdown.splitlines():
        if line == FENCE_OPEN:
            inside = True
        elif line == "```":
            inside = False
        elif inside:
            out.append(line)
    return out


def assert_well_formed(markdown: str) -> None:
    assert len(markdown) < COMMENT_LIMIT
    assert markdown.count("<details>") == markdown.count("</details>")
    assert markdown.count("<summary>") == markdown.count("</summary>")
    fences = [line for line in markdown.splitlines() if line.lstrip().startswith("```")]
    assert fences == [FENCE_OPEN, "```"] * (len(fences) // 2)  # opened and closed in turn
    assert all(line[:1] in ("+", "-", " ") for line in fenced_lines(markdown))


@pytest.mark.parametrize("count", [1_000, 5_000])
def test_a_huge_plan_fits_in_one_comment_with_a_count_of_what_is_not_shown(count: int) -> None:
    markdown = render_markdown(creates(count))
    assert_well_formed(markdown)
    assert markdown.startswith("### reconciler plan\n\n| create | update | delete")
    assert f"| {count} | 0 | 0 | 0 | 0 |" in markdown
    shown = markdown.count("<details>")
    assert 10 < shown < count
    assert f"… and {count - shown} more stores not shown; see the JSON plan artifact" in markdown
    assert "--format json" in markdown
    assert f"| | … and {count - 100} more | | |" in markdown  # the change table is capped too


def test_the_diff_fence_is_unindented_so_github_colours_it() -> None:
    markdown = render_markdown(creates(3))
    lines = fenced_lines(markdown)
    assert '+ name: "Store"' in lines
    assert '+ config.host: "redis.internal"' in lines
    assert "\n```diff\n+ " in markdown
    assert "more stores not shown" not in markdown
    assert markdown.count("<details>") == 3


def test_an_update_shows_the_old_value_in_red_and_the_new_in_green() -> None:
    plan = plan_of([want("production", name='Renamed -> "x"')], [have("production", 1)])
    lines = fenced_lines(render_markdown(plan))
    assert '- name: "Store"' in lines
    assert '+ name: "Renamed -> \\"x\\""' in lines


def test_deletes_come_before_creates_so_reviewers_see_them_first() -> None:
    plan = plan_of([want("a-create")], [have("z-delete", 1)])
    markdown = render_markdown(plan)
    assert_well_formed(markdown)
    assert markdown.index("z-delete") < markdown.index("a-create")
    assert '- name: "Store"' in fenced_lines(markdown)


def test_a_long_unmanaged_list_is_counted_not_spelled_out() -> None:
    live = [have(f"env-{i:03d}", i, owned=False) for i in range(300)]
    markdown = render_markdown(plan_of([], live, prune=False))
    assert_well_formed(markdown)
    line = next(x for x in markdown.splitlines() if x.startswith("Unmanaged"))
    assert line.endswith("… and 280 more")
    assert line.count("`payments/") == 20


def test_hostile_names_neither_break_the_blocks_nor_the_limit() -> None:
    forged = "x```\n+ forged</details></summary><details>@team " + "y" * 20_000
    plan = plan_of([want(f"env-{i}", name=forged) for i in range(200)], [])
    markdown = render_markdown(plan)
    assert_well_formed(markdown)
    assert "</details></summary>" not in markdown.replace("</summary>\n", "\n")
    fenced = set(fenced_lines(markdown))
    assert not [line for line in markdown.splitlines() if "@team" in line and line not in fenced]
    assert max(len(line) for line in fenced_lines(markdown)) <= 300


def test_huge_addresses_are_left_out_of_the_tables_rather_than_overflowing() -> None:
    live = [have("e" * 5_000 + str(i), i, owned=False) for i in range(40)]
    desired = [want("f" * 5_000 + str(i)) for i in range(40)]
    markdown = render_markdown(plan_of(desired, live, prune=False))
    assert_well_formed(markdown)
    assert re.search(r"… and \d+ more", markdown)


def test_a_plan_without_changes_says_so() -> None:
    plan = plan_of([want("production")], [have("production", 1)])
    markdown = render_markdown(plan)
    assert "No changes: LaunchDarkly matches the manifests." in markdown
    assert "<details>" not in markdown
    drift = render_markdown(plan, drift=True)
    assert drift.startswith("### reconciler drift report")
    assert "No drift: LaunchDarkly matches the manifests." in drift


def test_many_long_hostile_refusals_and_targets_stay_bounded_and_escaped() -> None:
    hostile = "x\n| forged | row |\n</details>```" + "y" * 5_000
    found = [
        Refusal(f"unknown-environment-{i}", hostile, (f"payments/env-{i}/redis",), None)
        for i in range(500)
    ]
    plan = dataclasses.replace(
        creates(2_000), targets=tuple(f"payments/env-{i}" for i in range(2_000))
    )
    markdown = render_markdown(plan, refusals=found)
    assert len(markdown) <= COMMENT_LIMIT
    assert ":no_entry: **Refused: apply would refuse this plan** (500):" in markdown
    shown = [line for line in markdown.splitlines() if line.startswith("- `unknown-environment")]
    rest = re.search(r"^- … and (\d+) more reasons$", markdown, re.MULTILINE)
    assert shown and rest is not None and len(shown) + int(rest.group(1)) == 500
    assert all(len(line) < 2 * 1_000 for line in shown)  # each message cut, then escaped
    assert ":dart: **Targeted run" in markdown
    assert "\n| forged" not in markdown and "</details>```" not in markdown
    assert markdown.count("<details>") == markdown.count("</details>")


def test_a_change_in_a_critical_environment_is_labelled_in_the_table_and_its_block() -> None:
    plan = creates(2)
    critical = dataclasses.replace(plan.changes[0], critical=True)
    markdown = render_markdown(dataclasses.replace(plan, changes=(critical, plan.changes[1])))
    rows = [line for line in markdown.splitlines() if line.startswith("| + |")]
    assert ["**critical environment**" in row for row in rows] == [True, False]
    assert markdown.count("[critical environment]</summary>") == 1
