"""A YAML loader that remembers where every value was written.

``load_documents`` parses one file into plain Python values (dicts, lists, str, int, float,
bool, None) and, beside them, a table from each value's path (``("stores", 0, "config",
"port")``) to the ``file:line:column`` of its node and, for mapping entries, of its key. The
manifest validator uses those tables to pin every problem to the text that caused it. The loader
reads YAML 1.1 as PyYAML does, with two differences that suit manifests: only ``true``/``false``
(any case) are booleans, so a key named ``on`` stays the string ``"on"`` and ``on: yes`` is a
type error rather than a silent ``True``; and mapping keys are always their source text, with a
repeated key reported as a problem instead of the last one silently winning. Timestamps load as
``datetime.date``/``datetime.datetime``; one that is no calendar date (``2026-02-30``) stays its
source text, so the validator can say what is wrong with it. Parsing uses libyaml when PyYAML
has it (several times faster, same nodes and marks) and the pure-Python parser otherwise, or to
word the problem when a small file is malformed. Hostile YAML is bounded while the composed
nodes become values, before any Python value is built for them (``yamlcheck``; SPEC §8):
nesting deeper than ``Limits.max_depth`` and aliases copying more than
``Limits.max_alias_nodes`` values are refused, as are an alias inside its own anchor, explicit
tags, ambiguous numbers and escapes that are no text; a refused value loads as None and its
path is listed in ``Document.refused`` so the validator does not report it a second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ManifestProblem
from reconciler.manifest.limits import DEFAULT_LIMITS, Limits
from reconciler.manifest.yamlcheck import (
    FLOAT_TAG,
    INT_TAG,
    STR_TAG,
    MergeProblem,
    Merger,
    collection_problem,
    may_hold_tags,
    scalar_problem,
)
from reconciler.model import Location

PathPart = str | int
Path = tuple[PathPart, ...]
Position = tuple[int, int]  # 1-based line and column

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_NUMBER_TAGS = frozenset((INT_TAG, FLOAT_TAG))
_STRICT_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def _strict_bools(base: type[yaml.SafeLoader]) -> type[yaml.SafeLoader]:
    """A subclass of ``base`` whose only booleans are true/false (no yes/no/on/off). The
    resolver table is copied before editing, so ``base`` itself is left untouched."""
    loader: type[yaml.SafeLoader] = type(f"StrictBool{base.__name__}", (base,), {})
    loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
        for first, resolvers in base.yaml_implicit_resolvers.items()
    }
    loader.add_implicit_resolver(_BOOL_TAG, _STRICT_BOOL_RE, list("tTfF"))
    return loader


# libyaml's parser (PyYAML's CSafeLoader, in PyYAML's wheels) composes the same nodes, marks
# included, several times faster than the pure-Python parser. The pure parser words syntax
# errors better ("found character '\t'", the undefined alias's name), so a file that fails to
# parse is read again with it; without libyaml it does all the work.
_PureLoader = _strict_bools(yaml.SafeLoader)
_FastLoader = _strict_bools(getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def implicit_resolvers() -> dict[str | None, list[tuple[str, re.Pattern[str]]]]:
    """The table that gives a plain scalar its tag (by first character; ``None``: any)."""
    table: dict[str | None, list[tuple[str, re.Pattern[str]]]] = _FastLoader.yaml_implicit_resolvers
    return table


@dataclass(slots=True)
class Document:
    """One YAML document of one file, with the position of every value and mapping key
    (line and column; ``location`` makes them ``Location`` values when asked)."""

    file: str
    data: object
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    refused: set[Path] = field(default_factory=set)
    """Paths whose value the loader refused (already reported; loaded as None)."""

    def location(self, path: Path) -> Location:
        """Where the value at ``path`` was written; for a missing value, its nearest parent."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return Location(self.file, found[0], found[1])
        return Location(self.file, 1, 1)

    def key_location(self, path: Path) -> Location:
        """Where the mapping key of ``path`` was written (the value's position otherwise)."""
        found = self.keys.get(path)
        return Location(self.file, found[0], found[1]) if found else self.location(path)


def _where(node: Node) -> Position:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


class _Abandon(Exception):
    """The document is beyond a limit; ends building it with one problem."""

    def __init__(self, where: Position, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class _Scan:
    """What a cheap look at the text says the builder must watch for."""

    tags: bool  # the text may hold an explicit tag
    aliases: bool  # the text may hold an alias: nodes can be shared, even cyclic
    merges: bool  # the text may hold a merge key

    @classmethod
    def of(cls, text: str) -> _Scan:
        return cls(tags=may_hold_tags(text), aliases="*" in text, merges="<<" in text)


class _Builder:
    """Turns one composed node tree into plain values, recording positions and problems.

    Depth is the path's length, so it is bounded by ``limits.max_depth``. When the text may hold
    aliases, a node met again is a copy: copies are counted against ``limits.max_alias_nodes``
    and a node met inside itself (``&s [*s]``) is refused."""

    def __init__(self, loader: yaml.SafeLoader, doc: Document, limits: Limits, scan: _Scan) -> None:
        self.loader = loader
        self.doc = doc
        self.limits = limits
        self.scan = scan
        self.problems: list[ManifestProblem] = []
        self.seen: set[int] = set()
        self.active: set[int] = set()
        self.copies = 0
        self.merger = Merger(limits.max_depth)

    def problem(self, where: Position, message: str) -> None:
        self.problems.append(ManifestProblem(self.doc.file, where[0], where[1], message))

    def build(self, node: Node, path: Path) -> object:
        where = _where(node)
        self.doc.values[path] = where
        if len(path) >= self.limits.max_depth:
            return self.refuse(path, where, f"nesting deeper than {self.limits.max_depth} levels")
        if isinstance(node, ScalarNode):
            return self._scalar(node, path, where)
        if not isinstance(node, MappingNode | SequenceNode):
            return None  # composers make no other kind of node
        problem = collection_problem(node, tags=self.scan.tags)
        if problem is not None:
            return self.refuse(path, where, f"invalid YAML value: {problem}")
        if not self.scan.aliases:
            return self._collection(node, path)
        if id(node) in self.active:
            return self.refuse(path, where, "recursive alias: the value contains itself")
        self.active.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self.active.discard(id(node))

    def _collection(self, node: MappingNode | SequenceNode, path: Path) -> object:
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]

    def _count(self, node: Node, where: Position) -> None:
        """Count a node met again through an alias; refuse past the limit."""
        if id(node) not in self.seen:
            self.seen.add(id(node))
            return
        self.copies += 1
        if self.copies > self.limits.max_alias_nodes:
            raise _Abandon(
                where,
                f"YAML aliases expand this document by more than {self.limits.max_alias_nodes}"
                " values; write the values out instead of aliasing them",
            )

    def refuse(self, path: Path, where: Position, message: str) -> object:
        """Report a value the loader will not build; it loads as None, marked refused."""
        self.problem(where, message)
        self.doc.refused.add(path)
        return None

    def _scalar(self, node: ScalarNode, path: Path, where: Position) -> object:
        if self.scan.aliases:
            self._count(node, where)
        if self.scan.tags or node.style == '"' or node.tag in _NUMBER_TAGS:
            problem = scalar_problem(self.loader, node, tags=self.scan.tags)
            if problem is not None:
                return self.refuse(path, where, f"invalid YAML value: {problem}")
        tag = node.tag
        if tag == STR_TAG:  # the common tags directly: PyYAML's constructors cost far more
            return node.value
        if tag == INT_TAG:
            return int(node.value)  # plain decimal: scalar_problem refused the rest
        if tag == _BOOL_TAG:
            return node.value.lower() == "true"  # only true/false resolve to bool
        if tag == _NULL_TAG:
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            return self.refuse(path, where, f"invalid YAML value: {exc.problem}")
        except ValueError:  # a timestamp that is no calendar date (2026-02-30): keep its text
            if node.tag == _TIMESTAMP_TAG:
                return str(node.value)
            return self.refuse(path, where, "invalid YAML value")
        except (ArithmeticError, LookupError, TypeError, AttributeError):
            return self.refuse(path, where, "invalid YAML value")  # odd input, PyYAML's crash

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        inherited = 0
        if self.scan.merges:
            try:
                inherited = self.merger.flatten(node)  # merged pairs first, then the node's own
            except MergeProblem as exc:
                where = _where(exc.node)
                self.problem(where, f"invalid merge key: {exc.message}")
                node.value = [pair for pair in node.value if pair[0].tag != _MERGE_TAG]
        if self.scan.aliases:
            self._count(node, _where(node))
        out: dict[str, object] = {}
        own: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            where = _where(key_node)
            if not isinstance(key_node, ScalarNode):
                self.problem(where, "mapping keys must be plain strings")
                continue
            if self.scan.tags or key_node.style == '"':
                problem = scalar_problem(self.loader, key_node, tags=self.scan.tags)
                if problem is not None:
                    self.problem(where, f"invalid YAML key: {problem}")
                    continue
            key = str(key_node.value)
            if key in own:
                first = self.doc.keys[(*path, key)]
                self.problem(where, f"duplicate key '{key}' (first at line {first[0]}:{first[1]})")
                continue
            if index >= inherited:  # a key of the mapping itself overrides a merged one
                own.add(key)
            self.doc.keys[(*path, key)] = where
            out[key] = self.build(value_node, (*path, key))
        return out


# A file libyaml refuses is read again by the pure parser for its wording only when it is this
# small: the pure parser is several times slower, and recursive (deep nesting exhausts it).
PURE_REREAD_MAX_CHARS = 256 * 1024


def load_documents(
    text: str, file: str, limits: Limits = DEFAULT_LIMITS
) -> tuple[list[Document], list[ManifestProblem]]:
    """Parse every document of ``text``; empty documents are skipped.

    Malformed YAML ends the file with one problem at the parser's mark; documents read before
    it are still returned, so their problems are reported too. A document beyond a limit of
    ``limits`` (nesting, aliases) is one problem and is not returned.
    """
    docs, problems, broken = _load(_FastLoader, text, file, limits)
    deep = broken and "maximum nesting depth" in problems[-1].message  # too deep for it too
    if (
        broken
        and not deep
        and _FastLoader is not _PureLoader
        and len(text) <= PURE_REREAD_MAX_CHARS
    ):
        try:
            reread = _load(_PureLoader, text, file, limits, reread=True)
        except _Unparsable:  # too deep for it, or an escape it cannot turn into text
            return docs, problems
        if reread[2]:  # the pure parser refuses it too: use its wording
            docs, problems = reread[0], reread[1]
    return docs, problems


class _Unparsable(Exception):
    """The pure parser failed where it should have reported (see ``load_documents``)."""


def _load(
    loader_type: type[yaml.SafeLoader],
    text: str,
    file: str,
    limits: Limits = DEFAULT_LIMITS,
    *,
    reread: bool = False,
) -> tuple[list[Document], list[ManifestProblem], bool]:
    """``load_documents`` with one loader; the flag says the YAML itself was malformed.
    ``reread``: raise ``_Unparsable`` where the pure parser itself fails."""
    docs: list[Document] = []
    problems: list[ManifestProblem] = []
    loader: yaml.SafeLoader | None = None
    scan = _Scan.of(text)
    try:
        loader = loader_type(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
                continue
            doc = Document(file=file, data=None)
            builder = _Builder(loader, doc, limits, scan)
            try:
                doc.data = builder.build(node, ())
            except _Abandon as exc:
                where = exc.where
                problems.append(ManifestProblem(file, where[0], where[1], exc.message))
                continue
            problems.extend(builder.problems)
            docs.append(doc)
    except (RecursionError, ValueError) as exc:  # the pure parser: deep nesting, \U0011FFFF
        if reread:
            raise _Unparsable from exc
        what = "nesting too deep" if isinstance(exc, RecursionError) else "an invalid escape"
        line, column = (loader.line + 1, loader.column + 1) if loader is not None else (1, 1)
        problems.append(ManifestProblem(file, line, column, f"invalid YAML: {what}"))
        return docs, problems, True
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        detail = exc.problem or exc.context or "cannot be parsed"
        problems.append(ManifestProblem(file, line, column, f"invalid YAML: {detail}"))
        return docs, problems, True
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line, column = _line_column(text, exc.position)
        problems.append(
            ManifestProblem(
                file, line, column, f"invalid YAML: character #x{exc.character:04x} is not allowed"
            )
        )
        return docs, problems, True
    except yaml.YAMLError as exc:
        problems.append(ManifestProblem(file, 1, 1, f"invalid YAML: {exc}"))
        return docs, problems, True
    finally:
        if loader is not None:
            loader.dispose()
    return docs, problems, False


def _line_column(text: str, position: int) -> tuple[int, int]:
    """1-based line and column of the character at ``position`` of ``text``."""
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
