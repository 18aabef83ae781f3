"""The bounds every API answer is held to: an overall deadline, a body cap, and a strict decoder.

``NetLimits`` carries the per-request deadline (``--timeout``, covering connect, headers and
body), the response body cap and the bound on a request's whole retry sequence. ``Deadline`` is
one attempt's monotonic deadline; ``BodyReader`` collects a streamed body chunk by chunk and
stops with ``BodyTooLarge`` or ``DeadlineExceeded`` as soon as either bound is crossed, so a
trickling or endless server costs at most the deadline and the cap. ``decode_json`` turns a
body into JSON values or raises ``Malformed``: strict UTF-8, no ``NaN``/``Infinity``, integers
that fit 64 bits, nesting of at most ``MAX_DEPTH`` levels, no lone surrogates. Nothing here
does I/O or knows about HTTP libraries; ``reconciler.api.client`` drives it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

import orjson

from reconciler.api.wire import Malformed

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BODY = 8 * 1024 * 1024
ERROR_BODY_CAP = 64 * 1024  # error answers are read this far: only an excerpt is ever shown
DEFAULT_RETRY_BUDGET = 120.0
MAX_DEPTH = 64
MAX_INT_DIGITS = 20
EXCERPT_CHARS = 200


@dataclass(frozen=True, slots=True)
class NetLimits:
    """How long one request may take (``timeout``, seconds, connect to last body byte), how
    large its body may be (``max_body``, bytes), and how long it may keep being retried
    (``retry_budget``, seconds from the first attempt; never less than one ``timeout``)."""

    timeout: float = DEFAULT_TIMEOUT
    max_body: int = DEFAULT_MAX_BODY
    retry_budget: float = DEFAULT_RETRY_BUDGET


DEFAULT_LIMITS = NetLimits()


class DeadlineExceeded(Exception):
    """An attempt ran past its deadline."""


class BodyTooLarge(Exception):
    """A response body grew past the cap."""


class Deadline:
    """A point in ``clock`` time (monotonic by default) ``seconds`` from now."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.seconds = seconds
        self._at = clock() + seconds

    def remaining(self) -> float:
        """Seconds left; raises ``DeadlineExceeded`` when there are none."""
        left = self._at - self._clock()
        if left <= 0:
            raise DeadlineExceeded
        return left


class BodyReader:
    """Collects body chunks while both the deadline and the cap hold."""

    def __init__(self, deadline: Deadline, max_body: int) -> None:
        self._deadline = deadline
        self._max = max_body
        self._chunks: list[bytes] = []
        self._size = 0

    def add(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            raise BodyTooLarge
        self._chunks.append(chunk)
        self._deadline.remaining()

    def body(self) -> bytes:
        return b"".join(self._chunks)


def describe_size(size: int) -> str:
    """``8 MiB``, ``512 KiB`` or ``100 bytes``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale and size % scale == 0:
            return f"{size // scale} {unit}"
    return f"{size} bytes"


def _reject_constant(name: str) -> object:
    raise Malformed(f"the body holds {name}, which is not JSON")


def _parse_int(text: str) -> int:
    """An integer that fits 64 bits (signed, or unsigned when positive): what JSON encoders and
    LaunchDarkly's int64 fields can carry."""
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise Malformed(f"the body holds an integer of {len(text.lstrip('-'))} digits")
    number = int(text)
    if not -(2**63) <= number < 2**64:
        raise Malformed(f"the body holds an integer beyond 64 bits ({text})")
    return number


_DIGITS_ONLY = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))  # digits "0", rest " "
_LONG_RUN = b"0" * 19


_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'"[]{}')
_NESTING = bytes.maketrans(b"[{]}", b"(())")


def _short_numbers(body: bytes) -> bool:
    """Whether ``body``, if it is JSON, holds no number with a run of 19 digits (then no
    integer in it exceeds 64 bits). Digits inside strings (ids, keys) do not count: a run is
    inside a string when an odd number of quotes precede it, once escaped backslashes and
    quotes are removed."""
    if _LONG_RUN not in body.translate(_DIGITS_ONLY):
        return True
    body = _unescaped(body)
    digits = body.translate(_DIGITS_ONLY)
    quotes, start = 0, 0
    at = digits.find(_LONG_RUN)
    while at >= 0:
        quotes += body.count(b'"', start, at)
        if quotes % 2 == 0:
            return False
        start, at = at, digits.find(_LONG_RUN, at + len(_LONG_RUN))
    return True


def _unquoted(body: bytes, delete: bytes = b"") -> list[bytes]:
    """The parts of JSON ``body`` outside its strings (escaped backslashes and quotes removed
    first, so the remaining quotes delimit the strings), bytes in ``delete`` dropped."""
    return _unescaped(body).translate(None, delete).split(b'"')[::2]


def _unescaped(body: bytes) -> bytes:
    """``body`` without its escaped backslashes and quotes: its remaining quotes delimit the
    JSON strings in it."""
    if b"\\" in body:
        body = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    return body


def _shallow(body: bytes) -> bool:
    """Whether ``body``, if it is JSON, nests at most ``MAX_DEPTH`` levels: at most that many
    brackets at all, or else its brackets outside strings empty out in that many rounds of
    removing innermost pairs (each round removes one level)."""
    if body.count(b"{") + body.count(b"[") <= MAX_DEPTH:
        return True
    pairs = b"".join(_unquoted(body, _NOT_STRUCTURE)).translate(_NESTING)
    for _ in range(MAX_DEPTH):
        if not pairs:
            return True
        pairs = pairs.replace(b"()", b"")
    return not pairs


def decode_json(body: bytes) -> object:
    """The JSON value of ``body``, or ``Malformed`` saying why there is none.

    Fastest path, for a body that nests at most ``MAX_DEPTH`` levels (``_shallow``) and
    holds no run of 19 digits (so every integer in it has at most 18 digits and fits 64 bits):
    ``orjson``, which itself rejects invalid UTF-8, lone surrogates and ``NaN``/``Infinity``
    and keeps the last of duplicate keys where the first stood, as the strict reader does.
    Otherwise: the C decoder without hooks, then one walk (``_proven``) that proves the value
    is exactly what the strict reader below would return. A body neither can prove (any
    failure, a lone surrogate, an integer beyond 64 bits, a non-finite number, deep nesting) is
    decoded again by the strict reader, so every error and its message is the strict reader's
    (``tests/test_limits.py`` compares the readers on generated bodies)."""
    if _short_numbers(body) and _shallow(body):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the strict reader below says why
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Malformed(f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        fast: object = json.loads(text)
    except (ValueError, RecursionError):
        pass
    else:
        if _proven(fast, text.isascii() and "\\u" not in text):
            return fast
    return _decode_strict(text)


_INT_LOW, _INT_HIGH = -(2**63), 2**64
_INF = float("inf")


def _proven(value: object, ascii_only: bool) -> bool:
    """Whether the strict reader would return ``value`` as it is: nesting of at most
    ``MAX_DEPTH`` levels, integers within 64 bits, finite floats, and (unless ``ascii_only``:
    the text had neither non-ASCII characters nor ``\\u`` escapes) valid Unicode strings."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            if depth >= MAX_DEPTH:
                return False
            if not ascii_only and not all(_valid_text(key) for key in item):
                return False
            children: Iterable[object] = item.values()
        elif type(item) is list:
            if depth >= MAX_DEPTH:
                return False
            children = item
        else:
            children = (item,)
            depth -= 1
        for child in children:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is str:
                if not ascii_only and not _valid_text(cast(str, child)):
                    return False
            elif kind is int:
                if not _INT_LOW <= cast(int, child) < _INT_HIGH:
                    return False
            elif kind is float and not -_INF < cast(float, child) < _INF:
                return False  # NaN fails both comparisons
    return True


def _valid_text(text: str) -> bool:
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _decode_strict(text: str) -> object:
    """The strict reader: hooks reject constants and oversized integers as they are read."""
    try:
        value: object = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except RecursionError:
        raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as exc:
        raise Malformed(f"not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    check_value(value)
    return value


def check_value(value: object) -> None:
    """``Malformed`` unless ``value`` nests at most ``MAX_DEPTH`` levels and every string in it
    (keys included) is valid Unicode (JSON's ``\\ud800`` escapes can make lone surrogates)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise Malformed(f"the body nests deeper than {MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                children = list(item.values())
            else:
                children = item
            stack.extend((child, depth + 1) for child in children)


def _check_text(text: str) -> None:
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed("the body holds a string that is not valid Unicode") from None


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of ``text`` with runs of whitespace collapsed."""
    return " ".join(text[: limit * 4].split())[:limit]
