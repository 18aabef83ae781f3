"""Tests of manifest.yamlcheck through the loader: tags, ambiguous numbers, escapes that are no
text, aliases, nesting and merge keys are refused or bounded on nodes, each at its position."""

from __future__ import annotations

import time

import pytest

from reconciler.manifest import yamlpos
from reconciler.manifest.limits import Limits
from reconciler.manifest.yamlpos import load_documents

LOADERS = [
    pytest.param(yamlpos._FastLoader, id="libyaml"),
    pytest.param(yamlpos._PureLoader, id="pure"),
]


def problems(text: str, limits: Limits | None = None) -> list[str]:
    _, found = load_documents(text, "f.yaml", limits or Limits())
    return [str(p) for p in found]


def value_of(text: str) -> object:
    docs, found = load_documents(text, "f.yaml")
    assert found == []
    return docs[0].data


ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    "text",
    [
        "on: !!bool x\n",
        "on: !!bool yes\n",
        'port: !!float ""\n',
        "expires: !!timestamp x\n",
        "password: !!binary aGk=\n",
        "name: !custom x\n",
        "name: !!python/name:os.system x\n",
        "tags: !!set {a, b}\n",
        "stores: !!omap [{a: 1}]\n",
        "!!float 5: x\n",
    ],
)
def test_an_explicit_tag_is_refused_at_its_node(text: str) -> None:
    (problem,) = problems(text)

    assert problem.startswith("f.yaml:1:")
    assert "explicit YAML tag '!" in problem


def test_a_tag_that_names_the_type_the_value_has_anyway_changes_nothing_and_passes() -> None:
    assert value_of("name: !!str text\nport: !!int 5\n") == {"name": "text", "port": 5}


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("port: 014353\n", "octal"),
        ("port: -07\n", "octal"),
        ("port: 1:30\n", "base-60"),
        ("port: 0x18EB\n", "plain decimal"),
        ("port: 0b11\n", "plain decimal"),
        ("port: 6_379\n", "plain decimal"),
        ("port: 1:30.5\n", "ambiguous number"),
    ],
)
def test_numbers_yaml_versions_read_differently_are_refused(text: str, why: str) -> None:
    (problem,) = problems(text)

    assert problem.startswith("f.yaml:1:7: invalid YAML value: ambiguous")
    assert why in problem


def test_plain_decimal_numbers_and_quoted_digits_load() -> None:
    assert value_of('a: 6379\nb: -1\nc: 0\nd: "014353"\ne: 0.5\n') == {
        "a": 6379, "b": -1, "c": 0, "d": "014353", "e": 0.5,
    }  # fmt: skip


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    "escape", ["\\uD800", "\\uDFFF", "\\U0011FFFF", "\\x00", "\\e", "\\x9b", "\\uFFFF"]
)
def test_an_escape_that_is_no_text_is_refused_by_either_parser(
    loader: type[object], escape: str
) -> None:
    docs, found, _ = yamlpos._load(loader, f'project: p\nname: "a{escape}b"\n', "f.yaml")  # type: ignore[arg-type]

    (problem,) = found
    assert (problem.line, problem.message.startswith("invalid YAML")) == (2, True)
    assert all("name" not in doc.data or doc.data["name"] is None for doc in docs)  # type: ignore[operator,index]


def test_an_escaped_control_character_in_a_key_is_refused() -> None:
    assert problems('"a\\eb": 1\n') == [
        "f.yaml:1:1: invalid YAML key: escaped character #x001B is not allowed (not text)"
    ]


def test_a_message_never_shows_the_refused_value() -> None:
    (problem,) = problems("password: 0123456\n")

    assert "0123456" not in problem


def test_an_alias_bomb_fails_fast_with_one_problem() -> None:
    started = time.monotonic()
    (problem,) = problems(ALIAS_BOMB)

    assert "YAML aliases expand this document by more than 10000 values" in problem
    assert time.monotonic() - started < 5  # an upper bound only: unbounded, this takes minutes


def test_a_few_aliases_load_as_copies_and_the_copy_limit_is_a_setting() -> None:
    text = "a: &a [1, 2, 3]\nb: *a\nc: *a\n"

    assert value_of(text) == {"a": [1, 2, 3], "b": [1, 2, 3], "c": [1, 2, 3]}
    assert len(problems(text, Limits(max_alias_nodes=5))) == 1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("project: p\nstores: &s [*s]\n", "f.yaml:2:9"),
        ("stores:\n  - &s {name: [*s]}\n", "f.yaml:2:5"),
    ],
)
def test_an_alias_inside_its_own_anchor_is_refused(text: str, where: str) -> None:
    assert problems(text) == [f"{where}: recursive alias: the value contains itself"]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a: ", "}")])
def test_nesting_past_the_limit_is_one_problem_at_the_first_node_too_deep(
    loader: type[object], opening: str, closing: str
) -> None:
    text = "a: " + opening * 100 + "1" + closing * 100 + "\n"  # the pure parser recurses
    _, found, _ = yamlpos._load(loader, text, "f.yaml")  # type: ignore[arg-type]

    (problem,) = found
    assert problem.message == "nesting deeper than 64 levels"
    assert (problem.line, problem.column) == (1, 4 + 63 * len(opening))


def test_nesting_of_500_levels_is_the_same_one_problem() -> None:
    assert problems("a: " + "[" * 500 + "]" * 500) == ["f.yaml:1:67: nesting deeper than 64 levels"]


def test_block_nesting_past_the_limit_is_refused_too() -> None:
    assert problems("- " * 100 + "x\n") == ["f.yaml:1:129: nesting deeper than 64 levels"]


def test_nesting_past_what_libyaml_parses_is_its_problem_not_a_recursion_error() -> None:
    (problem,) = problems("a: " + "[" * 5000 + "]" * 5000 + "\n")

    assert problem.startswith("f.yaml:1:1003: invalid YAML: ")
    assert "nesting depth" in problem


def test_merge_keys_take_the_first_mapping_that_sets_a_key_and_the_own_key_last() -> None:
    text = "a: &a {x: 1, y: 1}\nb: &b {x: 2, z: 2}\nc: {<<: [*a, *b], y: 3}\n"

    assert value_of(text)["c"] == {"x": 1, "y": 3, "z": 2}  # type: ignore[index]


def test_a_mapping_met_again_through_an_alias_after_its_merge_keeps_its_keys() -> None:
    text = "a: &a {x: 1}\nb: &b {<<: *a, x: 2}\nc: *b\n"

    assert value_of(text) == {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 2}}


def test_merges_that_multiply_keys_stay_the_size_of_the_keys_written() -> None:
    levels = "".join(
        f"{c}: &{c} {{<<: [{', '.join([f'*{p}'] * 9)}]}}\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    docs, found = load_documents("a: &a {k: 1, j: 2}\n" + levels, "f.yaml")

    assert found == []
    assert docs[0].data["i"] == {"k": 1, "j": 2}  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a {<<: *a}\n", "recursive merge"),
        ("a: &a [1]\nb: {<<: *a}\n", "expected a mapping or a list of mappings"),
    ],
)
def test_a_merge_key_that_cannot_merge_is_a_problem(text: str, message: str) -> None:
    (problem,) = problems(text)

    assert "invalid merge key: " in problem and message in problem


def test_a_long_chain_of_merges_is_bounded_not_a_recursion_error() -> None:
    chain = "m0: &m0 {k: 1}\n" + "".join(
        f"m{i}: &m{i} {{<<: *m{i - 1}, k{i}: 1}}\n" for i in range(1, 3000)
    )
    (problem,) = problems(chain + "<<: *m2999\n")

    assert "merge keys nested more than 64 deep" in problem or "YAML aliases expand" in problem
