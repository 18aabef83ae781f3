"""Tests of manifest.limits: the documented defaults, and the sizes the flags accept."""

from __future__ import annotations

import pytest

from reconciler.manifest.limits import DEFAULT_LIMITS, GIB, KIB, MIB, format_size, parse_size


def test_the_defaults_are_the_documented_ones() -> None:
    assert (DEFAULT_LIMITS.max_file_bytes, DEFAULT_LIMITS.max_tree_bytes) == (5 * MIB, 5 * MIB)
    assert (DEFAULT_LIMITS.max_depth, DEFAULT_LIMITS.max_alias_nodes) == (64, 10_000)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("5242880", 5 * MIB),
        ("512k", 512 * KIB),
        ("512KiB", 512 * KIB),
        ("20MiB", 20 * MIB),
        ("20 mb", 20 * MIB),
        ("1G", GIB),
        ("7B", 7),
    ],
)
def test_sizes_are_read_in_bytes_or_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5MiB", "5x", "MiB", "9" * 20])
def test_anything_else_is_not_a_size(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a size|at least 1 byte"):
        parse_size(text)


def test_sizes_are_shown_in_the_largest_whole_unit_or_exactly() -> None:
    assert [format_size(n) for n in (5 * MIB, 300 * KIB, 2 * GIB, 5 * MIB + 1, 1)] == [
        "5 MiB", "300 KiB", "2 GiB", "5,242,881 bytes", "1 byte",
    ]  # fmt: skip
