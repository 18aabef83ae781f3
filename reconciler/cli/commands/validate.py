"""``reconciler validate``: parse and validate manifests, no network."""

from __future__ import annotations

import argparse

from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import load
from reconciler.errors import EXIT_OK


def main(args: argparse.Namespace, io: IO) -> int:
    result = load(args, io)
    stores = len(result.state.stores)
    io.stdout.write(
        f"{len(result.files)} manifest file(s) valid: {stores} store(s) in "
        f"{len(result.state.projects)} project(s).\n"
    )
    return EXIT_OK
