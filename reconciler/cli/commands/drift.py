"""``reconciler drift``: report every difference (and, with ``--health``, unhealthy stores)."""

from __future__ import annotations

import argparse

from reconciler import escape
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import make_plan, render
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.render.plan import health_rows


def main(args: argparse.Namespace, io: IO) -> int:
    plan_, api_host = make_plan(args, io)
    io.stdout.write(render(plan_, args, io, api_host, drift=True))
    unhealthy = [a for a, ok, _ in health_rows(plan_, now_ms=0) if not ok] if args.health else []
    if unhealthy:
        io.stderr.write(escape.text(f"unhealthy: {', '.join(unhealthy)}") + "\n")
    return EXIT_OK if plan_.in_sync and not unhealthy else EXIT_CHANGES
