"""What several commands share: loading manifests, the API client, reading live state (the
stores, and the environment reads that say which projects and environments exist and which
are critical), planning (narrowed to ``--target``) and rendering a plan, writing a file. Each
command lives in its own module of this package.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.commands.base import IO
from reconciler.errors import ConfigError
from reconciler.manifest.limits import Limits
from reconciler.manifest.load import LoadResult, load_manifests

# The client (httpx), the environment reads, the planner and the renderers are imported where
# they are used, so ``validate``, which needs none of them, starts fast.
if TYPE_CHECKING:
    from reconciler.api.client import Client, ConnectionSettings
    from reconciler.model import LiveStore, ProjectEnvironments
    from reconciler.plan.changes import Plan
    from reconciler.plan.safety import Refusal


def limits_of(args: argparse.Namespace) -> Limits:
    """The manifest limits the command line sets (``--max-file-size``, ``--max-tree-size``)."""
    return Limits(max_file_bytes=args.max_file_size, max_tree_bytes=args.max_tree_size)


def load(args: argparse.Namespace, io: IO) -> LoadResult:
    result = load_manifests(args.paths, env=io.env, limits=limits_of(args))
    for warning in result.warnings:
        io.stderr.write(f"warning: {warning}\n")
    return result


def colour(args: argparse.Namespace, io: IO) -> bool:
    isatty = getattr(io.stdout, "isatty", None)
    # no-color.org: only a non-empty NO_COLOR disables colour.
    return bool(isatty and isatty()) and not args.no_color and not io.env.get("NO_COLOR")


def client_for(args: argparse.Namespace, settings: ConnectionSettings) -> Client:
    from reconciler.api.client import Client, RetryPolicy
    from reconciler.api.limits import NetLimits

    return Client(
        settings,
        retry=RetryPolicy(max_attempts=args.max_attempts),
        connections=args.parallelism,
        limits=NetLimits(timeout=args.timeout),
    )


def read(
    client: Client, args: argparse.Namespace, io: IO, projects: Collection[str] | None
) -> list[LiveStore]:
    from reconciler.api.refresh import read_live

    return read_live(client, projects, parallelism=args.parallelism, progress=io.stderr)


@dataclass(frozen=True, slots=True)
class Planned:
    """A plan (narrowed to the targets, critical changes labelled), the API host it was made
    against, what the environment reads found (for the refusals) and the manifest files read."""

    plan: Plan
    api_host: str
    environments: Mapping[str, ProjectEnvironments]
    files: tuple[str, ...] = ()


def targets_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The run's ``--target`` prefixes, checked; none when the command has no such flag."""
    from reconciler.plan.scope import parse_targets

    return parse_targets(getattr(args, "target", None) or [])


def in_scope(projects: Collection[str], targets: Sequence[str]) -> list[str]:
    """The manifests' projects that the targets (if any) name."""
    return [p for p in projects if not targets or any(t.split("/")[0] == p for t in targets)]


def environments(
    client: Client, args: argparse.Namespace, io: IO, projects: Collection[str]
) -> Mapping[str, ProjectEnvironments]:
    """The environment reads of ``projects``; a 403 is a warning on stderr."""
    from reconciler import escape
    from reconciler.api.environments import read_environments

    reads = read_environments(client, projects, parallelism=args.parallelism)
    for warning in reads.warnings:
        io.stderr.write(f"warning: {escape.text(warning)}\n")
    return reads.projects


def shape(
    plan_: Plan, targets: Sequence[str], known: Mapping[str, ProjectEnvironments], io: IO
) -> Plan:
    """The plan narrowed to ``targets`` with critical changes labelled; warns about a target
    that matches nothing."""
    from reconciler import escape
    from reconciler.plan.scope import mark_critical, restrict, unmatched

    for target in unmatched(plan_, targets):
        io.stderr.write(
            f"warning: --target {escape.text(target)} matches no declared or live store\n"
        )
    return mark_critical(restrict(plan_, targets), known)


def planned(args: argparse.Namespace, io: IO) -> Planned:
    """Load, read live state and environments, plan, narrow: what plan and drift show."""
    from reconciler.api.settings import settings_from_env
    from reconciler.plan.planner import build_plan

    loaded = load(args, io)  # nothing touches the network before manifests are valid
    targets = targets_of(args)
    settings = settings_from_env(io.env, api_host=args.api_host)
    with client_for(args, settings) as client:
        live = read(client, args, io, loaded.state.projects)
        known = environments(client, args, io, in_scope(loaded.state.projects, targets))
    plan_ = build_plan(loaded.state, live, owner_tag=args.owner_tag)
    return Planned(shape(plan_, targets, known, io), settings.api_host, known, tuple(loaded.files))


def make_plan(args: argparse.Namespace, io: IO) -> tuple[Plan, str]:
    result = planned(args, io)
    return result.plan, result.api_host


def render(
    plan_: Plan,
    args: argparse.Namespace,
    io: IO,
    api_host: str,
    *,
    drift: bool,
    refusals: Sequence[Refusal] = (),
) -> str:
    from reconciler.render.markdown import render_markdown
    from reconciler.render.plan import render_json, render_text

    now_ms = int(time.time() * 1000)
    health = drift and bool(getattr(args, "health", False))
    if args.format == "json":
        return render_json(plan_, api_host=api_host, health=health, refusals=refusals)
    if args.format == "markdown":
        return render_markdown(plan_, drift=drift, now_ms=now_ms, health=health, refusals=refusals)
    return render_text(
        plan_, colour=colour(args, io), drift=drift, now_ms=now_ms, health=health,
        refusals=refusals,
    )  # fmt: skip


def write_file(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None
