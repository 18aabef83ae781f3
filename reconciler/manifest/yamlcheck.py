"""Checks on composed YAML nodes, made before any node becomes a Python value (SPEC §8).

The loader (``yamlpos``) composes a document's nodes with libyaml, which bounds nesting itself
(1,000 levels) and keeps an alias as a second reference to its anchor's node, so composition is
cheap even for an alias bomb. Everything that could turn a small file into a large or wrong
value is checked here, on nodes: explicit tags (``!!bool x``, ``!!binary``, ``!custom``) are
refused, because a manifest never needs one and PyYAML's constructors crash on some; integers
YAML 1.1 reads differently from YAML 1.2 (octal ``014353``, base-60 ``1:30``, ``0x``, ``0b``,
``1_000``) are refused; escaped characters that are no text (lone surrogates, control
characters) are refused; and merge keys (``<<: *base``) are flattened here with a bound on how
deep merges nest, the earlier mapping winning as YAML specifies. No message shows a value: the
position says where it is, and the value may be a secret.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

STR_TAG = "tag:yaml.org,2002:str"
INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
SEQ_TAG = "tag:yaml.org,2002:seq"
MAP_TAG = "tag:yaml.org,2002:map"
MERGE_TAG = "tag:yaml.org,2002:merge"
_VALUE_TAG = "tag:yaml.org,2002:value"

_DECIMAL_RE = re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$")
# Escapes in double-quoted scalars can produce what the file itself may not hold: C0 and C1
# control characters (tab and line breaks excepted), DEL, lone surrogates, U+FFFE and U+FFFF.
_NOT_TEXT_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# A tag starts a token: at the start of a line or after a space or a flow indicator. Text
# without one cannot hold a tag, so tags are looked for only in files that might.
_MAYBE_TAG_RE = re.compile(r"(?:^|[\s\[\]{},:?-])!", re.MULTILINE)


def may_hold_tags(text: str) -> bool:
    """False when ``text`` certainly has no explicit tag (the common case: no check needed)."""
    return _MAYBE_TAG_RE.search(text) is not None


def _shown_tag(tag: str) -> str:
    if tag.startswith("tag:yaml.org,2002:"):
        return "!!" + tag.removeprefix("tag:yaml.org,2002:")
    return tag if tag.startswith("!") else f"!<{tag}>"


def _tag_problem(tag: str) -> str:
    return (
        f"explicit YAML tag '{_shown_tag(tag)[:60]}' is not allowed: write the value plainly"
        " (quote it to make it a string)"
    )


def _implicit_tag(loader: yaml.SafeLoader, value: str) -> str:
    """The tag a plain scalar of this text gets without an explicit tag."""
    resolve = cast(Callable[[type[Node], str, tuple[bool, bool]], str], loader.resolve)
    return resolve(ScalarNode, value, (True, False))


def scalar_problem(loader: yaml.SafeLoader, node: ScalarNode, *, tags: bool) -> str | None:
    """What is wrong with a scalar node, or None. ``tags`` asks to look for explicit tags."""
    tag = node.tag
    if tags:
        implicit = STR_TAG if node.style else _implicit_tag(loader, node.value)
        if tag != implicit:
            return _tag_problem(tag)
    if tag == INT_TAG and not _DECIMAL_RE.match(node.value):
        return _int_problem(node.value)
    if tag == FLOAT_TAG and (":" in node.value or "_" in node.value):
        return "ambiguous number: YAML 1.1 and YAML 1.2 read it differently; quote it"
    if node.style == '"':
        bad = _NOT_TEXT_RE.search(node.value)
        if bad is not None:
            kind = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "not text"
            return f"escaped character #x{ord(bad.group()):04X} is not allowed ({kind})"
    return None


def _int_problem(text: str) -> str:
    digits = text.lstrip("+-")
    if ":" in digits:
        return (
            "ambiguous integer: YAML 1.1 reads digits separated by ':' as a base-60 number;"
            " quote it"
        )
    if digits[:1] == "0" and digits[1:2].isdigit():
        return (
            "ambiguous integer: YAML 1.1 reads a number with a leading zero as octal;"
            " write it without the leading zero, or quote it"
        )
    return (
        "ambiguous integer: only plain decimal integers are accepted (YAML versions read 0x, 0b"
        " and '_' differently); write it in decimal, or quote it"
    )


def collection_problem(node: MappingNode | SequenceNode, *, tags: bool) -> str | None:
    """An explicit tag on a mapping or sequence (``!!set``, ``!!omap``, ``!custom``)."""
    if not tags:
        return None
    implicit = MAP_TAG if isinstance(node, MappingNode) else SEQ_TAG
    return None if node.tag == implicit else _tag_problem(node.tag)


class MergeProblem(Exception):
    """A merge key that cannot be flattened; carries the node to point at."""

    def __init__(self, node: Node, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


class Merger:
    """Flattens merge keys of one document, each mapping once, merges nested at most
    ``max_depth`` deep. A flattened mapping holds each key once, so merges cannot grow it
    beyond the keys written in the file."""

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth
        self.inherited: dict[int, int] = {}  # id of a flattened mapping -> its merged pairs
        self.active: set[int] = set()

    def flatten(self, node: MappingNode, depth: int = 0) -> int:
        """Flatten ``node`` in place (merged pairs first); the number of merged pairs."""
        done = self.inherited.get(id(node))
        if done is not None:
            return done
        if id(node) in self.active:
            raise MergeProblem(node, "recursive merge: the mapping merges itself")
        if depth > self.max_depth:
            raise MergeProblem(node, f"merge keys nested more than {self.max_depth} deep")
        self.active.add(id(node))
        try:
            merged, own = self._pairs(node, depth)
        finally:
            self.active.discard(id(node))
        node.value = [*merged, *own]
        self.inherited[id(node)] = len(merged)
        return len(merged)

    def _pairs(
        self, node: MappingNode, depth: int
    ) -> tuple[list[tuple[Node, Node]], list[tuple[Node, Node]]]:
        merged: dict[object, tuple[Node, Node]] = {}
        own: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag != MERGE_TAG:
                if key_node.tag == _VALUE_TAG:
                    key_node.tag = STR_TAG
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise MergeProblem(source, "expected a mapping or a list of mappings to merge")
                self.flatten(source, depth + 1)
                for pair in source.value:
                    name = pair[0].value if isinstance(pair[0], ScalarNode) else id(pair[0])
                    merged.setdefault(name, pair)  # the first mapping to set a key wins
        return list(merged.values()), own
