"""``reconciler emulator``: a thin command that runs the bundled emulator (its own program)."""

from __future__ import annotations

import argparse

from reconciler.cli.commands.base import IO
from reconciler.extras import require


def main(args: argparse.Namespace, io: IO) -> int:
    require("emulator")
    from reconciler.emulator.cli import main as emulator_main

    return emulator_main(args, io.stderr)
