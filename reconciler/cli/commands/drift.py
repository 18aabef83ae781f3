"""``reconciler drift``: report every difference (and, with ``--health``, unhealthy stores);
``--metrics-file`` also writes the gauges for node_exporter (``reconciler.watch.extra``)."""

from __future__ import annotations

import argparse
import time

from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import make_plan, render
from reconciler.errors import EXIT_CHANGES, EXIT_OK
from reconciler.render.plan import unhealthy_addresses


def main(args: argparse.Namespace, io: IO) -> int:
    """Exit 2 on drift; with ``--health``, also when a store is unhealthy (the rendered
    report says so in every format, so its verdict and the exit code agree)."""
    started = time.monotonic()
    plan_, api_host = make_plan(args, io)
    io.stdout.write(render(plan_, args, io, api_host, drift=True))
    if args.metrics_file:
        from reconciler.watch.extra import write_drift_metrics

        write_drift_metrics(args.metrics_file, plan_, duration=time.monotonic() - started)
    unhealthy = unhealthy_addresses(plan_) if args.health else []
    return EXIT_OK if plan_.in_sync and not unhealthy else EXIT_CHANGES
