"""HTTP/1.1 answers read off a byte stream: the parser under the fast wire (``keepalive``).

``read_response`` reads one answer from a ``Stream`` (bytes pulled through a ``recv`` callable
that returns ``b""`` at the end of the stream): the status line, the header fields, interim 1xx
answers skipped, then the body as its framing says (RFC 9112 §6.3): none for HEAD, 204 and
304; chunked (extensions ignored, trailers read and dropped); ``Content-Length``; else up to
the end of the connection. It is strict where h11 (the reference the tests compare it with)
is lenient, never the other way round: CRLF line ends only, no folded lines, no control
characters, one agreed ``Content-Length``, no transfer coding but ``chunked``. Everything is
bounded: the head at ``MAX_HEAD`` bytes and ``MAX_FIELDS`` fields (trailers alike), a chunk-size
line at ``MAX_LINE``, the 1xx answers at ``MAX_INTERIM``, the body at the caller's cap (an
error answer's at its own cap, cut rather than failed). Whatever does not parse is a
``WireError``; no input makes it hang (``recv`` holds the deadline) or raise anything else.
``Headers`` is the answer's fields as a read-only, case-insensitive mapping, built once.
``Answer`` (an answer read in full) and ``Unanswered`` (none came) are what either wire under
the client returns and raises (``reconciler.api.attempt``). No I/O, no httpx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar, overload

MAX_HEAD = 64 * 1024
"""Bytes of an answer's status line and header fields (and of its chunked trailers)."""
MAX_FIELDS = 256
"""Header fields of one answer (and trailer fields)."""
MAX_LINE = 1024
"""Bytes of one chunk-size line."""
MAX_INTERIM = 8
"""Interim (1xx) answers before the final one."""
NO_BODY = frozenset({204, 304})
_T = TypeVar("_T")

_STATUS = re.compile(rb"HTTP/1\.([01]) ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?")
_FIELDS = re.compile(rb"(?:[-!#$%&'*+.^_`|~0-9a-zA-Z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*")
_CHUNK = re.compile(rb"([0-9A-Fa-f]{1,16})(?:;[\t\x20-\x7e\x80-\xff]*)?")
_DIGITS = re.compile(rb"[0-9]{1,20}")


class WireError(Exception):
    """A request got no complete answer. ``connecting``: no connection was made; ``timeout``:
    the deadline passed; ``too_large``: the body was longer than the cap; ``undecodable``: its
    compressed body was corrupt; ``silent``: the connection closed before any byte of an answer
    (a kept-alive connection the server had closed while idle)."""

    def __init__(
        self, message: str, *, connecting: bool = False, timeout: bool = False,
        too_large: bool = False, undecodable: bool = False, silent: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.connecting = connecting
        self.timeout = timeout
        self.too_large = too_large
        self.undecodable = undecodable
        self.silent = silent


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read in full: what the retry, error and parse logic look at."""

    status_code: int
    headers: Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


class Unanswered(Exception):
    """An attempt (on either wire: ``reconciler.api.attempt``) without a usable answer.
    ``description``: ``TypeName: message`` (secrets not yet redacted); ``transport``: a
    transport failure (retryable unless ``fails_fast``); ``timeout``: the deadline passed."""

    def __init__(
        self, description: str, *, transport: bool = True, fails_fast: bool = False,
        timeout: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(description)
        self.description = description
        self.transport = transport
        self.fails_fast = fails_fast
        self.timeout = timeout


class Headers(Mapping[str, str]):
    """Header fields, read-only; names in any case; repeated fields joined with ``", "``.
    Iterates lower-case names."""

    __slots__ = ("_fields",)

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        fields: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            fields[key] = f"{fields[key]}, {value}" if key in fields else value
        self._fields = fields

    @classmethod
    def _lowered(cls, fields: dict[str, str]) -> Headers:
        made = cls.__new__(cls)
        made._fields = fields
        return made

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str | _T, /) -> str | _T: ...
    def get(self, name: str, default: object = None, /) -> object:
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __repr__(self) -> str:
        return f"Headers({sorted(self._fields)})"  # names only: values may be anything


@dataclass(frozen=True, slots=True)
class Response:
    """One final answer. ``whole``: the body was read to its end (not cut at the cap);
    ``reusable``: the connection may carry the next request."""

    status: int
    headers: Headers
    body: bytes
    whole: bool
    reusable: bool


class Stream:
    """Bytes from ``recv`` (which returns ``b""`` once the peer has closed), with what was
    received but not yet parsed in ``data``."""

    __slots__ = ("data", "recv")

    def __init__(self, recv: Callable[[], bytes]) -> None:
        self.recv = recv
        self.data = b""

    def until(self, mark: bytes, limit: int, what: str) -> bytes:
        """The bytes before the next ``mark`` (consumed with it), at most ``limit`` of them."""
        data = self.data
        end = data.find(mark)
        if end < 0:
            buf = bytearray(data)
            while end < 0:
                if len(buf) > limit:
                    raise WireError(f"the {what} exceeds {limit} bytes")
                chunk = self.recv()
                if not chunk:
                    raise WireError(f"the connection closed in the {what}", silent=not buf)
                start = max(0, len(buf) - len(mark) + 1)
                buf += chunk
                end = buf.find(mark, start)
            data = bytes(buf)
        if end > limit:
            raise WireError(f"the {what} exceeds {limit} bytes")
        self.data = data[end + len(mark) :]
        return data[:end]

    def exact(self, n: int) -> bytes:
        """The next ``n`` bytes; fewer before the end of the stream is an error."""
        data = self.data
        if len(data) >= n:
            self.data = data[n:]
            return data[:n]
        buf = bytearray(data)
        while len(buf) < n:
            chunk = self.recv()
            if not chunk:
                raise WireError(f"the connection closed {n - len(buf)} bytes short of the body")
            buf += chunk
        self.data = bytes(buf[n:])
        return bytes(buf[:n])

    def to_close(self, cap: int) -> tuple[bytes, bool]:
        """Everything up to the end of the stream, at most ``cap`` bytes; whether it was all."""
        buf = bytearray(self.data)
        self.data = b""
        while len(buf) <= cap:
            chunk = self.recv()
            if not chunk:
                return bytes(buf), True
            buf += chunk
        return bytes(buf[:cap]), False


def read_response(stream: Stream, method: str, cap: int, error_cap: int) -> Response:
    """The next final answer on ``stream`` to a ``method`` request; its body read up to
    ``cap`` bytes (a success) or ``error_cap`` (any other status). A success body announced
    longer than ``cap`` is not read at all (``whole`` false)."""
    for _ in range(MAX_INTERIM + 1):
        status, minor, fields = _head(stream)
        if status >= 200:
            break
        if status == 101:
            raise WireError("the server switched protocols (101) unasked")
    else:
        raise WireError(f"more than {MAX_INTERIM} interim (1xx) answers")
    headers = Headers._lowered(fields)
    tokens = fields.get("connection", "").lower().replace(" ", "").split(",")
    reusable = minor == "1" and "close" not in tokens
    limit = cap if 200 <= status < 300 else min(cap, error_cap)
    coding = fields.get("transfer-encoding")
    if coding is not None and coding.strip(" \t").lower() != "chunked":
        raise WireError(f"unsupported Transfer-Encoding {coding[:40]!r}")
    length = _length(fields.get("content-length"))  # checked even where no body follows
    if method == "HEAD" or status in NO_BODY:
        return Response(status, headers, b"", True, reusable)
    if coding is not None:
        body, whole = _chunked(stream, limit)  # both framings: smuggling? never reuse
        return Response(status, headers, body, whole, reusable and "content-length" not in fields)
    if length is None:
        body, whole = stream.to_close(limit)
        return Response(status, headers, body, whole, False)
    if length > limit:
        if limit == cap:  # a success: not worth reading
            return Response(status, headers, b"", False, False)
        return Response(status, headers, stream.exact(limit), False, False)
    return Response(status, headers, stream.exact(length), True, reusable)


def _head(stream: Stream) -> tuple[int, str, dict[str, str]]:
    """Status, HTTP minor version and fields (lower-case names) of the next answer's head."""
    head = stream.until(b"\r\n\r\n", MAX_HEAD, "answer's head")
    line, _, block = head.partition(b"\r\n")
    matched = _STATUS.fullmatch(line)
    if matched is None:
        raise WireError(f"malformed status line {line[:60]!r}")
    fields = _fields(block + b"\r\n" if block else b"", "header")
    return int(matched[2]), matched[1].decode(), fields


def _fields(block: bytes, what: str) -> dict[str, str]:
    """``name: value`` lines (each ending in CRLF) as a dict of lower-case names."""
    if block.count(b"\r\n") > MAX_FIELDS:
        raise WireError(f"more than {MAX_FIELDS} {what} fields")
    if _FIELDS.fullmatch(block) is None:
        raise WireError(f"malformed {what} field")
    fields: dict[str, str] = {}
    for line in block.split(b"\r\n")[:-1]:
        raw, _, value = line.partition(b":")
        name = raw.decode("ascii").lower()
        text = value.strip(b" \t").decode("latin-1")
        if name in fields:
            text = f"{fields[name]}, {text}"
        fields[name] = text
    return fields


def _length(value: str | None) -> int | None:
    """The ``Content-Length``, repeated values (comma-joined) all the same; ``None``: none."""
    if value is None:
        return None
    values = {v.strip(" \t") for v in value.split(",")}
    if len(values) != 1:
        raise WireError("conflicting Content-Length values")
    text = values.pop().encode("latin-1")
    if _DIGITS.fullmatch(text) is None:
        raise WireError(f"malformed Content-Length {text[:40]!r}")
    return int(text)


def _chunked(stream: Stream, cap: int) -> tuple[bytes, bool]:
    """A chunked body, at most ``cap`` bytes of it, and whether it was all; its trailer
    fields are read (bounded like a head) and dropped."""
    body = bytearray()
    while True:
        line = stream.until(b"\r\n", MAX_LINE, "chunk-size line")
        matched = _CHUNK.fullmatch(line.rstrip(b" \t"))
        if matched is None:
            raise WireError(f"malformed chunk-size line {line[:40]!r}")
        size = int(matched[1], 16)
        if size == 0:
            break
        if len(body) + size > cap:
            body += stream.exact(cap - len(body))
            return bytes(body), False
        body += stream.exact(size)
        if stream.exact(2) != b"\r\n":
            raise WireError("a chunk does not end in CRLF")
    trailers, count = bytearray(), 0
    while (line := stream.until(b"\r\n", MAX_HEAD, "trailer")) != b"":
        trailers += line + b"\r\n"
        count += 1
        if len(trailers) > MAX_HEAD or count > MAX_FIELDS:
            raise WireError(f"the trailer exceeds {MAX_HEAD} bytes or {MAX_FIELDS} fields")
    _fields(bytes(trailers), "trailer")
    return bytes(body), True
