"""Live stores to manifests, as a person would write them: what ``reconciler export`` produces.

``export_manifests`` turns stores read by id (config present, secrets masked by the API) into one
YAML manifest per project: a header comment listing the variables to set, ``project``, a
``defaults.tags`` for the tags every store of the project shares, then the stores sorted by
environment, integration and name, each with its keys in the usual order and its config in the
integration's field order (``integrations.FIELDS``), values equal to their defaults left out. The
ownership tag is dropped (the planner adds it) and the protect tag becomes ``protect: true``.
Secrets (``password``, ``externalId``) never appear, masked or clear: each becomes a ``${VAR}``
placeholder named by ``secret_variable``; literal ``${`` in any value is written ``$${``, and every
scalar that YAML could misread is quoted. The round trip is the contract: set the listed
variables to the real secrets, load the files and plan, and there is nothing to do (secrets are
at most ``unverifiable``). Export is how a team adopts an existing account, so a store that does
not carry the ownership tag yet plans as an adopt (an update adding the tag); that is expected,
and the first apply makes the store managed.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import yaml

from reconciler.integrations import ConfigField, fields_by_key
from reconciler.model import DEFAULT_OWNER_TAG, LiveStore
from reconciler.plan.changes import PROTECT_TAG
from reconciler.plan.normalise import live_config

_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")
# Plain scalars we allow: no YAML indicator at the start, no flow or comment characters.
_PLAIN = re.compile(r"[A-Za-z0-9_./$(][A-Za-z0-9_./@+:=$()-]*(?: [A-Za-z0-9_./@+:=$()-]+)*")
# YAML 1.2 numbers, which a 1.1 loader reads as text but editors and other tools would not.
_NUMBER_12 = re.compile(
    r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+|0o[0-7]+"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}


@dataclass(frozen=True, slots=True)
class ExportedFile:
    """One exported manifest: the project, a file name, the YAML text and the variables
    (``${NAME}``) it references, in order of appearance."""

    project: str
    filename: str
    text: str
    variables: tuple[str, ...]


def secret_variable(
    project: str, environment: str, integration_key: str, key: str, *, name: str | None = None
) -> str:
    """The environment variable for one secret: ``PAYMENTS_PRODUCTION_REDIS_PASSWORD``, or with
    the store's name when its environment holds several stores of its kind
    (``PAYMENTS_PRODUCTION_REDIS_PRIMARY_CACHE_PASSWORD``). Upper-cased; every run of characters
    other than ASCII letters and digits becomes one ``_``."""
    parts = (project, environment, integration_key, *(() if name is None else (name,)), key)
    words = (_NON_ALNUM.sub("_", part).strip("_").upper() for part in parts)
    text = "_".join(word for word in words if word) or "SECRET"
    return f"_{text}" if text[0].isdigit() else text


def export_manifests(
    stores: Sequence[LiveStore],
    *,
    owner_tag: str = DEFAULT_OWNER_TAG,
    projects: Collection[str] | None = None,
) -> list[ExportedFile]:
    """One manifest per project, sorted by project. With ``projects``, only those projects, and
    each of them gets a file even when it has no store (``stores: []``). Variable names are
    unique across all the files (a clash gets ``_2``, ``_3``...). Raises ``ValueError`` for a
    store read by the list call (no ``config``): export needs stores read by id."""
    by_project: dict[str, list[LiveStore]] = {project: [] for project in projects or ()}
    for store in stores:
        if projects is None or store.project in by_project:
            if store.config is None:
                raise ValueError(f"store {store.id} has no config: read stores by id to export")
            by_project.setdefault(store.project, []).append(store)
    taken: set[str] = set()
    filenames: set[str] = set()
    files: list[ExportedFile] = []
    for project in sorted(by_project):
        ordered = sorted(
            by_project[project], key=lambda s: (s.environment, s.integration_key, s.name, s.id)
        )
        writer = _Writer(owner_tag, taken)
        text = writer.document(project, ordered)
        name = _filename(project, filenames)
        files.append(ExportedFile(project, name, text, tuple(writer.variables)))
    return files


class _Writer:
    """Writes one project's manifest; remembers the variables it used."""

    def __init__(self, owner_tag: str, taken: set[str]) -> None:
        self.owner_tag = owner_tag
        self.taken = taken
        self.variables: list[str] = []

    def document(self, project: str, stores: Sequence[LiveStore]) -> str:
        own = [self._tags(store) for store in stores]
        common = _common([tags for tags, _ in own]) if len(stores) > 1 else []
        body = [f"project: {_scalar(project)}"]
        if common:
            body += ["defaults:", f"  tags: {_flow(common)}"]
        body.append("stores:" if stores else "stores: []")
        slots = Counter(store.slot for store in stores)
        for store, (tags, protect) in zip(stores, own, strict=True):
            rest = [tag for tag in tags if tag not in common]
            body += self._store(store, rest, protect, named=slots[store.slot] > 1)
        return "\n".join([*self._header(), *body]) + "\n"

    def _header(self) -> list[str]:
        lines = ["# Exported from LaunchDarkly by reconciler export."]
        if self.variables:
            lines.append(
                "# Secrets are ${...} placeholders: set these variables before running plan:"
            )
            lines += [f"#   {name}" for name in self.variables]
        else:
            lines.append("# Secrets are ${...} placeholders; this file references none.")
        lines += [
            "# Stores that do not carry the ownership tag yet plan as an adopt: the first apply",
            "# adds the tag, and from then on reconciler manages them.",
        ]
        return lines

    def _tags(self, store: LiveStore) -> tuple[list[str], bool]:
        """The store's own tags (no ownership or protect tag, no duplicates) and whether it
        is protected."""
        drop = {self.owner_tag, PROTECT_TAG}
        return [tag for tag in dict.fromkeys(store.tags) if tag not in drop], (
            PROTECT_TAG in store.tags
        )

    def _store(self, store: LiveStore, tags: list[str], protect: bool, *, named: bool) -> list[str]:
        lines = [
            f"  - environment: {_scalar(store.environment)}",
            f"    integrationKey: {_scalar(store.integration_key)}",
            f"    name: {_scalar(store.name)}",
            f"    on: {'true' if store.on else 'false'}",
        ]
        if tags:
            lines.append(f"    tags: {_flow(tags)}")
        if protect:
            lines.append("    protect: true")
        config = self._config(store, named=named)
        lines.append("    config:" if config else "    config: {}")
        lines += [f"      {_scalar(key)}: {value}" for key, value in config]
        return lines

    def _config(self, store: LiveStore, *, named: bool) -> list[tuple[str, str]]:
        """(key, YAML value) pairs in the integration's field order, defaults left out."""
        specs = fields_by_key(store.integration_key)
        out: list[tuple[str, str]] = []
        for key, value in live_config(store.integration_key, store.config or {}).items():
            spec = specs.get(key)
            if value is None:
                continue
            if spec is not None and spec.secret:
                if value == "" and not spec.required:
                    continue  # an empty secret: nothing to set
                out.append((key, f"${{{self._variable(store, key, named=named)}}}"))
            elif spec is None or value != spec.default:
                out.append((key, _value(spec, value)))
        return out

    def _variable(self, store: LiveStore, key: str, *, named: bool) -> str:
        base = secret_variable(
            store.project,
            store.environment,
            store.integration_key,
            key,
            name=store.name if named else None,
        )
        name, n = base, 2
        while name in self.taken:
            name, n = f"{base}_{n}", n + 1
        self.taken.add(name)
        self.variables.append(name)
        return name


def _common(tag_lists: Sequence[list[str]]) -> list[str]:
    """The tags every list holds, in the first list's order."""
    first, *others = tag_lists
    return [tag for tag in first if all(tag in other for other in others)]


def _value(spec: ConfigField | None, value: object) -> str:
    """One non-secret config value: booleans as true/false, ports as numbers, text quoted
    when needed."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if spec is not None and spec.type == "port" and text.isascii() and text.isdigit():
        return str(int(text))
    return _scalar(text)


def _flow(items: Sequence[str]) -> str:
    return "[" + ", ".join(_scalar(item) for item in items) + "]"


def _scalar(value: str) -> str:
    """A string as a YAML scalar that loads back as exactly this string after interpolation:
    ``${`` is escaped as ``$${``; plain when that is unambiguous, else double-quoted."""
    text = value.replace("${", "$${")
    return text if _plain_ok(text) else _quoted(text)


def _plain_ok(text: str) -> bool:
    """Whether ``text`` can be written unquoted, in block and flow context alike, and still be
    read as this string by YAML 1.1 and 1.2 loaders (no ``yes``/``null``/numbers/dates)."""
    if not _PLAIN.fullmatch(text) or text.endswith(":") or ": " in text:
        return False
    if _NUMBER_12.fullmatch(text) or text.lower() in ("true", "false", "null"):
        return False
    try:
        return bool(yaml.safe_load(text) == text)
    except yaml.YAMLError:
        return False


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar; characters YAML would not keep verbatim are escaped."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif (
            0x20 <= code <= 0x7E
            or (0xA0 <= code <= 0xD7FF and code not in (0x2028, 0x2029))
            or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
            or code >= 0x10000
        ):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        else:
            out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def _filename(project: str, used: set[str]) -> str:
    """``<project>.yaml`` with unsafe characters as ``_``, never hidden (the loader skips dot
    files), unique even on a case-insensitive file system."""
    stem = _UNSAFE_FILENAME.sub("_", project).lstrip(".") or "project"
    name, n = f"{stem}.yaml", 2
    while name.lower() in used:
        name, n = f"{stem}-{n}.yaml", n + 1
    used.add(name.lower())
    return name
