"""Fuzzing the manifest loader (hypothesis): whatever the file holds, ``load_manifests`` returns a
result or raises ``ManifestError``, never any other exception, and nothing it returns or says
holds text that cannot be written out (a lone surrogate would crash `plan` later).

Inputs: YAML rendered from random structures with random tags, anchors, aliases, merge keys and
odd scalars (octal, base-60, escapes, huge numbers, dates that are none), a valid manifest with
one value replaced by such a node, random Unicode text, and random bytes. The default run is
about ten seconds; set ``RECONCILER_FUZZ_EXAMPLES`` (examples per test, default 150) to run
longer, e.g. ``RECONCILER_FUZZ_EXAMPLES=5000 pytest tests/test_manifest_fuzz.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ManifestError
from reconciler.manifest.load import LoadResult, load_manifests

EXAMPLES = int(os.environ.get("RECONCILER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a shared, busy machine: time is bounded by the CLI tests instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
ENV = {"REDIS_PAYMENTS_PASSWORD": "fuzz-password", "X": "value", "EMPTY": ""}

KEYS = [
    "project", "stores", "defaults", "environment", "integrationKey", "name", "on", "tags",
    "config", "host", "port", "username", "password", "tlsEnabled", "tableName", "region",
    "roleArn", "externalId", "protect", "ignore", "field", "reason", "expires", "safety",
    "changeThreshold", "minStores", "prune", "<<", "? [a]", '"k\\e"', "1:30", "014353", "",
]  # fmt: skip
SCALARS = [
    "014353", "-07", "1:30", "1:30.5", "0x1F", "0b11", "1_000", "6379", "0", "-0", "+5",
    "9" * 40, "1e400", "-.inf", ".nan", "yes", "no", "on", "off", "TRUE", "false", "~", "null",
    "2026-02-30", "2026-12-31", "2026-12-31T10:00:00Z", "2026-13-01 25:61", "redis",
    "dynamodb", "us-east-1", "arn:aws:iam::123456789012:role/r", "${X}", "$${X}", "${",
    "${MISSING}", "${EMPTY}", '"\\uD800"', '"\\uDFFF"', '"\\U0011FFFF"', '"\\x00"',
    '"\\e[31m"', '"\\x85"',
    '"\\uFFFE"', "'it''s'", '""', "''", "|\n  block\n", ">-\n  folded\n", "!", "&", "*", "[", "{",
    "-", "? ", ": ", "#", "%YAML 1.1", "---", "...", "\t", "é", "チーム",
]  # fmt: skip
TAGS = [
    "", "", "", "!!bool ", "!!float ", "!!int ", "!!str ", "!!timestamp ", "!!binary ",
    "!!null ", "!!set ", "!!omap ", "!!pairs ", "!!seq ", "!!map ", "!!merge ", "!!value ",
    "!!python/object/apply:os.system ", "!custom ", "!<tag:example.com,2000:x> ", "! ",
]  # fmt: skip


@st.composite
def node(draw: st.DrawFn, depth: int = 0, anchors: list[str] | None = None) -> str:
    """One flow-style YAML node, decorated at random with a tag and an anchor."""
    anchors = [] if anchors is None else anchors
    kinds = ["scalar", "scalar", "text", "alias"] + (["list", "map"] if depth < 5 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "alias":
        name = draw(st.sampled_from([*anchors, "nope"])) if anchors else "nope"
        return f"*{name}"
    prefix = draw(st.sampled_from(TAGS))
    if draw(st.integers(0, 4)) == 0:
        anchor = f"a{len(anchors)}"
        anchors.append(anchor)
        prefix += f"&{anchor} "
    if kind == "scalar":
        return prefix + draw(st.sampled_from(SCALARS))
    if kind == "text":
        return prefix + repr(draw(st.text(max_size=12)))  # Python quoting: YAML-ish, often wrong
    count = draw(st.integers(0, 4))
    items = [draw(node(depth + 1, anchors)) for _ in range(count)]
    if kind == "list":
        return prefix + "[" + ", ".join(items) + "]"
    keys = [draw(st.sampled_from(KEYS)) for _ in range(count)]
    return prefix + "{" + ", ".join(f"{k}: {v}" for k, v in zip(keys, items, strict=True)) + "}"


@st.composite
def block_document(draw: st.DrawFn) -> str:
    """A block mapping of fuzzed nodes, sometimes several documents."""
    anchors: list[str] = []
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        key = draw(st.sampled_from(KEYS))
        indent = " " * draw(st.sampled_from([0, 0, 0, 2, 1]))
        lines.append(f"{indent}{key}: {draw(node(0, anchors))}")
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["---", "- x", "  - y: 1", "...", "#", "? a"])))
    return "\n".join(lines) + "\n"


VALID = """\
project: payments
defaults: {tags: [team:payments], on: true}
stores:
  - environment: production
    integrationKey: redis
    name: Payments production
    tags: [tier:1]
    ignore: [{field: on, reason: incident, expires: 2026-12-31}]
    config: {host: redis.internal, port: 6379, password: "${REDIS_PAYMENTS_PASSWORD}"}
  - environment: staging
    integrationKey: dynamodb
    name: Payments staging
    config:
      region: us-east-1
      tableName: t
      roleArn: arn:aws:iam::123456789012:role/r
      externalId: ${X}
"""


@st.composite
def mutated_manifest(draw: st.DrawFn) -> str:
    """The valid manifest with one value (after some ': ') replaced by a fuzzed node."""
    cuts = [i + 2 for i in range(len(VALID)) if VALID.startswith(": ", i)]
    cut = draw(st.sampled_from(cuts))
    end = VALID.index("\n", cut)
    return VALID[:cut] + draw(node()) + VALID[end:]


def load_bytes(data: bytes) -> LoadResult | ManifestError:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_bytes(data)
        try:
            return load_manifests([path], env=ENV)
        except ManifestError as error:
            return error


def check(outcome: LoadResult | ManifestError) -> None:
    """A clean outcome: problems with positions, and only text that can be written out."""
    if isinstance(outcome, ManifestError):
        assert outcome.problems
        for problem in outcome.problems:
            assert problem.line >= 1 and problem.column >= 1
        str(outcome).encode("utf-8")
        return
    for store in outcome.state.stores:
        text = repr((store.project, store.environment, store.name, store.tags, store.config))
        text.encode("utf-8")
        for value in store.config.values():
            str(getattr(value, "value", value)).encode("utf-8")
    for warning in outcome.warnings:
        warning.encode("utf-8")


@FUZZ
@given(block_document())
def test_any_yamlish_document_loads_or_is_a_manifest_error(text: str) -> None:
    check(load_bytes(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(mutated_manifest())
def test_a_valid_manifest_with_one_hostile_value_loads_or_is_a_manifest_error(text: str) -> None:
    check(load_bytes(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
def test_random_bytes_and_text_load_or_are_a_manifest_error(data: bytes) -> None:
    check(load_bytes(data))


def test_the_lone_surrogate_that_used_to_pass_validate_is_refused() -> None:
    """The example the fuzzer's class stands for: it passed validate, then crashed plan."""
    text = VALID.replace("name: Payments production", 'name: "\\uD800"')
    outcome = load_bytes(text.encode())

    assert isinstance(outcome, ManifestError)
    check(outcome)
