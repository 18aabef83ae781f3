"""``reconciler verify``: check the declared Redis and DynamoDB stores themselves."""

from __future__ import annotations

import argparse
import json

from reconciler import escape
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import load
from reconciler.errors import EXIT_CHANGES, EXIT_OK, UsageError


def main(args: argparse.Namespace, io: IO) -> int:
    from reconciler.verify.verifier import verify_all

    loaded = load(args, io)
    ids: dict[tuple[str, str], str] = {}
    for item in args.client_side_id:
        where, _, value = item.partition("=")
        project, _, environment = where.partition("/")
        if not (project and environment and value):
            raise UsageError(f"--client-side-id takes PROJECT/ENV=ID, not {item!r}")
        ids[(project, environment)] = value
    reports = verify_all(
        loaded.state.stores, client_side_ids=ids, timeout=args.timeout,
        max_marker_age=args.max_marker_age, dynamodb_endpoint=args.dynamodb_endpoint,
        parallelism=args.parallelism,
    )  # fmt: skip
    if args.format == "json":
        doc = [
            {
                "address": r.address,
                "integrationKey": r.integration_key,
                "healthy": r.healthy,
                "markerAgeSeconds": r.marker_age_seconds,
                "checks": [{"kind": c.kind, "ok": c.ok, "message": c.message} for c in r.checks],
            }
            for r in reports
        ]
        io.stdout.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    else:
        for report in reports:
            io.stdout.write(escape.text(f"{'ok  ' if report.healthy else 'FAIL'} {report.address}"))
            for check in report.checks:  # messages may quote what a store's server said
                mark = "✓" if check.ok else "✗"
                io.stdout.write("\n" + escape.text(f"       {mark} {check.kind}: {check.message}"))
            io.stdout.write("\n")
        healthy = sum(1 for r in reports if r.healthy)
        io.stdout.write(f"Verify: {healthy} of {len(reports)} store(s) healthy.\n")
    return EXIT_OK if all(r.healthy for r in reports) else EXIT_CHANGES
