"""``reconciler plan``: show what apply would change; ``--out`` saves it for ``apply --plan``."""

from __future__ import annotations

import argparse

from reconciler.apply import savedplan
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import make_plan, render, targets_of, write_file
from reconciler.errors import EXIT_CHANGES, EXIT_OK


def main(args: argparse.Namespace, io: IO) -> int:
    files: list[str] = []
    plan_, api_host = make_plan(args, io, files=files)
    io.stdout.write(render(plan_, args, io, api_host, drift=False))
    if args.out:
        flags = savedplan.PlanFlags(args.allow_delete, args.force, targets_of(args))
        text = savedplan.dump(
            plan_, api_host=api_host, manifests=files, plan_file=args.out, flags=flags, env=io.env
        )
        write_file(args.out, text)
        io.stderr.write(
            f"Saved the plan to {args.out}; apply it with: reconciler apply --plan {args.out}\n"
        )
    if args.detailed_exitcode and plan_.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
