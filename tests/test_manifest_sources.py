"""Tests of manifest.sources through the loader: which files are read, within which sizes, and
that nothing is silently skipped (a skipped manifest would turn its stores into deletes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.errors import ManifestError
from reconciler.manifest.limits import MIB, Limits
from reconciler.manifest.load import LoadResult, load_manifests
from reconciler.manifest.sources import ManifestFile, manifest_text, read_manifest

STORE = """\
project: {project}
stores:
  - environment: production
    integrationKey: redis
    name: {project} production
    config: {{host: redis.internal}}
"""


def manifest(folder: Path, name: str, project: str = "payments") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(STORE.format(project=project), "utf-8")
    return path


def load(*paths: Path, limits: Limits | None = None) -> LoadResult:
    return load_manifests(list(paths), env={}, limits=limits or Limits())


def problems_of(*paths: Path, limits: Limits | None = None) -> list[str]:
    with pytest.raises(ManifestError) as caught:
        load(*paths, limits=limits)
    return [str(p) for p in caught.value.problems]


def test_a_fifo_named_like_a_manifest_is_a_problem_not_a_hang(tmp_path: Path) -> None:
    manifest(tmp_path, "ok.yaml")
    os.mkfifo(tmp_path / "x.yaml")

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'x.yaml'}:1:1: not a regular file (a FIFO); manifests must be regular files"
    ]


def test_a_fifo_given_by_name_is_a_problem_too(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.yaml")

    assert problems_of(tmp_path / "x.yaml") == [
        f"{tmp_path / 'x.yaml'}:1:1: not a regular file (a FIFO); manifests must be regular files"
    ]


def test_a_device_behind_a_manifest_name_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "null.yaml").symlink_to(os.devnull)

    (problem,) = problems_of(tmp_path)
    assert problem.endswith(
        "not a regular file (a character device); manifests must be regular files"
    )


def test_a_symbolic_link_loop_between_files_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")

    assert problems_of(tmp_path) == [
        f"{tmp_path / name}:1:1: symbolic link loop: the link leads back to itself"
        for name in ("a.yaml", "b.yaml")
    ]


def test_a_symbolic_link_loop_given_by_name_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "a.yaml")

    assert problems_of(tmp_path / "a.yaml") == [
        f"{tmp_path / 'a.yaml'}:1:1: symbolic link loop: the link leads back to itself"
    ]


def test_a_directory_link_back_to_an_ancestor_is_a_problem(tmp_path: Path) -> None:
    manifest(tmp_path, "p/prod.yaml")
    (tmp_path / "p" / "again").symlink_to(tmp_path)

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'p' / 'again'}:1:1: symbolic link loop: this directory contains itself"
    ]


def test_a_broken_link_named_like_a_manifest_is_a_problem(tmp_path: Path) -> None:
    manifest(tmp_path, "ok.yaml")
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "deleted.yaml")
    (tmp_path / "notes.txt").symlink_to(tmp_path / "deleted.txt")  # not a manifest: ignored

    assert problems_of(tmp_path) == [
        f"{tmp_path / 'gone.yaml'}:1:1: broken symbolic link: its target does not exist"
    ]


def test_links_to_files_and_directories_are_followed_and_each_file_is_read_once(
    tmp_path: Path,
) -> None:
    shared = manifest(tmp_path / "shared", "search.yaml", project="search")
    tree = tmp_path / "tree"
    manifest(tree, "payments.yaml")
    (tree / "linked").symlink_to(tmp_path / "shared")
    (tree / "search-link.yaml").symlink_to(shared)

    result = load(tree)

    assert sorted(s.project for s in result.state.stores) == ["payments", "search"]
    assert len(result.files) == 2


def test_hidden_files_and_directories_are_still_skipped(tmp_path: Path) -> None:
    manifest(tmp_path, "ok.yaml")
    manifest(tmp_path, ".github/ci.yaml", project="other")
    (tmp_path / ".broken.yaml").symlink_to(tmp_path / "nowhere")

    assert [s.project for s in load(tmp_path).state.stores] == ["payments"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file (covered by the CLI tests)")
def test_an_unreadable_directory_is_a_problem_not_a_skip(tmp_path: Path) -> None:
    manifest(tmp_path, "p/staging.yaml")
    manifest(tmp_path, "p/prod/redis.yaml", project="other")
    (tmp_path / "p" / "prod").chmod(0)
    try:
        assert problems_of(tmp_path) == [
            f"{tmp_path / 'p' / 'prod'}:1:1: cannot read directory: Permission denied"
        ]
    finally:
        (tmp_path / "p" / "prod").chmod(0o755)


def test_a_file_over_the_size_limit_is_refused_from_its_size_alone(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(5 * MIB + 1)  # sparse: the size is there, the bytes need not be

    assert problems_of(big) == [
        f"{big}:1:1: file is 5,242,881 bytes, over the 5 MiB limit for one manifest"
        " (raise it with --max-file-size)"
    ]


def test_the_file_size_limit_is_a_setting(tmp_path: Path) -> None:
    path = manifest(tmp_path, "ok.yaml")

    assert len(load(path).state.stores) == 1
    (problem,) = problems_of(path, limits=Limits(max_file_bytes=100))
    assert "over the 100 bytes limit for one manifest" in problem


def test_a_tree_over_the_size_limit_is_refused_before_any_file_is_read(tmp_path: Path) -> None:
    for i in range(11):
        with (tmp_path / f"part-{i:02d}.yaml").open("wb") as handle:
            handle.truncate(5 * MIB)  # sparse, and not YAML: reading one would be a problem

    assert problems_of(tmp_path) == [
        f"{tmp_path}:1:1: the manifests total 55 MiB in 11 files, over the 5 MiB limit"
        " (raise it with --max-tree-size)"
    ]


def test_the_tree_size_limit_is_a_setting(tmp_path: Path) -> None:
    manifest(tmp_path, "a.yaml")
    manifest(tmp_path, "b.yaml", project="search")

    assert len(load(tmp_path).state.stores) == 2
    (problem,) = problems_of(tmp_path, limits=Limits(max_tree_bytes=200))
    assert "over the 200 bytes limit (raise it with --max-tree-size)" in problem


def test_reading_a_fifo_swapped_in_after_the_listing_does_not_block(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    os.mkfifo(path)  # found as a regular file a moment ago: the read itself must refuse it

    assert read_manifest(str(path), 100) == (
        None,
        "not a regular file (a FIFO); manifests must be regular files",
    )


def test_a_file_that_grew_past_the_limit_since_it_was_listed_is_not_read_past_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grows.yaml"
    path.write_text("x" * 5000, "utf-8")
    listed = ManifestFile(str(path), size=10)  # what stat said before it grew

    text, problem = manifest_text(listed, limit=100)

    assert text is None
    assert problem == (
        "file is 5,000 bytes, over the 100 bytes limit for one manifest (raise it with"
        " --max-file-size)"
    )
