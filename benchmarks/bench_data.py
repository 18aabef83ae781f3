"""Synthetic inputs for ``benchmarks.bench``: declared and live stores, seeds and manifests.

``synthetic_state(n)`` builds ``n`` plan entries in memory, split 80% unchanged, 10% updated,
5% created and 5% deleted (owned live stores that no manifest declares any more), so ``n * 0.95``
stores are declared and ``n * 0.95`` are live. Stores are spread over many projects and
environments, redis and dynamodb alike; live secrets come back masked the way LaunchDarkly masks
them, so every declared secret compares as "unverifiable". Updates vary: a renamed store, a
store switched off, changed tags, a changed host or port, and adoptions (no ownership tag).

``seed_document``/``manifest_files`` describe the emulator account and the manifests of the
HTTP scenarios: ``projects`` projects of ``environments`` environments, one redis store each.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from reconciler.integrations import AWS_REGIONS, mask_secret
from reconciler.model import (
    DEFAULT_OWNER_TAG,
    ConfigValue,
    DesiredState,
    DesiredStore,
    IntegrationKey,
    LiveStore,
    Location,
    ProjectSettings,
    Secret,
    StoreStatus,
)

ENVIRONMENTS_PER_PROJECT = 25
PASSWORD_VAR = "BENCH_REDIS_PASSWORD"
PASSWORD = "bench-redis-Secr3t-password"
UPDATE_KINDS = ("name", "on", "tags", "host", "port", "adopt")


@dataclass(frozen=True, slots=True)
class Split:
    """How many plan entries of each kind ``synthetic_state`` makes for ``n`` entries."""

    unchanged: int
    updated: int
    created: int
    deleted: int

    @classmethod
    def of(cls, n: int) -> Split:
        updated, created, deleted = n // 10, n // 20, n // 20
        return cls(n - updated - created - deleted, updated, created, deleted)


def _slot(i: int) -> tuple[str, str, IntegrationKey]:
    """Slot number ``i``: projects of 25 environments, each with one redis and one dynamodb."""
    kind: IntegrationKey = "redis" if i % 2 == 0 else "dynamodb"
    pair = i // 2
    project = f"proj-{pair // ENVIRONMENTS_PER_PROJECT:04d}"
    return project, f"env-{pair % ENVIRONMENTS_PER_PROJECT:02d}", kind


def _declared(i: int, rng: random.Random) -> DesiredStore:
    project, environment, kind = _slot(i)
    config: dict[str, ConfigValue]
    if kind == "redis":
        config = {
            "host": f"redis-{i}.{project}.internal",
            "port": rng.choice(("6379", "6380", " 6379")),
            "username": "launchdarkly",
            "password": Secret(f"{PASSWORD}-{i}", f"env:REDIS_{i}"),
            "tlsEnabled": rng.random() < 0.7,
        }
    else:
        config = {
            "tableName": f"ld-big-segments-{project}-{environment}",
            "region": AWS_REGIONS[i % len(AWS_REGIONS)],
            "roleArn": f"arn:aws:iam::{100000000000 + i % 1000:012d}:role/ld-big-segments",
            "externalId": Secret(f"ext-{i:08d}-{project}", f"env:EXT_{i}"),
        }
    return DesiredStore(
        project=project,
        environment=environment,
        integration_key=kind,
        name=f"{project} {environment} {kind}",
        on=rng.random() < 0.9,
        tags=(f"team:{project}", f"tier:{i % 3 + 1}"),
        config=config,
        location=Location(f"manifests/{project}.yaml", 10 + (i % 50) * 12, 5),
    )


def _live_config(want: DesiredStore) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in want.config.items():
        if isinstance(value, Secret):
            out[key] = mask_secret(value.value)
        elif key == "port":
            out[key] = str(value)
        else:
            out[key] = value
    return out


def _live(i: int, want: DesiredStore, change: str | None) -> LiveStore:
    """The live store matching ``want``, differing as ``change`` says (``None``: not at all)."""
    tags = (*want.tags, DEFAULT_OWNER_TAG)
    name, on, config = want.name, want.on, _live_config(want)
    if change == "name":
        name = f"{want.name} (renamed by hand)"
    elif change == "on":
        on = not on
    elif change == "tags":
        tags = (*tags, "hand-made")
    elif change == "host" and "host" in config:
        config["host"] = f"redis-old-{i}.internal"
    elif change in ("host", "port") and "tableName" in config:
        config["tableName"] = f"ld-old-table-{i}"
    elif change == "port":
        config["port"] = "7000"
    elif change == "adopt":
        tags = want.tags
    status = StoreStatus(available=True, potentially_stale=False, last_sync=1_700_000_000_000 + i)
    return LiveStore(
        id=f"{i:024x}",
        project=want.project,
        environment=want.environment,
        integration_key=want.integration_key,
        name=name,
        on=on,
        tags=tags,
        version=1 + i % 7,
        config=config,
        status=status,
    )


def synthetic_state(n: int, *, seed: int = 1) -> tuple[DesiredState, list[LiveStore]]:
    """Declared and live stores whose plan has ``n`` entries split as ``Split.of(n)``."""
    rng = random.Random(seed)
    split = Split.of(n)
    kinds: list[str | None] = [None] * split.unchanged
    kinds += [UPDATE_KINDS[k % len(UPDATE_KINDS)] for k in range(split.updated)]
    kinds += ["create"] * split.created + ["delete"] * split.deleted
    rng.shuffle(kinds)
    declared: list[DesiredStore] = []
    live: list[LiveStore] = []
    for i, kind in enumerate(kinds):
        want = _declared(i, rng)
        if kind != "delete":
            declared.append(want)
        if kind != "create":
            live.append(_live(i, want, None if kind == "delete" else kind))
    keys = {s.project for s in declared} | {s.project for s in live}
    projects = {key: ProjectSettings(key) for key in sorted(keys)}
    rng.shuffle(live)  # the API lists in no particular order
    return DesiredState(stores=tuple(declared), projects=projects), live


def seed_document(projects: int, environments: int, token: str) -> dict[str, object]:
    """An emulator seed: the projects and environments, and no stores."""
    return {
        "tokens": [token],
        "projects": [
            {"key": f"bench-{p:03d}", "environments": [f"env-{e:02d}" for e in range(environments)]}
            for p in range(projects)
        ],
    }


def manifest_files(projects: int, environments: int) -> dict[str, str]:
    """One manifest per project declaring a redis store in each environment."""
    files: dict[str, str] = {}
    for p in range(projects):
        lines = [
            f"project: bench-{p:03d}",
            "defaults:",
            f"  tags: [team:bench-{p:03d}]",
            "stores:",
        ]
        for e in range(environments):
            lines += [
                f"  - environment: env-{e:02d}",
                "    integrationKey: redis",
                f"    name: Bench {p:03d} env {e:02d}",
                "    on: true",
                "    config:",
                f"      host: redis-{p:03d}-{e:02d}.bench.internal",
                "      port: 6379",
                f"      password: ${{{PASSWORD_VAR}}}",
            ]
        files[f"bench-{p:03d}.yaml"] = "\n".join(lines) + "\n"
    return files
