"""The HTTP/1.1 answer parser under the fast wire, with h11 (written by others) as the oracle:
random valid answers, cut into random pieces as ``recv`` would return them, parse to what h11
parses; broken ones (random bytes, mutations of valid ones) are refused with ``WireError`` or
parse to what h11 parses too, never anything else; every bound holds."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.api.http11 import (
    MAX_FIELDS,
    MAX_HEAD,
    MAX_INTERIM,
    MAX_LINE,
    Headers,
    Stream,
    WireError,
    read_response,
)

BIG = 1 << 20
TOKEN = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~",
    min_size=1,
    max_size=12,
)
VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20).map(
    lambda v: v
) | st.builds(lambda a, b: f"{a} {b}", TOKEN, TOKEN)
FRAMED = {"content-length", "transfer-encoding", "connection"}


def stream_of(pieces: list[bytes]) -> Stream:
    """A stream that returns ``pieces`` one per ``recv``, then the end of the stream."""
    feed: Iterator[bytes] = iter(pieces)
    return Stream(lambda: next(feed, b""))


def cut(data: bytes, points: list[int]) -> list[bytes]:
    marks = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(marks) if b > a]


def h11_parse(data: bytes, method: str) -> tuple[int, dict[str, str], bytes] | None:
    """What h11 makes of ``data`` (then the end of the stream): status, fields, body; ``None``
    when it refuses it or finds no complete answer."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    status, fields, body = 0, {}, b""
    try:
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                status = event.status_code
                fields = dict(Headers((n.decode(), v.decode("latin-1")) for n, v in event.headers))
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, fields, body
            elif event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                return None
    except h11.ProtocolError:
        return None


def ours(pieces: list[bytes], method: str) -> tuple[int, dict[str, str], bytes]:
    answer = read_response(stream_of(pieces), method, BIG, BIG)
    assert answer.whole
    return answer.status, dict(answer.headers), answer.body


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid answer (with interim 1xx answers before it) and the method it answers."""
    method = draw(st.sampled_from(["GET", "GET", "DELETE", "HEAD"]))
    status = draw(st.sampled_from([200, 201, 204, 304, 400, 404, 409, 429, 500]))
    fields = draw(st.lists(st.tuples(TOKEN, VALUE), max_size=6))
    fields = [(n, v) for n, v in fields if n.lower() not in FRAMED]
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    head = b"".join(
        b"HTTP/1.1 100 Continue\r\nX-A: b\r\n\r\n" for _ in range(draw(st.integers(0, 2)))
    )
    head += b"HTTP/1.%d %d %s\r\n" % (draw(st.integers(0, 1)), status, draw(TOKEN).encode())
    head += b"".join(f"{n}:{' ' * draw(st.integers(0, 2))}{v}\r\n".encode() for n, v in fields)
    if method == "HEAD" or status in (204, 304):
        return head + b"Content-Length: %d\r\n\r\n" % len(body), method
    if framing == "length":
        return head + b"Content-Length: %d\r\n\r\n%s" % (len(body), body), method
    if framing == "close":
        return head + b"Connection: close\r\n\r\n" + body, method
    sizes = draw(st.lists(st.integers(1, 64), max_size=8))
    chunks, at = [], 0
    for size in sizes:
        if at < len(body):
            part = body[at : at + size]
            ext = draw(st.sampled_from([b"", b";x=1", b";y"]))
            chunks.append(b"%x%s\r\n%s\r\n" % (len(part), ext, part))
            at += size
    if at < len(body):
        chunks.append(b"%X\r\n%s\r\n" % (len(body) - at, body[at:]))
    trailer = draw(st.sampled_from([b"", b"Expires: never\r\n"]))
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + b"".join(
        chunks
    ) + b"0\r\n" + trailer + b"\r\n", method


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), st.lists(st.integers(0, 10_000), max_size=12))
def test_a_valid_answer_in_any_pieces_parses_to_what_h11_parses(
    answer: tuple[bytes, str], points: list[int]
) -> None:
    data, method = answer
    expected = h11_parse(data, method)
    assert expected is not None
    assert ours(cut(data, points), method) == expected


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    for kind, at, byte in edits:
        at %= len(data) + 1
        if kind == 0:
            data = data[:at] + byte + data[at:]
        elif kind == 1:
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at] + byte + data[at + 1 :]
    return data


EDITS = st.lists(
    st.tuples(st.integers(0, 2), st.integers(0, 10_000), st.sampled_from(
        [b"\r", b"\n", b" ", b"\t", b":", b"\x00", b"\x7f", b"0", b"f", b";", b",", b"\xff", b"G"]
    )),
    min_size=1, max_size=4,
)  # fmt: skip


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), EDITS, st.lists(st.integers(0, 10_000), max_size=6))
def test_a_broken_answer_is_refused_or_parsed_as_h11_parses_it(
    answer: tuple[bytes, str], edits: list[tuple[int, int, bytes]], points: list[int]
) -> None:
    data, method = answer
    broken = mutate(data, edits)
    try:
        got = ours(cut(broken, points), method)
    except WireError:
        return
    assert h11_parse(broken, method) == got  # what we accept, h11 reads the same way


@settings(max_examples=300)
@given(st.binary(max_size=400), st.sampled_from(["GET", "HEAD"]))
def test_random_bytes_are_refused_cleanly_or_read_as_h11_reads_them(
    data: bytes, method: str
) -> None:
    try:
        got = ours([data], method)
    except WireError:
        return
    assert h11_parse(data, method) == got


def refused(data: bytes, method: str = "GET") -> str:
    with pytest.raises(WireError) as caught:
        read_response(
            stream_of([data[i : i + 4096] for i in range(0, len(data), 4096)]), method, BIG, BIG
        )
    return str(caught.value)


def test_a_head_over_its_byte_limit_is_refused_without_reading_on() -> None:
    endless = iter(lambda: b"X-Pad: " + b"a" * 4000 + b"\r\n", None)
    reads = []

    def recv() -> bytes:
        reads.append(1)
        return b"HTTP/1.1 200 OK\r\n" if len(reads) == 1 else next(endless)

    with pytest.raises(WireError, match="exceeds"):
        read_response(Stream(recv), "GET", BIG, BIG)
    assert len(reads) < MAX_HEAD // 4000 + 4


def test_more_header_fields_than_allowed_are_refused() -> None:
    fields = b"A: b\r\n" * (MAX_FIELDS + 1)
    assert "fields" in refused(b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 0\r\n\r\n")


def test_endless_interim_answers_are_refused() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" * (MAX_INTERIM + 1)
    assert "interim" in refused(interim + b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


def test_a_chunk_size_line_past_its_limit_is_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert "chunk-size" in refused(head + b"1;" + b"x" * MAX_LINE + b"\r\n")


def test_trailers_past_their_limit_are_refused() -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
    assert "trailer" in refused(head + b"A: b\r\n" * (MAX_FIELDS + 1) + b"\r\n")


@pytest.mark.parametrize(
    "head",
    [
        b"Content-Length: 3\r\nContent-Length: 4",
        b"Content-Length: -1",
        b"Content-Length: 3x",
        b"Transfer-Encoding: gzip",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        b"Bad Name: x",
        b" folded: line",
        b"X: a\rb",
    ],
)
def test_ambiguous_or_malformed_framing_is_refused(head: bytes) -> None:
    refused(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\nabcd")


def test_a_body_shorter_than_its_length_is_an_error_not_an_answer() -> None:
    assert "short" in refused(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")


def test_a_success_body_over_the_cap_is_not_read_and_an_error_body_is_cut() -> None:
    big = b"HTTP/1.1 %d X\r\nContent-Length: 100\r\n\r\n" + b"a" * 100
    success = read_response(stream_of([big % 200]), "GET", 10, 5)
    assert (success.body, success.whole, success.reusable) == (b"", False, False)
    error = read_response(stream_of([big % 500]), "GET", 10, 5)
    assert (error.body, error.whole, error.reusable) == (b"aaaaa", False, False)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"8\r\naaaaaaaa\r\n" * 3
    cut_short = read_response(stream_of([chunked]), "GET", 10, 5)
    assert (cut_short.body, cut_short.whole) == (b"a" * 10, False)


def test_a_connection_is_reusable_only_when_the_answer_says_nothing_against_it() -> None:
    ok = b"HTTP/1.%d 200 OK\r\n%sContent-Length: 0\r\n\r\n"
    assert read_response(stream_of([ok % (1, b"")]), "GET", BIG, BIG).reusable
    assert not read_response(
        stream_of([ok % (1, b"Connection: close\r\n")]), "GET", BIG, BIG
    ).reusable
    assert not read_response(stream_of([ok % (0, b"")]), "GET", BIG, BIG).reusable


def test_headers_read_in_any_case_and_join_repeated_fields() -> None:
    headers = Headers([("X-Ratelimit-Reset", "5"), ("Via", "a"), ("via", "b")])
    assert headers["x-ratelimit-reset"] == headers.get("X-RATELIMIT-RESET") == "5"
    assert headers.get("Via") == "a, b"
    assert headers.get("Missing") is None and "via" in headers and "VIA" in headers
    assert sorted(headers) == ["via", "x-ratelimit-reset"]
