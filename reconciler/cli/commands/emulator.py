"""``reconciler emulator``: a thin command that runs the bundled emulator (its own program)."""

from __future__ import annotations

import argparse

from reconciler.cli.commands.base import IO
from reconciler.errors import EXIT_OK


def main(args: argparse.Namespace, io: IO) -> int:
    from reconciler.emulator.server import run as run_emulator

    run_emulator(
        host=args.host,
        port=args.port,
        seed_path=args.seed,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        fault_seed=args.fault_seed,
        rate_limit_route=args.route_limit,
        rate_limit_global=args.global_limit,
        rate_limit_window=args.window,
        retry_after=args.retry_after,
        dataplane=args.dataplane,
        sync_interval=args.sync_interval,
        dataplane_any_host=args.dataplane_any_host,
        validate_contract=not args.no_validate,
        state_file=args.state_file,
    )
    return EXIT_OK
