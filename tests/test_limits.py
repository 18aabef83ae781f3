"""The pure bounds: deadlines on an injected clock, the body cap, the strict JSON decoder."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.api.limits import (
    MAX_DEPTH,
    BodyReader,
    BodyTooLarge,
    Deadline,
    DeadlineExceeded,
    _decode_strict,
    _shallow,
    _short_numbers,
    decode_json,
    describe_size,
    excerpt,
)
from reconciler.api.wire import Malformed


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_deadline_counts_down_and_then_raises() -> None:
    clock = Clock()
    deadline = Deadline(5.0, clock)
    clock.now += 4.0
    assert deadline.remaining() == pytest.approx(1.0)
    clock.now += 1.0
    with pytest.raises(DeadlineExceeded):
        deadline.remaining()


def test_the_body_reader_stops_at_the_cap_and_at_the_deadline() -> None:
    clock = Clock()
    reader = BodyReader(Deadline(10.0, clock), max_body=10)
    reader.add(b"12345")
    reader.add(b"67890")
    assert reader.body() == b"1234567890"
    with pytest.raises(BodyTooLarge):
        reader.add(b"x")
    slow = BodyReader(Deadline(10.0, clock), max_body=1000)
    slow.add(b"a")
    clock.now += 10.0
    with pytest.raises(DeadlineExceeded):
        slow.add(b"b")


def test_sizes_are_described_in_the_largest_whole_unit() -> None:
    assert [describe_size(n) for n in (8 << 20, 512 << 10, 100)] == [
        "8 MiB",
        "512 KiB",
        "100 bytes",
    ]


def test_valid_json_decodes_including_64_bit_integers() -> None:
    body = b'{"a": [1, -9223372036854775808, 18446744073709551615, 1.5, "\\u00e9", null]}'
    assert decode_json(body) == {"a": [1, -(2**63), 2**64 - 1, 1.5, "é", None]}


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nests deeper than 64 levels"),
        (b"[" * 100_000, "nests deeper than 64 levels"),
        (b"18446744073709551616", "beyond 64 bits"),
        (b"-" + b"9" * 30, "an integer of 30 digits"),
        (b"[Infinity]", "Infinity, which is not JSON"),
        (b'"\\udc00"', "not valid Unicode"),
        (b'{"\\ud800": 1}', "not valid Unicode"),
        (b"\xc3\x28", "not UTF-8 (byte 0)"),
        (b"{", "not JSON (Expecting property name"),
    ],
)
def test_hostile_json_is_malformed_with_a_reason(body: bytes, why: str) -> None:
    with pytest.raises(Malformed) as info:
        decode_json(body)
    assert why in str(info.value)


def test_an_excerpt_is_short_and_on_one_line() -> None:
    assert excerpt("<html>\n  <body>" + "x" * 1000) == ("<html> <body>" + "x" * 1000)[:200]


_edge_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(codec=None), max_size=8)
)
_edge_values = st.recursive(
    _edge_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


def _strict_outcome(body: bytes) -> object:
    try:
        return ("value", _decode_strict(body.decode("utf-8")))
    except Malformed as exc:
        return ("malformed", str(exc))


def _outcome(body: bytes) -> object:
    try:
        return ("value", decode_json(body))
    except Malformed as exc:
        return ("malformed", str(exc))


@settings(max_examples=300, deadline=None)
@given(value=_edge_values, ensure_ascii=st.booleans(), nest=st.integers(0, 70))
def test_the_fast_decoder_answers_exactly_as_the_strict_reader(
    value: object, ensure_ascii: bool, nest: int
) -> None:
    body = ("[" * nest + json.dumps(value, ensure_ascii=ensure_ascii) + "]" * nest).encode(
        "utf-8", "surrogatepass"
    )
    if b"\xed" in body:  # an encoded surrogate is not UTF-8: both stop at the decode
        return
    assert repr(_outcome(body)) == repr(_strict_outcome(body))


_number_texts = st.from_regex(
    r"-?(0|[1-9][0-9]{0,20})(\.[0-9]{1,20})?([eE][+-]?[0-9]{1,3})?", fullmatch=True
)
_spaces = st.sampled_from(["", " ", "\n", "\t", "\r\n ", "\x0c", "\u00a0"])


@settings(max_examples=400, deadline=None)
@given(
    numbers=st.lists(_number_texts, max_size=4),
    keys=st.lists(
        st.sampled_from(["a", "b", "é", "\\ud800", "\\udc00", "\\ud83d\\ude00"]), max_size=4
    ),
    space=_spaces,
    nest=st.integers(0, 40),
)
def test_number_texts_duplicate_keys_and_whitespace_decode_as_the_strict_reader(
    numbers: list[str], keys: list[str], space: str, nest: int
) -> None:
    members = ",".join(f'{space}"{k}"{space}:{space}{i}' for i, k in enumerate(keys))
    body = "[" * nest + f"[{','.join(numbers)}{space}]" + f",{{{members}}}" + "]" * nest
    encoded = ("[" + body + "]").encode("utf-8")
    assert repr(_outcome(encoded)) == repr(_strict_outcome(encoded))


@settings(max_examples=400, deadline=None)
@given(
    value=_edge_values,
    cut=st.integers(0, 200),
    byte=st.binary(min_size=0, max_size=2),
)
def test_a_corrupted_body_decodes_or_fails_as_the_strict_reader(
    value: object, cut: int, byte: bytes
) -> None:
    body = json.dumps({"items": [value, {"k": value}]}).encode("utf-8", "surrogatepass")
    corrupted = body[:cut] + byte + body[cut + len(byte) :]
    try:
        corrupted.decode("utf-8")
    except UnicodeDecodeError:  # both stop at the decode, with the same message
        with pytest.raises(Malformed, match="not UTF-8") as info:
            decode_json(corrupted)
        assert "byte" in str(info.value)
        return
    assert repr(_outcome(corrupted)) == repr(_strict_outcome(corrupted))


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


_tricky_text = st.text(st.sampled_from('[]{}"\\\\/ab\\n'), max_size=6)
_tricky_values = st.recursive(
    st.none() | st.integers(-5, 5) | _tricky_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_tricky_text, inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(value=_tricky_values, nest=st.integers(0, 70), padding=st.integers(0, 70))
def test_the_nesting_bound_counts_brackets_outside_strings_only(
    value: object, nest: int, padding: int
) -> None:
    siblings = [[] for _ in range(padding)]  # many brackets, no depth
    whole: object = value
    for _ in range(nest):
        whole = [whole]
    document = [siblings, whole]
    body = json.dumps(document).encode("utf-8")
    assert _shallow(body) == (_depth(document) <= MAX_DEPTH)


@settings(max_examples=300, deadline=None)
@given(
    value=_tricky_values,
    digits=st.integers(15, 22),
    quoted=st.booleans(),
    sign=st.sampled_from(["", "-"]),
)
def test_long_digit_runs_in_strings_are_not_numbers(
    value: object, digits: int, quoted: bool, sign: str
) -> None:
    run = sign + "9" * digits
    item = json.dumps(f"id{run}x") if quoted else run
    body = f'[{json.dumps(value)}, {item}, "\\\\", "\\"{run}"]'.encode()
    assert _short_numbers(body) == (quoted or digits < 19)
    assert repr(_outcome(body)) == repr(_strict_outcome(body))
