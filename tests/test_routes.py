"""Tests for reconciler.api.routes: store paths quote every key as one segment, and the
per-request headers are built once and read-only."""

from __future__ import annotations

import random
from urllib.parse import quote, unquote

import pytest

from reconciler.api.routes import API_PREFIX, request_headers, store_path

ODD = ["", "a/b", "/", "%2F", "a b", "ü", "..", "a?b#c", "\r\n", "key-1_x.y~z", "😀/x"]


def segment_wise(*segments: str) -> str:
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])


@pytest.mark.parametrize("odd", ODD)
def test_a_store_path_quotes_each_key_as_one_segment_whatever_it_holds(odd: str) -> None:
    for segments in [(odd, "env", "redis"), ("proj", odd, "redis", odd), (odd, odd, odd, odd)]:
        path = store_path(*segments)
        assert path == segment_wise(*segments)
        keys = path.removeprefix(API_PREFIX + "/").split("/")
        assert [unquote(k) for k in keys] == list(segments)


def test_store_paths_of_random_keys_match_quoting_each_key_alone() -> None:
    rng = random.Random(14)
    alphabet = "ab/%-_.~ ü?#:@\x00"
    for _ in range(2000):
        count = rng.randrange(3, 5)
        segments = ["".join(rng.choices(alphabet, k=rng.randrange(6))) for _ in range(count)]
        assert store_path(*segments) == segment_wise(*segments)


def test_the_per_request_headers_are_built_once_and_cannot_be_changed() -> None:
    beta = request_headers("beta", False)
    assert dict(beta) == {"LD-API-Version": "beta"}
    assert request_headers("beta", False) is beta
    assert dict(request_headers("20240415", True)) == {
        "LD-API-Version": "20240415",
        "Content-Type": "application/json",
    }
    with pytest.raises(TypeError):
        beta["LD-API-Version"] = "other"  # type: ignore[index]
