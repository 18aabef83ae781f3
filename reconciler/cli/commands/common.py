"""What several commands share: loading manifests, the API client, reading live state, planning
and rendering a plan, writing a file. Each command lives in its own module of this package.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.commands.base import IO
from reconciler.errors import ConfigError
from reconciler.manifest.limits import Limits
from reconciler.manifest.load import LoadResult, load_manifests

# The client (httpx) and the renderers are imported where they are used, so ``validate``,
# which needs neither, starts fast.
if TYPE_CHECKING:
    from reconciler.api.client import Client, ConnectionSettings
    from reconciler.model import LiveStore
    from reconciler.plan.changes import Plan


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


def make_plan(
    args: argparse.Namespace, io: IO, *, files: list[str] | None = None
) -> tuple[Plan, str]:
    """The plan and the API host; ``files``, when given, receives the manifest files read."""
    from reconciler.api.refresh import read_live
    from reconciler.api.settings import settings_from_env
    from reconciler.plan.planner import build_plan

    loaded = load(args, io)  # nothing touches the network before manifests are valid
    if files is not None:
        files.extend(loaded.files)
    settings = settings_from_env(io.env, api_host=args.api_host)
    with client_for(args, settings) as client:
        live = read_live(
            client, loaded.state.projects, parallelism=args.parallelism, progress=io.stderr
        )
    return build_plan(loaded.state, live, owner_tag=args.owner_tag), settings.api_host


def targets_of(args: argparse.Namespace) -> tuple[str, ...]:
    """The run's ``--target`` prefixes; none when the command has no such flag."""
    return tuple(getattr(args, "targets", None) or getattr(args, "target", None) or ())


def render(plan_: Plan, args: argparse.Namespace, io: IO, api_host: str, *, drift: bool) -> str:
    from reconciler.render.markdown import render_markdown
    from reconciler.render.plan import render_json, render_text

    now_ms = int(time.time() * 1000)
    health = drift and bool(getattr(args, "health", False))
    if args.format == "json":
        return render_json(plan_, api_host=api_host, health=health)
    if args.format == "markdown":
        return render_markdown(plan_, drift=drift, now_ms=now_ms, health=health)
    return render_text(plan_, colour=colour(args, io), drift=drift, now_ms=now_ms, health=health)


def write_file(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None
