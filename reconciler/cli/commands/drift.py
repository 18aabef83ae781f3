"""``reconciler drift``: report every difference (and, with ``--health``, unhealthy stores)."""

from __future__ import annotations

import argparse

from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import make_plan, render
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.render.plan import unhealthy_addresses


def main(args: argparse.Namespace, io: IO) -> int:
    """Exit 2 on drift; with ``--health``, also when a store is unhealthy (the rendered
    report says so in every format, so its verdict and the exit code agree)."""
    plan_, api_host = make_plan(args, io)
    io.stdout.write(render(plan_, args, io, api_host, drift=True))
    unhealthy = unhealthy_addresses(plan_) if args.health else []
    return EXIT_OK if plan_.in_sync and not unhealthy else EXIT_CHANGES
