"""``reconciler plan``: show what apply would change; ``--out`` saves it for ``apply --plan``.

Preflight: the plan is checked with the same ``refusals`` apply uses, for the same flags
(``--allow-delete``, ``--force``). A plan apply would refuse is still shown whole, with every
reason, and exits 1 (and is not saved).
"""

from __future__ import annotations

import argparse

from reconciler.apply import savedplan
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import planned, render, targets_of, write_file
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.plan.safety import refusals, refused


def main(args: argparse.Namespace, io: IO) -> int:
    result = planned(args, io)
    plan_, api_host = result.plan, result.api_host
    found = refusals(
        plan_, allow_delete=args.allow_delete, force=args.force, environments=result.environments
    )
    io.stdout.write(render(plan_, args, io, api_host, drift=False, refusals=found))
    if found:
        saved = f" (not saved to {args.out})" if args.out else ""
        raise refused(found, f"plan refused{saved}: apply would refuse it")
    if args.out:
        flags = savedplan.PlanFlags(args.allow_delete, args.force, targets_of(args))
        text = savedplan.dump(
            plan_,
            api_host=api_host,
            manifests=result.files,
            plan_file=args.out,
            flags=flags,
            env=io.env,
        )
        write_file(args.out, text)
        io.stderr.write(
            f"Saved the plan to {args.out}; apply it with: reconciler apply --plan {args.out}\n"
        )
    if args.detailed_exitcode and plan_.has_changes:
        return EXIT_CHANGES
    return EXIT_OK
