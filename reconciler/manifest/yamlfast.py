"""A fast reader for the plain subset of YAML that manifests are almost always written in.

``read_simple(text, file, limits)`` returns the ``Document`` that ``yamlpos`` would build for
``text`` (same values, same positions of every value and key, nothing refused), or ``None``
when the text is anything but the plain subset; the caller then reads it with libyaml, which
also words every problem. The subset is one document whose root is a block mapping at column 1,
ASCII text without tabs or carriage returns, one value per line: ``key: value``, ``key:`` with
a nested block below (or a ``- `` sequence at the key's column), ``- key: value`` and
``- value`` sequence items; values are plain scalars without ``#``, ``: ``, anchors, aliases
or tags, quoted scalars without escapes, and flow sequences of plain scalars on one line; full
line and trailing comments; an optional leading ``---``. Plain scalars get their tag from the
same resolver table as the libyaml path; only strings, decimal integers, simple decimal
floats, true/false and null are built here, anything else (a timestamp, ``014``) is left to
the full path. So this never decides anything the full path would decide differently: it only
declines; ``tests/test_manifest_yamlfast.py`` compares both on generated texts. Skipping
libyaml's node objects makes the common manifest several times cheaper to read.
"""

from __future__ import annotations

import re
from typing import cast

from reconciler.errors import ManifestProblem
from reconciler.manifest.limits import DEFAULT_LIMITS, Limits
from reconciler.manifest.yamlcheck import FLOAT_TAG, INT_TAG, STR_TAG
from reconciler.manifest.yamlpos import Document, Path, implicit_resolvers, load_documents

_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"

# Characters a plain scalar may start with, and hold after its first (block context; in a
# flow sequence also no braces or commas). ':' only when no space follows.
_FIRST = r"[A-Za-z0-9_$/.(]"
_BLOCK_PLAIN = _FIRST + r"(?:[A-Za-z0-9 _$/.(){}@=+~^,;%?<>|'\"-]|:(?=[^ ]))*"
_FLOW_ITEM = re.compile(_FIRST + r"(?:[A-Za-z0-9 _$/.()@=+~^;%<>|'\"-]|:(?=[^ ]))*")
# indent, "- " and its spaces, key (plain or quoted), spaces after "key:", then one value:
# plain, "double" or 'single' quoted, or [flow]; then spaces and a comment.
# Runs of spaces and the plain scalar are possessive or atomic: a hostile line (a long run of
# spaces, then a character outside the subset) fails in linear time, without backtracking.
_LINE = re.compile(
    r"( *+)(?:-( ++))?(?:(?:([A-Za-z_][A-Za-z0-9_-]*)|\"([^\"\\]*)\"|'([^']*)'):(?= |$)( *+))?"
    r"(?:((?>" + _BLOCK_PLAIN + r"))|\"([^\"\\]*)\"|'([^']*)'|\[([^\[\]{}#\"']*)\])?"
    r" *(?:(?<= )#.*)?"
)
_SKIPPED = re.compile(r" *(?:#.*)?")  # blank and comment lines
_OUTSIDE = re.compile(r"[^\n\x20-\x7e]")  # tabs, carriage returns, controls, non-ASCII
_DECIMAL = re.compile(r"[-+]?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?[0-9]+\.[0-9]+")

_NONE, _SCALAR, _FLOW = 0, 1, 2  # what follows a line's key or dash

# One content line: number, indent, column of its dash (-1: none), key (None: a "- value"
# item), column of the key or item (1-based), what value follows, the value (a flow
# sequence: a list), its column, and for a flow sequence the columns of its items.
_Line = tuple[int, int, int, str | None, int, int, object, int, tuple[int, ...]]


class _Decline(Exception):
    """The text is outside the subset: read it with libyaml instead."""


def read_simple(text: str, file: str, limits: Limits = DEFAULT_LIMITS) -> Document | None:
    """The one document of ``text`` with its positions, or None to use the full reader."""
    if not text or _OUTSIDE.search(text) is not None:
        return None
    try:
        lines = _tokenize(text)
        if not lines or lines[0][1:3] != (1, -1) or lines[0][3] is None:
            return None
        reader = _Reader(file, lines, limits.max_depth)
        reader.doc.data = reader.mapping(1, ())
        if reader.at != len(lines):
            return None
    except _Decline:
        return None
    return reader.doc


def read_documents(
    text: str, file: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Document], list[ManifestProblem]]:
    """``yamlpos.load_documents``, by this reader when the text is in the subset."""
    simple = read_simple(text, file, limits)
    return ([simple], []) if simple is not None else load_documents(text, file, limits)


def _tokenize(text: str) -> list[_Line]:
    """Every content line of ``text`` (blank and comment lines dropped), values built."""
    lines: list[_Line] = []
    cache: dict[str, object] = {}
    match, skipped = _LINE.fullmatch, _SKIPPED.fullmatch
    for number, line in enumerate(text.split("\n"), 1):
        found = match(line)
        if found is None:
            if skipped(line) is not None or (line == "---" and not lines):
                continue
            raise _Decline
        indent, gap, key, key_double, key_single, spaces, plain, double, single, flow = (
            found.groups()
        )
        lead = column = len(indent) + 1
        dash = -1
        if gap is not None:
            dash = lead
            column += 1 + len(gap)
        start = column
        if key is not None:
            start += len(key) + 1 + len(spaces)
        elif key_double is not None or key_single is not None:
            key = key_double if key_double is not None else key_single
            start += len(key) + 3 + len(spaces)
        if plain is not None:
            plain = plain.rstrip(" ")
            value = cache.get(plain, cache)
            if value is cache:
                value = cache[plain] = _plain(plain)
            lines.append((number, lead, dash, key, column, _SCALAR, value, start, ()))
        elif double is not None or single is not None:
            value = double if double is not None else single
            lines.append((number, lead, dash, key, column, _SCALAR, value, start, ()))
        elif flow is not None:
            items, columns = _flow(flow, start + 1)
            lines.append((number, lead, dash, key, column, _FLOW, items, start, columns))
        elif key is not None:
            lines.append((number, lead, dash, key, column, _NONE, None, start, ()))
        elif gap is not None:
            raise _Decline  # "- " with nothing after it (blank and comment lines: skipped)
    return lines


def _flow(text: str, column: int) -> tuple[list[object], tuple[int, ...]]:
    """The items of a one-line flow sequence whose text (inside the brackets) starts at
    ``column``, and each item's column."""
    if not text.strip(" "):
        return [], ()
    items: list[object] = []
    columns: list[int] = []
    for part in text.split(","):
        item = part.strip(" ")
        if _FLOW_ITEM.fullmatch(item) is None:
            raise _Decline
        columns.append(column + len(part) - len(part.lstrip(" ")))
        items.append(_plain(item))
        column += len(part) + 1
    return items, tuple(columns)


class _Reader:
    """Builds the document from its lines, by indentation, recording every position."""

    def __init__(self, file: str, lines: list[_Line], max_depth: int) -> None:
        self.lines = lines
        self.max_depth = max_depth
        self.doc = Document(file=file, data=None)
        self.values = self.doc.values
        self.keys = self.doc.keys
        self.at = 0

    def mapping(self, column: int, path: Path) -> dict[str, object]:
        """A block mapping whose keys sit at ``column``; its first key is on the current line
        (after a dash when it is a sequence item)."""
        if len(path) + 1 >= self.max_depth:
            raise _Decline  # a value at the limit: libyaml's reader refuses it
        lines, values, keys = self.lines, self.values, self.keys
        out: dict[str, object] = {}
        number, lead, dash, key, _, kind, value, start, columns = lines[self.at]
        values[path] = (number, column)
        while True:
            if key is None or key in out:
                raise _Decline  # a bare value among keys; a repeated key (worded by libyaml)
            here = (*path, key)
            keys[here] = (number, column)
            self.at += 1
            if kind == _SCALAR:
                values[here] = (number, start)
                out[key] = value
            elif kind == _FLOW:
                out[key] = self.flow(number, start, value, columns, here)
            else:
                out[key] = self.nested(column, here)
            if self.at == len(lines):
                return out
            number, lead, dash, key, _, kind, value, start, columns = lines[self.at]
            if lead != column or dash >= 0:
                if lead >= column:
                    raise _Decline  # more indented (a continued value), or a stray dash
                return out  # the enclosing block goes on, or says the indentation is wrong

    def nested(self, column: int, path: Path) -> object:
        """The block value of a ``key:`` at ``column``, on the lines after it."""
        if self.at == len(self.lines):
            raise _Decline  # no value (null): left to the full reader
        lead, dash = self.lines[self.at][1:3]
        if dash >= 0 and lead >= column:
            return self.sequence(lead, path)
        if lead > column and dash < 0:
            return self.mapping(lead, path)
        raise _Decline

    def sequence(self, column: int, path: Path) -> list[object]:
        """A block sequence whose dashes sit at ``column``."""
        if len(path) + 1 >= self.max_depth:
            raise _Decline  # a value at the limit: libyaml's reader refuses it
        lines, values = self.lines, self.values
        values[path] = (lines[self.at][0], column)
        out: list[object] = []
        while True:
            number, lead, dash, key, item, kind, value, start, columns = lines[self.at]
            here = (*path, len(out))
            if key is not None:
                out.append(self.mapping(item, here))
            elif kind == _SCALAR:
                self.at += 1
                values[here] = (number, start)
                out.append(value)
            else:
                self.at += 1
                out.append(self.flow(number, start, value, columns, here))
            if self.at == len(lines):
                return out
            lead, dash = lines[self.at][1:3]
            if dash != column or lead != column:
                if lead > column:
                    raise _Decline
                return out

    def flow(
        self, number: int, start: int, items: object, columns: tuple[int, ...], path: Path
    ) -> list[object]:
        """A flow sequence's items (a new list), recording their positions."""
        if len(path) + 1 >= self.max_depth:
            raise _Decline
        self.values[path] = (number, start)
        for index, column in enumerate(columns):
            self.values[(*path, index)] = (number, column)
        return list(cast(list[object], items))


def _plain(text: str) -> object:
    """A plain scalar's value, as the full reader builds it; declines the rest."""
    tag = _tag(text)
    if tag == STR_TAG:
        return text
    if tag == INT_TAG and _DECIMAL.fullmatch(text) is not None:
        return int(text)
    if tag == _BOOL_TAG:
        return text.lower() == "true"
    if tag == _NULL_TAG:
        return None
    if tag == FLOAT_TAG and _FLOAT.fullmatch(text) is not None:
        return float(text)
    raise _Decline


def _resolvers() -> dict[str, tuple[tuple[str, re.Pattern[str]], ...]]:
    table = implicit_resolvers()
    wildcard = tuple(table.get(None, ()))
    return {first: (*found, *wildcard) for first, found in table.items() if first is not None}


_RESOLVERS = _resolvers()
_ANY = tuple(implicit_resolvers().get(None, ()))


def _tag(text: str) -> str:
    """The tag of a plain scalar, as the full reader's resolver gives it (same table, same
    order: the resolvers of its first character, then those for any)."""
    for tag, pattern in _RESOLVERS.get(text[:1], _ANY):
        if pattern.match(text):
            return tag
    return STR_TAG
