"""The ``reconciler emulator`` command's options and entry point, owned by the emulator.

The product's CLI only adds the ``emulator`` subcommand, calls ``add_arguments`` on its parser
and hands the parsed arguments to ``main``, which serves until interrupted and returns the
exit code: 0, or 1 with a one-line ``error:`` on stderr for a bad seed or state file, or a port
that cannot be bound. The emulator thus needs nothing from the product to run.
"""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from reconciler.emulator.manifests import MASK_STYLES


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add every emulator option to ``p``."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--seed", metavar="FILE", help="seed file (YAML or JSON)")
    p.add_argument(
        "--state-file",
        metavar="FILE",
        help="keep the account in FILE across restarts (holds secrets; written 0600)",
    )
    p.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    p.add_argument("--error-rate", type=float, default=0.0, help="probability of a 5xx")
    p.add_argument("--drop-rate", type=float, default=0.0, help="probability of a dropped call")
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault generator")
    p.add_argument("--route-limit", type=int, help="rate limit: requests per route per window")
    p.add_argument("--global-limit", type=int, help="rate limit: requests per window in all")
    p.add_argument("--window", type=float, default=10.0, help="rate-limit window, seconds")
    p.add_argument("--retry-after", type=int, help="send Retry-After (seconds) on 429s")
    p.add_argument(
        "--dataplane", action="store_true", help="sync stores that are on (write the sync marker)"
    )
    p.add_argument("--sync-interval", type=float, default=30.0, help="data-plane sync, seconds")
    p.add_argument(
        "--no-validate", action="store_true", help="skip OpenAPI validation (benchmarks)"
    )
    p.add_argument(
        "--dataplane-any-host", action="store_true", help="let the data plane leave loopback"
    )
    p.add_argument(
        "--dynamodb-endpoint",
        metavar="URL",
        help="with --dataplane, also write the marker of 'on' DynamoDB stores through this "
        "DynamoDB-compatible endpoint (e.g. moto's server)",
    )
    p.add_argument(
        "--mask-style",
        choices=MASK_STYLES,
        help="how secrets are masked on read: fixed (sup********123, the default) or per-char"
        " (one star per hidden character); overrides the seed's maskStyle",
    )
    p.add_argument(
        "--list-config",
        action="store_true",
        default=None,
        help="list items carry config (masked), as LaunchDarkly's REST client expects",
    )


def main(args: argparse.Namespace, stderr: TextIO | None = None) -> int:
    """Serve the emulator described by ``args`` until Ctrl-C; the exit code."""
    from reconciler.emulator.seed import SeedError
    from reconciler.emulator.server import run

    err = stderr or sys.stderr
    try:
        run(
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
            dynamodb_endpoint=args.dynamodb_endpoint,
            validate_contract=not args.no_validate,
            state_file=args.state_file,
            mask_style=args.mask_style,
            list_config=args.list_config,
        )
    except SeedError as error:
        err.write(f"error: {error}\n")
        return 1
    except OSError as error:
        err.write(f"error: {error}\n")
        return 1
    return 0
