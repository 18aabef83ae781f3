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
word the problem when a file is malformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.errors import ManifestProblem
from reconciler.model import Location

PathPart = str | int
Path = tuple[PathPart, ...]

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
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


@dataclass(slots=True)
class Document:
    """One YAML document of one file, with the position of every value and mapping key."""

    file: str
    data: object
    values: dict[Path, Location] = field(default_factory=dict)
    keys: dict[Path, Location] = field(default_factory=dict)

    def location(self, path: Path) -> Location:
        """Where the value at ``path`` was written; for a missing value, its nearest parent."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Location(self.file, 1, 1)

    def key_location(self, path: Path) -> Location:
        """Where the mapping key of ``path`` was written (the value's position otherwise)."""
        return self.keys.get(path) or self.location(path)


def _where(file: str, node: Node) -> Location:
    mark = node.start_mark
    return Location(file, mark.line + 1, mark.column + 1)


class _Builder:
    """Turns one composed node tree into plain values, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.problems: list[ManifestProblem] = []

    def problem(self, where: Location, message: str) -> None:
        self.problems.append(ManifestProblem(where.file, where.line, where.column, message))

    def build(self, node: Node, path: Path) -> object:
        self.doc.values[path] = _where(self.doc.file, node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self.problem(_where(self.doc.file, node), f"invalid YAML value: {exc.problem}")
            return None
        except ValueError:  # a timestamp that is no calendar date (2026-02-30): keep its text
            if node.tag == _TIMESTAMP_TAG and isinstance(node, ScalarNode):
                return str(node.value)
            self.problem(_where(self.doc.file, node), "invalid YAML value")
            return None

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, object]:
        own_count = sum(1 for key, _ in node.value if key.tag != _MERGE_TAG)
        try:
            self.loader.flatten_mapping(node)  # `<<: *anchor` pairs first, then the node's own
        except yaml.MarkedYAMLError as exc:
            self.problem(_where(self.doc.file, node), f"invalid merge key: {exc.problem}")
        inherited = len(node.value) - own_count
        out: dict[str, object] = {}
        own: set[str] = set()
        for index, (key_node, value_node) in enumerate(node.value):
            where = _where(self.doc.file, key_node)
            if not isinstance(key_node, ScalarNode):
                self.problem(where, "mapping keys must be plain strings")
                continue
            key = str(key_node.value)
            if key in own:
                first = self.doc.keys[(*path, key)]
                self.problem(
                    where, f"duplicate key '{key}' (first at line {first.line}:{first.column})"
                )
                continue
            if index >= inherited:  # a key of the mapping itself overrides a merged one
                own.add(key)
            self.doc.keys[(*path, key)] = where
            out[key] = self.build(value_node, (*path, key))
        return out


def load_documents(text: str, file: str) -> tuple[list[Document], list[ManifestProblem]]:
    """Parse every document of ``text``; empty documents are skipped.

    Malformed YAML ends the file with one problem at the parser's mark; documents read before
    it are still returned, so their problems are reported too.
    """
    docs, problems, broken = _load(_FastLoader, text, file)
    if broken and _FastLoader is not _PureLoader:
        docs, problems, _ = _load(_PureLoader, text, file)
    return docs, problems


def _load(
    loader_type: type[yaml.SafeLoader], text: str, file: str
) -> tuple[list[Document], list[ManifestProblem], bool]:
    """``load_documents`` with one loader; the flag says the YAML itself was malformed."""
    docs: list[Document] = []
    problems: list[ManifestProblem] = []
    loader: yaml.SafeLoader | None = None
    try:
        loader = loader_type(text)
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
                continue
            doc = Document(file=file, data=None)
            builder = _Builder(loader, doc)
            doc.data = builder.build(node, ())
            problems.extend(builder.problems)
            docs.append(doc)
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
