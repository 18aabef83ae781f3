"""The fast reader of plain YAML builds exactly what the libyaml reader builds, or declines."""

from __future__ import annotations

import random
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_manifest_fastcheck import document, mutate

from reconciler.errors import ManifestError
from reconciler.manifest.limits import Limits
from reconciler.manifest.load import load_manifests
from reconciler.manifest.yamlfast import read_simple
from reconciler.manifest.yamlpos import load_documents

ROOT = Path(__file__).resolve().parent.parent

# Values near the edges of the subset: YAML 1.1 types, ambiguous numbers, quoting, colons,
# comments, flow sequences, interpolation, and text the fast reader must leave alone.
VALUES = [
    "redis", "Bench 000 env 00", "6379", "0", "-1", "+5", "014", "0x1F", "1_000", "1:30", "1.5",
    "1.", ".5", ".inf", "-.inf", ".nan", "1e5", "2026-01-01", "2026-02-30", "2026-01-01 10:00:00",
    "true", "True", "FALSE", "yes", "on", "off", "no", "y", "n", "null", "Null", "~", "",
    '"quoted"', '"with #hash"', "'single'", "'it''s'", '"esc\\n"', '""', "''", "a:b", "a: b",
    "a :b", "arn:aws:iam::1:role/x", "a::", "a:", "a #c", "a#c", "a  # c", "x ", "${X}", "$${X}",
    "${X}:${Y}", "[]", "[ ]", "[a, b]", "[a,b]", "[team:x]", "[a:, b]", "[a: b]", "[1, 2.5, true]",
    "[a, ]", "[[a]]", "{a: 1}", "{}", "|", ">", "!!str x", "!x", "&a x", "*a", "<<", "=", "@x",
    "`x", "%x", "?x", "? x", "-", "- x", "-x", "(a)", "/p", "./p", "a'b", 'a"b', "a,b", "a{b}",
    "a|b", "a?b", "é", "a\tb", "#c",
]  # fmt: skip
KEYS = ["project", "stores", "name", "on", "y", "null", "a", "b_c", "d-e", "<<", "1", "a b"]
QUOTED_KEYS = ["'on'", '"a b"', "''", '"x#y"', "'a: b'", '"q\\"', "'it''s'"]


SAFE = ["redis", "Bench 000 env 00", "6379", "-1", "1.5", "true", "False", "null", "'q'", '"q"',
        "a:b", "${X}", "[a, b]", "[team:x]", "[]", "x ", "a  # c"]  # fmt: skip


@st.composite
def block_texts(draw: st.DrawFn) -> str:
    """Nested mappings and sequences written as people write them (indentation steps of 1 to
    4, indentless sequences, comments, blank lines), values mostly plain but any of VALUES,
    and now and then a line indented one space off."""
    lines: list[str] = []

    def value() -> str:
        return (
            draw(st.sampled_from(SAFE))
            if draw(st.integers(0, 5))
            else draw(st.sampled_from(VALUES))
        )

    def mapping(indent: int, depth: int, first: str = "") -> None:
        for n in range(draw(st.integers(1, 3))):
            lead = first if n == 0 and first else " " * indent
            key = draw(st.sampled_from(KEYS[:9] + QUOTED_KEYS))
            shape = (
                draw(st.sampled_from(["value", "value", "map", "seq"])) if depth < 3 else "value"
            )
            if shape == "value":
                lines.append(f"{lead}{key}: {value()}")
                continue
            lines.append(f"{lead}{key}:" + draw(st.sampled_from(["", "", " # c"])))
            if draw(st.integers(0, 4)) == 0:
                lines.append(draw(st.sampled_from(["", "# c", "   # c"])))
            step = draw(st.sampled_from([1, 2, 2, 4]))
            if shape == "map":
                mapping(indent + step, depth + 1)
            else:
                sequence(indent + draw(st.sampled_from([0, step])), depth + 1)

    def sequence(indent: int, depth: int) -> None:
        for _ in range(draw(st.integers(1, 3))):
            gap = " " * draw(st.sampled_from([1, 1, 2]))
            if draw(st.booleans()):
                lines.append(f"{' ' * indent}-{gap}{value()}")
            else:
                mapping(indent + 1 + len(gap), depth + 1, first=f"{' ' * indent}-{gap}")

    if draw(st.booleans()):
        lines.append("---")
    mapping(0, 0)
    if draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(lines) - 1))
        lines[at] = " " + lines[at] if draw(st.booleans()) else lines[at].removeprefix(" ")
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


def documents() -> st.SearchStrategy[object]:
    scalars = (
        st.sampled_from(
            ["redis", "Store 1", "team:x", "arn:aws:iam::1:role/x", "${X}", "", "yes", "014", "1.5"]
        )
        | st.integers(-5, 70000)
        | st.booleans()
        | st.none()
        | st.floats(-10, 10, width=16)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(KEYS[:9]), inner, max_size=4)
        ),
        max_leaves=20,
    )


def same_as_libyaml(text: str, limits: Limits | None = None) -> bool:
    """Whether the fast reader took ``text``; fails the test if it built anything else."""
    limits = limits or Limits()
    fast = read_simple(text, "m.yaml", limits)
    if fast is None:
        return False
    docs, problems = load_documents(text, "m.yaml", limits)
    assert problems == []
    assert len(docs) == 1
    slow = docs[0]
    assert repr(fast.data) == repr(slow.data)  # repr tells 1 from True and 1.0
    assert fast.values == slow.values
    assert fast.keys == slow.keys
    assert slow.refused == set()
    return True


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(block_texts(), st.sampled_from([2, 3, 4, 5, 6, 64]))
def test_the_fast_reader_agrees_with_libyaml_on_generated_block_texts(
    text: str, depth: int
) -> None:
    same_as_libyaml(text, Limits(max_depth=depth))


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(st.sampled_from(KEYS[:9]), documents(), min_size=1, max_size=5),
    st.sampled_from([2, 4]),
    st.booleans(),
)
def test_the_fast_reader_agrees_with_libyaml_on_dumped_documents(
    data: dict[str, object], indent: int, flow: bool
) -> None:
    text = yaml.safe_dump(data, indent=indent, default_flow_style=None if flow else False)
    same_as_libyaml(text)
    same_as_libyaml(text.replace(f"\n{' ' * indent}- ", "\n- "))  # indentless sequences


def test_the_fast_reader_takes_the_manifests_users_write() -> None:
    shipped = sorted((ROOT / "examples" / "manifests").rglob("*.yaml"))
    assert shipped
    assert [p.name for p in shipped if not same_as_libyaml(p.read_text(encoding="utf-8"))] == []


def test_the_fast_reader_takes_a_typical_manifest_with_comments_and_flow_tags() -> None:
    text = (
        "---\n# payments\nproject: payments  # the team\nprune: true\nsafety:\n"
        "  changeThreshold: 0.5\n  minStores: 3\ndefaults:\n  tags: [team:payments, tier:1]\n"
        "stores:\n- environment: production\n  integrationKey: dynamodb\n  name: Table 1\n"
        "  config:\n    tableName: 'segments'\n    region: \"us-east-1\"\n"
        "    roleArn: arn:aws:iam::123456789012:role/x\n    externalId: ${EXTERNAL_ID}\n"
        "  ignore:\n    - field: name\n      reason: INC-1, renamed by hand\n"
        "      expires: '2030-01-01'\n\n  - x\n"
    )
    assert not same_as_libyaml(text)  # the stray "- x" is libyaml's to report
    assert same_as_libyaml(text.removesuffix("\n  - x\n") + "\n")


def test_the_fast_reader_leaves_what_needs_wording_or_other_types_to_libyaml() -> None:
    for text in [
        "a: 1\na: 2\n",  # duplicate key: a problem with both positions
        "a: 014\n",  # ambiguous integer
        "a: 2026-01-01\n",  # a timestamp
        "a:\n",  # null
        "a: &x 1\nb: *x\n",  # anchors
        "- a\n",  # a list at the top
        "a: b\n  c\n",  # a continued plain scalar
        "a: é\n",  # non-ASCII
        "a: 1\n---\nb: 2\n",  # two documents
    ]:
        assert read_simple(text, "m.yaml") is None, text


def test_the_fast_reader_leaves_nesting_at_the_depth_limit_to_libyaml() -> None:
    deep = "".join(f"{' ' * 2 * i}k{i}:\n" for i in range(8)) + " " * 16 + "leaf: 1\n"
    assert same_as_libyaml(deep, Limits(max_depth=10))
    assert read_simple(deep, "m.yaml", Limits(max_depth=9)) is None
    _, problems = load_documents(deep, "m.yaml", Limits(max_depth=9))
    assert [p.message for p in problems] == ["nesting deeper than 9 levels"]


def _load(folder: Path, env: dict[str, str]) -> str:
    """Everything ``load_manifests`` says about ``folder``, file names made alike."""
    try:
        result = load_manifests([folder], env=env, require_env=False)
    except ManifestError as exc:
        said = repr(([str(p) for p in exc.problems], exc.stopped))
    else:
        said = repr((result.state, result.warnings, result.notes))
    return said.replace(str(folder), "DIR")


def test_manifests_load_the_same_through_either_reader(tmp_path: Path) -> None:
    """Valid and broken manifests (the fast check's mutations) give the same stores, warnings
    and problems, positions included, whether the fast reader or libyaml reads them: a
    trailing non-ASCII comment sends the same text to libyaml."""
    rng = random.Random(1414)
    env = {"PORT": "6380", "X": "x"}
    took = 0
    for case in range(150):
        data = document() if case % 5 == 0 else mutate(document(), rng)
        text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
        if case % 2:
            text = text.replace("\n  - ", "\n- ")  # indentless sequences too
        fast, slow = tmp_path / f"fast{case}", tmp_path / f"slow{case}"
        fast.mkdir()
        slow.mkdir()
        (fast / "m.yaml").write_text(text, encoding="utf-8")
        (slow / "m.yaml").write_text(text + "# \u00e9\n", encoding="utf-8")
        took += read_simple(text, "m.yaml") is not None
        assert read_simple(text + "# \u00e9\n", "m.yaml") is None
        assert _load(fast, env).replace("fast", "") == _load(slow, env).replace("slow", "")
    assert took > 40  # the fast reader took many of them (odd values send the rest to libyaml)
