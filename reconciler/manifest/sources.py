"""Where manifests come from: the files under the given paths, and the shipped JSON Schema.

``manifest_files`` expands directories (hidden entries skipped, links to directories not
followed) into sorted, de-duplicated ``*.yaml``/``*.yml`` files; a missing path is a problem,
not an exception. ``manifest_schema`` reads ``reconciler/schema/manifest.schema.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

from reconciler.errors import ManifestProblem

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

MANIFEST_SUFFIXES = (".yaml", ".yml")


@cache
def manifest_schema() -> dict[str, Any]:
    """The JSON Schema of one manifest document, as shipped in the package."""
    text = resources.files("reconciler").joinpath("schema/manifest.schema.json").read_text()
    return cast(dict[str, Any], json.loads(text))


@cache
def validator() -> Draft202012Validator:
    """The JSON Schema validator, imported only when a document needs it (an invalid one)."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(manifest_schema())


def manifest_files(
    paths: Sequence[str | FsPath], problems: list[ManifestProblem]
) -> list[tuple[str, FsPath]]:
    """(display name, path) of every manifest file, de-duplicated and sorted by name."""
    found: dict[FsPath, str] = {}
    for given in paths:
        root = FsPath(given)
        if root.is_dir():
            inside = sorted(_walk(root))
            if not inside:
                problems.append(
                    ManifestProblem(str(root), 1, 1, f"no manifests (*.yaml, *.yml) under {root}")
                )
            for path in inside:
                found.setdefault(path.resolve(), str(path))
        elif root.is_file():
            found.setdefault(root.resolve(), str(root))
        else:
            problems.append(ManifestProblem(str(root), 1, 1, "no such file or directory"))
    return sorted(((name, FsPath(name)) for name in found.values()), key=lambda item: item[0])


def _walk(root: FsPath) -> Iterator[FsPath]:
    """Manifest files under ``root``; hidden files and directories (``.git``, ``.github``) are
    skipped, and symbolic links to directories are not followed."""
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if not name.startswith(".") and name.lower().endswith(MANIFEST_SUFFIXES):
                yield FsPath(folder) / name
