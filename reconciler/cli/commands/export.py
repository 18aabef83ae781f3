"""``reconciler export``: write manifests from live state, secrets as ``${VAR}`` placeholders."""

from __future__ import annotations

import argparse
from pathlib import Path

from reconciler import escape
from reconciler.api.client import settings_from_env
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
    files = export_manifests(live, owner_tag=args.owner_tag, projects=args.project or None)
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
