"""The fast shape check never accepts what the JSON Schema rejects, and accepts what users write."""

from __future__ import annotations

import copy
import datetime
import random
from typing import Any

from reconciler.manifest.fastcheck import surely_valid
from reconciler.manifest.sources import validator

ROLE = "arn:aws:iam::123456789012:role/launchdarkly-big-segments"
RULE = {"field": "config.host", "reason": "INC-1", "expires": "2030-01-01"}
ODD_VALUES: list[object] = [
    None, 0, -1, 1, 70000, 1.0, 0.5, 1.5, float("nan"), True, False, "", "x", " 8080 ", "65536",
    "${PORT}", "$${X}", "us-east-1", "mars-1", ROLE, "arn:aws:iam::1:role/x", [], ["a"], [""],
    {}, {"x": 1}, datetime.date(2030, 1, 1), "2030-01-01", "2030-01-01\n", "name", "tags",
    "config.host", "config.tableName", "redis", "dynamodb", dict(RULE),
]  # fmt: skip


def redis_store(i: int) -> dict[str, Any]:
    return {
        "environment": f"env-{i}",
        "integrationKey": "redis",
        "name": f"Store {i}",
        "on": True,
        "tags": ["tier:1"],
        "protect": False,
        "config": {"host": "redis.internal", "port": 6379, "username": "", "password": "p",
                   "tlsEnabled": True},
        "ignore": [dict(RULE)],
    }  # fmt: skip


def dynamodb_store(i: int) -> dict[str, Any]:
    return {
        "environment": f"env-{i}",
        "integrationKey": "dynamodb",
        "name": f"Table {i}",
        "config": {"tableName": "t", "region": "eu-west-1", "roleArn": ROLE, "externalId": "e"},
        "ignore": [{"field": "config.region", "reason": "r", "expires": "2030-12-31"}],
    }


def document() -> dict[str, Any]:
    return {
        "project": "payments",
        "prune": True,
        "safety": {"changeThreshold": 0.5, "minStores": 3},
        "defaults": {"on": True, "tags": ["team:x"], "protect": True, "config": {"port": "6380"},
                     "ignore": [{"field": "name", "reason": "r", "expires": "2030-01-01"}]},
        "stores": [redis_store(1), dynamodb_store(2), redis_store(3)],
    }  # fmt: skip


def paths(value: object, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*at, index))
    return found


def mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``doc`` with one to three random edits: a value replaced, a key added or removed."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(doc)[1:])
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.6:
            parent[path[-1]] = rng.choice(ODD_VALUES)
        elif action < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["extra", "on", "tags", "host", "field", "minStores"])] = rng.choice(
                ODD_VALUES
            )
    return doc


def test_documents_users_write_pass_the_fast_check_and_the_schema() -> None:
    doc = document()
    assert validator().is_valid(doc)
    assert surely_valid(doc)
    assert surely_valid({"project": "p", "stores": []})


def test_nothing_the_fast_check_accepts_is_rejected_by_the_schema() -> None:
    rng = random.Random(14)
    accepted = rejected = 0
    for _ in range(4000):
        doc = mutate(document(), rng)
        if surely_valid(doc):
            accepted += 1
            errors = [e.message for e in validator().iter_errors(doc)]
            assert errors == [], (doc, errors)
        else:
            rejected += 1
    assert accepted > 200 and rejected > 1000  # both branches were exercised


def test_the_fast_check_defers_to_the_schema_on_what_it_does_not_know() -> None:
    doc = document()
    doc["stores"][0]["ignore"][0]["expires"] = datetime.date(2030, 1, 1)  # a YAML timestamp
    assert not surely_valid(doc)
    doc = document()
    doc["safety"]["minStores"] = 3.0  # the schema's "integer" takes 3.0; the check does not know
    assert not surely_valid(doc)
    for hostile in (None, [], "project: x", {"project": "p"}, {"project": "p", "stores": {}}):
        assert not surely_valid(hostile)
