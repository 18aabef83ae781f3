"""The command line's one exit point: parses arguments (``parser``), runs the chosen command
(``commands``, imported only then), and maps every ``ReconcilerError`` to its exit code.

Results go to stdout; logs, prompts and errors go to stderr. A usage error exits 1, never 2:
2 always means "changes" (``plan --detailed-exitcode``) or "drift". ``main(argv)`` returns the
exit code and is what tests call; ``main_entry`` is the console script.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn, TextIO

from reconciler import escape
from reconciler.cli.parser import build_parser
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ReconcilerError

log = logging.getLogger("reconciler")


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Run one command; return its exit code. The only place errors become exit codes."""
    from reconciler.cli import commands

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
        err.write(f"error: {escape.lines(str(error))}\n")
        return error.exit_code
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return EXIT_ERROR
    except SystemExit as exit_:  # --help and --version
        return EXIT_OK if exit_.code in (0, None) else EXIT_ERROR


class _EscapingFormatter(logging.Formatter):
    """Log lines whose live values (names, ids, messages) cannot forge lines or escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return escape.lines(super().format(record))


def _configure_logging(verbosity: int, stream: TextIO) -> None:
    level = logging.WARNING if verbosity == 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("reconciler")
    root.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_EscapingFormatter("%(levelname)s %(name)s: %(message)s"))
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
