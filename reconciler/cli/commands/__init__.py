"""The commands, one module each, imported only when run: ``reconciler --help`` and a usage
error import none of them. Each module's ``main(args, io)`` returns an exit code and raises
``ReconcilerError`` for failures; ``cli.main`` turns those into messages and codes.
"""

from __future__ import annotations

import argparse
import importlib

from reconciler.cli.commands.base import IO
from reconciler.errors import UsageError

COMMANDS = (
    "validate",
    "plan",
    "apply",
    "drift",
    "export",
    "verify",
    "emulator",
    "watch",
    "show",
)


def run(args: argparse.Namespace, io: IO) -> int:
    """Import the command's module and run it."""
    if args.command not in COMMANDS:
        raise UsageError(f"unknown command {args.command!r}")
    module = importlib.import_module(f"reconciler.cli.commands.{args.command}")
    code: int = module.main(args, io)
    return code


__all__ = ["COMMANDS", "IO", "run"]
