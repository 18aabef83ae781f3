"""``reconciler export``: write manifests from live state, secrets as ``${VAR}`` placeholders."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler import escape
from reconciler.api.client import settings_from_env
from reconciler.api.environments import EnvironmentReads, read_environments
from reconciler.api.refresh import read_live
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import client_for, write_file
from reconciler.errors import EXIT_OK, UsageError
from reconciler.render.export import export_manifests


def main(args: argparse.Namespace, io: IO) -> int:
    settings = settings_from_env(io.env, api_host=args.api_host)
    with client_for(args, settings) as client:
        live = read_live(
            client, set(args.project) or None, parallelism=args.parallelism, progress=io.stderr
        )
        empty = sorted(set(args.project) - {store.project for store in live})
        reads = read_environments(client, empty, parallelism=args.parallelism) if empty else None
    projects = args.project or None
    if reads is not None:
        _check_projects(empty, reads, io)
        projects = [p for p in args.project if p not in empty] or None
        if projects is None:
            return EXIT_OK
    files = export_manifests(live, owner_tag=args.owner_tag, projects=projects)
    if args.out:
        out = Path(args.out)
        existing = [f.filename for f in files if (out / f.filename).exists()]
        if existing and not args.force:
            raise UsageError(
                f"refusing to overwrite {', '.join(existing)} in {out}; use --force to overwrite"
            )
        out.mkdir(parents=True, exist_ok=True)
        for file in files:
            write_file(str(out / file.filename), file.text)
            io.stdout.write(escape.text(f"wrote {out / file.filename} ({file.project})") + "\n")
    else:
        io.stdout.write("\n---\n".join(f.text.rstrip("\n") for f in files) + "\n")
    variables = [v for f in files for v in f.variables]
    if variables:
        io.stderr.write(
            "Set these environment variables to the real secrets before running plan "
            "(LaunchDarkly only returns them masked):\n" + "".join(f"  {v}\n" for v in variables)
        )
    return EXIT_OK


def _check_projects(empty: list[str], reads: EnvironmentReads, io: IO) -> None:
    """``--project`` keys with no store: a key LaunchDarkly does not know is an error (a typo
    would otherwise export an empty manifest and succeed); a real project without stores is a
    note, and nothing is written for it. When the environments cannot be read (403), a key
    without stores is an error too: it cannot be told from a typo."""
    missing = [p for p in empty if p in reads.projects and not reads.projects[p].exists]
    unreadable = [p for p in empty if p not in reads.projects]
    problems = []
    if missing:
        problems.append(f"--project {', '.join(missing)}: no such project in LaunchDarkly")
    if unreadable:
        problems.append(
            f"--project {', '.join(unreadable)}: LaunchDarkly has no big segment store there, and"
            " the token may not read environments to tell whether the project exists"
        )
    if problems:
        raise UsageError(escape.text("; ".join(problems) + "; check the key"))
    for project in empty:
        io.stderr.write(escape.text(f"note: project {project} has no big segment store") + "\n")
