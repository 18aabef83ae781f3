"""The argument parser: one sub-parser per command, shared option groups, usage errors exit 1.

``build_parser`` is all the command line knows about arguments; each command's options are
added by one small function here. A usage error raises ``UsageError`` (exit 1), never argparse's
exit 2, which means "changes" or "drift".
"""

from __future__ import annotations

import argparse
from typing import Any, NoReturn, TypeAlias

from reconciler import __version__
from reconciler.api.limits import DEFAULT_TIMEOUT
from reconciler.emulator.cli import add_arguments as add_emulator_arguments
from reconciler.errors import UsageError
from reconciler.manifest.limits import DEFAULT_LIMITS, parse_size
from reconciler.model import DEFAULT_OWNER_TAG
from reconciler.verify.base import SDK_STALE_AFTER

EPILOG = """\
exit codes:
  0  success (drift: no drift; plan: also with changes, unless --detailed-exitcode)
  1  error: invalid manifests or arguments, a refused plan, an API or network failure,
     a missing extra
  2  plan --detailed-exitcode: there are changes; drift: there is drift (with --health,
     also an unhealthy store); verify: a store is unhealthy

environment:
  LAUNCHDARKLY_ACCESS_TOKEN  the API access token (else LD_ACCESS_TOKEN); never printed
  LAUNCHDARKLY_API_HOST      the API URL (default https://app.launchdarkly.com)
  NO_COLOR                   any non-empty value turns colour off
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help that shows each option's default (when it has a meaningful one) and keeps the
    epilog's layout."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or default in (None, False, [], argparse.SUPPRESS)
            or not action.option_strings
        ):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error raises ``UsageError`` (exit 1) instead of exiting 2; every
    parser shows defaults, exit codes and the token variable in its help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("epilog", EPILOG)
        super().__init__(*args, **kwargs)

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
    p = sub.add_parser("validate", help="parse and validate manifests; no network")
    paths(p)
    p.add_argument(
        "--require-env", action="store_true",
        help="an unset ${VAR} is an error (default: a note; validate needs no secrets)",
    )  # fmt: skip
    manifest_limits(p)
    for add in (_plan, _apply, _drift, _export, _verify, _watch, _emulator, _show):
        add(sub)
    return parser


Subparsers: TypeAlias = "argparse._SubParsersAction[_Parser]"


def paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or directories")


def manifest_limits(p: argparse.ArgumentParser) -> None:
    """The size limits of manifest loading (docs/limits.md); both checked before reading."""
    p.add_argument(
        "--max-file-size", type=_size, default=DEFAULT_LIMITS.max_file_bytes, metavar="SIZE",
        help="refuse a manifest file larger than this (default 5MiB; units KiB, MiB, GiB)",
    )  # fmt: skip
    p.add_argument(
        "--max-tree-size", type=_size, default=DEFAULT_LIMITS.max_tree_bytes, metavar="SIZE",
        help="refuse manifests larger than this together (default 5MiB)",
    )  # fmt: skip


def connection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api-host", help="LaunchDarkly API URL (else $LAUNCHDARKLY_API_HOST)")
    p.add_argument("--owner-tag", default=DEFAULT_OWNER_TAG, help="the ownership tag")
    p.add_argument("--parallelism", type=_positive, default=32, help="concurrent requests")
    p.add_argument(
        "--max-attempts", type=_positive, default=8, help="tries per request (retries + 1)"
    )
    p.add_argument(
        "--timeout", type=_seconds, default=DEFAULT_TIMEOUT, metavar="SECONDS",
        help="overall deadline of each request: connect, headers and body"
        f" (default {DEFAULT_TIMEOUT:g})",
    )  # fmt: skip


def output(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    p.add_argument("--no-color", action="store_true", help="never colour the text output")


def target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target", action="append", default=[], metavar="ADDRESS_PREFIX",
        help="limit the run to addresses under this prefix of whole segments (repeatable),"
        " e.g. payments, payments/production, payments/production/redis",
    )  # fmt: skip


def _plan(sub: Subparsers) -> None:
    p = sub.add_parser("plan", help="show what apply would change")
    paths(p)
    manifest_limits(p)
    connection(p)
    output(p)
    p.add_argument("--detailed-exitcode", action="store_true", help="exit 2 when there are changes")
    p.add_argument("--out", metavar="FILE", help="save the plan for 'apply --plan FILE'")
    p.add_argument("--allow-delete", action="store_true", help="as apply: deletes are not refused")
    p.add_argument("--force", action="store_true", help="as apply: the threshold is not enforced")
    target(p)


def _apply(sub: Subparsers) -> None:
    p = sub.add_parser("apply", help="plan, then execute the changes")
    p.add_argument("paths", nargs="*", metavar="PATH", help="manifest files or directories")
    p.add_argument("--plan", metavar="FILE", help="execute a plan saved by 'plan --out'")
    manifest_limits(p)
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
    journal_flags(p)
    target(p)


def journal_flags(p: argparse.ArgumentParser) -> None:
    """``--journal FILE`` or ``--no-journal``, never both (apply and watch write one)."""
    journal = p.add_mutually_exclusive_group()
    journal.add_argument("--journal", metavar="FILE", help="journal file (default:"
                         " $RECONCILER_JOURNAL or .reconciler/journal.jsonl)")  # fmt: skip
    journal.add_argument("--no-journal", action="store_true", help="do not write a journal")


def _drift(sub: Subparsers) -> None:
    p = sub.add_parser("drift", help="report every difference; exit 2 on drift")
    paths(p)
    manifest_limits(p)
    connection(p)
    output(p)
    p.add_argument("--health", action="store_true", help="unavailable or stale stores are drift")
    p.add_argument("--metrics-file", metavar="PATH",
                   help="also write the drift and health gauges for node_exporter's textfile"
                   " collector (needs reconciler[watch])")  # fmt: skip
    target(p)


def _export(sub: Subparsers) -> None:
    p = sub.add_parser("export", help="write manifests from live state")
    p.add_argument(
        "--project", action="append", default=[], metavar="KEY",
        help="export this project (repeatable; default: all projects with stores)",
    )  # fmt: skip
    p.add_argument("--out", metavar="DIR", help="write one file per project here (default: stdout)")
    p.add_argument("--force", action="store_true", help="overwrite existing files in DIR")
    connection(p)


def _verify(sub: Subparsers) -> None:
    p = sub.add_parser("verify", help="check the declared stores themselves (Redis, DynamoDB)")
    paths(p)
    manifest_limits(p)
    p.add_argument(
        "--client-side-id", action="append", default=[], metavar="PROJECT/ENV=ID",
        help="an environment's client-side ID: the key prefix LaunchDarkly writes under"
        " (repeatable; default: read from LaunchDarkly's environments)",
    )  # fmt: skip
    p.add_argument("--max-marker-age", type=float, default=SDK_STALE_AFTER, metavar="SECONDS",
                   help="a sync marker older than this is stale (default 120, like the SDK's"
                   " BigSegmentsConfig(stale_after=120))")  # fmt: skip
    p.add_argument("--timeout", type=float, default=5.0, help="connection timeout, seconds")
    p.add_argument("--dynamodb-endpoint", metavar="URL", help="DynamoDB endpoint (e.g. local)")
    p.add_argument("--parallelism", type=_positive, default=8, help="stores checked at once")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--api-host", help="LaunchDarkly API URL, for client-side IDs (else"
                   " $LAUNCHDARKLY_API_HOST)")  # fmt: skip


def _watch(sub: Subparsers) -> None:
    p = sub.add_parser("watch", help="re-plan every interval; expose drift and health metrics")
    paths(p)
    manifest_limits(p)
    connection(p)
    _watch_flags(p)


def _emulator(sub: Subparsers) -> None:
    p = sub.add_parser("emulator", help="run the bundled LaunchDarkly emulator")
    add_emulator_arguments(p)


def _watch_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", default="5m", help="time between cycles: 30s, 5m, 1h (default 5m)")
    p.add_argument("--listen", default="127.0.0.1:9464", metavar="HOST:PORT",
                   help="serve /metrics, /healthz, /readyz (default 127.0.0.1:9464)")  # fmt: skip
    p.add_argument("--auto-apply", action="store_true", help="apply creates and updates that"
                   " pass every safety check")  # fmt: skip
    p.add_argument("--allow-delete", action="store_true", help="auto-apply may delete stores")
    p.add_argument("--force", action="store_true", help="auto-apply above the change threshold")
    journal_flags(p)
    p.add_argument("--log-format", choices=("json", "text"), default="json",
                   help="stderr log lines: one JSON object each (default) or text")  # fmt: skip
    p.add_argument("--cycles", type=_positive, metavar="N",
                   help="stop after N cycles and print the metrics to stdout")  # fmt: skip


def _show(sub: Subparsers) -> None:
    p = sub.add_parser("show", help="print a saved plan as 'plan' would have (no network)")
    p.add_argument("planfile", metavar="PLANFILE", help="a plan saved by 'plan --out'")
    output(p)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError("must be more than 0 and at most 86400 seconds")
    return value
