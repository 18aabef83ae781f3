"""The command line: parses arguments, wires loader, client, planner and executor, and maps
every ``ReconcilerError`` to its exit code at one point.

Results go to stdout; logs, prompts and errors go to stderr. A usage error exits 1, never 2:
2 always means "changes" (``plan --detailed-exitcode``) or "drift". ``main(argv)`` returns the
exit code and is what tests call; ``main_entry`` is the console script.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from reconciler import __version__
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ReconcilerError, UsageError
from reconciler.model import DEFAULT_OWNER_TAG

log = logging.getLogger("reconciler")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises ``UsageError`` (exit 1) instead of exiting 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="reconciler",
        description="GitOps for LaunchDarkly persistent-store (big segment store) integrations.",
    )
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logs on stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories")

    def connection(p: argparse.ArgumentParser) -> None:
        p.add_argument("--api-host", help="LaunchDarkly API URL (else $LAUNCHDARKLY_API_HOST)")
        p.add_argument("--owner-tag", default=DEFAULT_OWNER_TAG, help="the ownership tag")
        p.add_argument("--parallelism", type=_positive, default=32, help="concurrent requests")
        p.add_argument(
            "--max-attempts", type=_positive, default=8, help="tries per request (retries + 1)"
        )

    def output(p: argparse.ArgumentParser) -> None:
        p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
        p.add_argument("--no-color", action="store_true", help="never colour the text output")

    p = sub.add_parser("validate", help="parse and validate manifests; no network")
    paths(p)
    p = sub.add_parser("plan", help="show what apply would change")
    paths(p)
    connection(p)
    output(p)
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    p.add_argument("--out", metavar="FILE", help="save the plan for 'apply --plan FILE'")
    p = sub.add_parser("apply", help="plan, then execute the changes")
    p.add_argument("paths", nargs="*", metavar="PATH", help="manifest files or directories")
    p.add_argument("--plan", metavar="FILE", help="execute a plan saved by 'plan --out'")
    connection(p)
    p.add_argument("--no-color", action="store_true", help="never colour the text output")
    p.add_argument("--auto-approve", action="store_true", help="do not ask for confirmation")
    p.add_argument("--allow-delete", action="store_true", help="allow deleting stores")
    p.add_argument("--force", action="store_true", help="allow changes above the threshold")
    p.add_argument(
        "--wait-healthy",
        nargs="?",
        const=300.0,
        type=float,
        metavar="SECONDS",
        help="after applying, wait until changed stores are available (default 300 s)",
    )
    p.add_argument("--journal", metavar="FILE", help="journal file (default: $RECONCILER_JOURNAL"
                   " or .reconciler/journal.jsonl)")  # fmt: skip
    p.add_argument("--no-journal", action="store_true", help="do not write a journal")
    p = sub.add_parser("drift", help="report every difference; exit 2 on drift")
    paths(p)
    connection(p)
    output(p)
    p.add_argument("--health", action="store_true", help="unavailable or stale stores are drift")
    p.add_argument("--metrics-file", metavar="PATH",
                   help="also write the drift and health gauges for node_exporter's textfile"
                   " collector (needs reconciler[watch])")  # fmt: skip
    p = sub.add_parser("export", help="write manifests from live state")
    p.add_argument(
        "--project", action="append", default=[], metavar="KEY",
        help="export this project (repeatable; default: all projects with stores)",
    )  # fmt: skip
    p.add_argument("--out", metavar="DIR", help="write one file per project here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite existing files in DIR")
    connection(p)
    p = sub.add_parser("verify", help="check the declared stores themselves (Redis, DynamoDB)")
    paths(p)
    p.add_argument(
        "--client-side-id", action="append", default=[], metavar="PROJECT/ENV=ID",
        help="an environment's client-side ID: the key prefix LaunchDarkly writes under"
        " (repeatable; without it, Redis is scanned for markers)",
    )  # fmt: skip
    p.add_argument("--max-marker-age", type=float, default=300.0, metavar="SECONDS",
                   help="a sync marker older than this is stale (default 300)")  # fmt: skip
    p.add_argument("--timeout", type=float, default=5.0, help="connection timeout, seconds")
    p.add_argument("--dynamodb-endpoint", metavar="URL", help="DynamoDB endpoint (e.g. local)")
    p.add_argument("--parallelism", type=_positive, default=8, help="stores checked at once")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p = sub.add_parser("watch", help="re-plan every interval; expose drift and health metrics")
    paths(p)
    connection(p)
    _watch_flags(p)
    p = sub.add_parser("emulator", help="run the bundled LaunchDarkly emulator")
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
        "--dataplane", action="store_true", help="sync Redis stores that are on (sync marker)"
    )
    p.add_argument("--sync-interval", type=float, default=30.0, help="data-plane sync, seconds")
    p.add_argument(
        "--no-validate", action="store_true", help="skip OpenAPI validation (benchmarks)"
    )
    p.add_argument(
        "--dataplane-any-host", action="store_true", help="let the data plane leave loopback"
    )
    return parser


def _watch_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", default="5m", help="time between cycles: 30s, 5m, 1h (default 5m)")
    p.add_argument("--listen", default="127.0.0.1:9464", metavar="HOST:PORT",
                   help="serve /metrics, /healthz, /readyz (default 127.0.0.1:9464)")  # fmt: skip
    p.add_argument("--auto-apply", action="store_true", help="apply creates and updates that"
                   " pass every safety check")  # fmt: skip
    p.add_argument("--allow-delete", action="store_true", help="auto-apply may delete stores")
    p.add_argument("--force", action="store_true", help="auto-apply above the change threshold")
    p.add_argument("--journal", metavar="FILE", help="journal file (default: $RECONCILER_JOURNAL"
                   " or .reconciler/journal.jsonl)")  # fmt: skip
    p.add_argument("--no-journal", action="store_true", help="do not write a journal")
    p.add_argument("--log-format", choices=("json", "text"), default="json",
                   help="stderr log lines: one JSON object each (default) or text")  # fmt: skip
    p.add_argument("--cycles", type=_positive, metavar="N",
                   help="stop after N cycles and print the metrics to stdout")  # fmt: skip


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run one command; return its exit code. The only place errors become exit codes."""
    from reconciler import commands

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    try:
        args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
        _configure_logging(args.verbose, err)
        io = commands.IO(
            stdin=stdin or sys.stdin,
            stdout=out,
            stderr=err,
            env=dict(os.environ if env is None else env),
        )
        return commands.run(args, io)
    except ReconcilerError as error:
        err.write(f"error: {error}\n")
        return error.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_ERROR
    except SystemExit as exit_:  # --help and --version
        return EXIT_OK if exit_.code in (0, None) else EXIT_ERROR


def _configure_logging(verbosity: int, stream: TextIO) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("reconciler")
    root.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False


# The cyclic collector's default first-generation threshold (700 allocations) makes a plan of
# 10,000 stores trigger thousands of collections, each older-generation one walking a heap that
# grows with the plan: plan time then grows faster than the store count. A short-lived batch
# process can afford fewer, larger collections (mypy makes the same trade).
GC_THRESHOLDS = (200_000, 30, 30)


def tune_gc_for_batch() -> None:
    """Set the collector thresholds the console script runs with (``GC_THRESHOLDS``)."""
    gc.set_threshold(*GC_THRESHOLDS)


def main_entry() -> NoReturn:
    tune_gc_for_batch()
    sys.exit(main())


__all__ = [
    "EXIT_CHANGES",
    "EXIT_ERROR",
    "EXIT_OK",
    "build_parser",
    "main",
    "main_entry",
    "tune_gc_for_batch",
]
