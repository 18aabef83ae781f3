"""Where manifests come from: the files under the given paths, read within limits, and the
shipped JSON Schema.

``manifest_files`` expands directories (hidden entries skipped; symbolic links followed, to
files and to directories alike) into sorted ``*.yaml``/``*.yml`` files, each file once however
many paths lead to it. Nothing is silently skipped, because a manifest that is not read turns
its stores into deletes: a missing path, an unreadable directory, a broken link to a manifest,
a symbolic link loop and a manifest that is not a regular file (a FIFO, a device) are problems,
not exceptions and not hangs. Sizes come from ``stat``, so limits are checked before anything
is read; ``read_manifest`` then reads one file without blocking on a FIFO swapped in since and
without reading past the limit if the file grew. ``manifest_schema`` reads
``reconciler/schema/manifest.schema.json``.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

from reconciler.errors import ManifestProblem
from reconciler.manifest.limits import Limits, format_size

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


@dataclass(frozen=True, slots=True)
class ManifestFile:
    """One manifest to read: the name messages use, and its size when it was found."""

    display: str
    size: int


def manifest_files(
    paths: Sequence[str | FsPath], problems: list[ManifestProblem]
) -> list[ManifestFile]:
    """Every manifest file under ``paths``, de-duplicated and sorted by name."""
    found: dict[tuple[int, int], ManifestFile] = {}
    for given in paths:
        root = str(given)
        info = _stat(root, problems, manifest=True, given=True)
        if info is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            before = (len(found), len(problems))
            _walk(root, info, found, problems)
            if (len(found), len(problems)) == before:
                problems.append(
                    ManifestProblem(root, 1, 1, f"no manifests (*.yaml, *.yml) under {root}")
                )
        elif stat.S_ISREG(info.st_mode):
            found.setdefault((info.st_dev, info.st_ino), ManifestFile(root, info.st_size))
        else:
            problems.append(ManifestProblem(root, 1, 1, _not_regular(info.st_mode)))
    return sorted(found.values(), key=lambda item: item.display)


def _walk(
    root: str,
    info: os.stat_result,
    found: dict[tuple[int, int], ManifestFile],
    problems: list[ManifestProblem],
) -> None:
    """Depth first, following links; a directory met again below itself is a loop."""
    stack: list[tuple[str, tuple[tuple[int, int], ...]]] = [(root, ((info.st_dev, info.st_ino),))]
    while stack:
        folder, ancestors = stack.pop()
        try:
            with os.scandir(folder) as entries:
                names = sorted(entry.name for entry in entries if _worth_a_look(entry))
        except OSError as exc:
            problems.append(
                ManifestProblem(folder, 1, 1, _os_message(exc, "cannot read directory"))
            )
            continue
        for name in reversed(names):
            path = os.path.join(folder, name)
            manifest = name.lower().endswith(MANIFEST_SUFFIXES)
            entry = _stat(path, problems, manifest=manifest)
            if entry is None:
                continue
            key = (entry.st_dev, entry.st_ino)
            if stat.S_ISDIR(entry.st_mode):
                if key in ancestors:
                    message = "symbolic link loop: this directory contains itself"
                    problems.append(ManifestProblem(path, 1, 1, message))
                else:
                    stack.append((path, (*ancestors, key)))
            elif manifest and stat.S_ISREG(entry.st_mode):
                found.setdefault(key, ManifestFile(path, entry.st_size))
            elif manifest:
                problems.append(ManifestProblem(path, 1, 1, _not_regular(entry.st_mode)))


def _worth_a_look(entry: os.DirEntry[str]) -> bool:
    """Not hidden, and a manifest, a directory or a link (which may lead to either). Plain other
    files are passed over without a ``stat`` (the directory listing says what they are)."""
    if entry.name.startswith("."):
        return False
    if entry.name.lower().endswith(MANIFEST_SUFFIXES):
        return True
    try:
        return entry.is_symlink() or entry.is_dir(follow_symlinks=False)
    except OSError:
        return True


def _stat(
    path: str, problems: list[ManifestProblem], *, manifest: bool, given: bool = False
) -> os.stat_result | None:
    """``os.stat`` (following links), or None after reporting why not. For an entry that is
    not named like a manifest (it might have been a link to a directory) only a loop is
    reported: a broken link to some other file is none of our business."""
    try:
        return os.stat(path)
    except OSError as exc:
        if not manifest and exc.errno != errno.ELOOP:
            return None
        if exc.errno == errno.ENOENT and os.path.islink(path):
            message = "broken symbolic link: its target does not exist"
        elif exc.errno == errno.ENOENT and given:
            message = "no such file or directory"
        else:
            message = _os_message(exc, "cannot read")
        problems.append(ManifestProblem(path, 1, 1, message))
        return None


def read_manifest(path: str, limit: int) -> tuple[bytes | None, str | None]:
    """(the file's bytes, None) or (None, what is wrong). Opening does not block (a FIFO put in
    place of the file since it was found is refused, not waited on), and at most ``limit`` + 1
    bytes are read."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        return None, _os_message(exc, "cannot read file")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            return None, _not_regular(info.st_mode)
        if info.st_size > limit:
            return None, too_big(info.st_size, limit)
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            return None, _os_message(exc, "cannot read file")
    if len(data) > limit:
        return None, too_big(len(data), limit)
    return data, None


def too_big(size: int, limit: int) -> str:
    return (
        f"file is {format_size(size)}, over the {format_size(limit)} limit for one manifest"
        " (raise it with --max-file-size)"
    )


def _not_regular(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    )
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"not a regular file ({kind}); manifests must be regular files"


def _os_message(exc: OSError, what: str) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop: the link leads back to itself"
    return f"{what}: {exc.strerror or exc}"


def manifest_text(file: ManifestFile, limit: int) -> tuple[str | None, str | None]:
    """(the file's text, None) or (None, what is wrong): read within ``limit``, UTF-8 (a BOM
    is dropped)."""
    if file.size > limit:  # known from stat: nothing is read
        return None, too_big(file.size, limit)
    data, problem = read_manifest(file.display, limit)
    if data is None:
        return None, problem
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "file is not UTF-8 text"


def manifest_texts(
    paths: Sequence[str | FsPath],
    files: Sequence[ManifestFile],
    limits: Limits,
    problems: list[ManifestProblem],
) -> Iterator[tuple[str, str]]:
    """(display name, text) of each file that can be read; a problem for each that cannot.
    Files over ``limits.max_tree_bytes`` together are one problem, and none is read."""
    total = sum(file.size for file in files)
    oversized = [file for file in files if file.size > limits.max_file_bytes]
    for file in oversized:  # the per-file message names the file: clearer than the total
        problems.append(
            ManifestProblem(file.display, 1, 1, too_big(file.size, limits.max_file_bytes))
        )
    if oversized:
        return
    if total > limits.max_tree_bytes:
        message = (
            f"the manifests total {format_size(total)} in {len(files)} files, over the"
            f" {format_size(limits.max_tree_bytes)} limit (raise it with --max-tree-size)"
        )
        problems.append(ManifestProblem(str(paths[0]), 1, 1, message))
        return
    for file in files:
        text, problem = manifest_text(file, limits.max_file_bytes)
        if text is None:
            problems.append(ManifestProblem(file.display, 1, 1, str(problem)))
        else:
            yield file.display, text
