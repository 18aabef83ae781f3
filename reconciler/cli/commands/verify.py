"""``reconciler verify``: check the declared Redis and DynamoDB stores themselves."""

from __future__ import annotations

import argparse
import json

from reconciler import escape
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import load
from reconciler.errors import EXIT_CHANGES, EXIT_OK, ConfigError, UsageError
from reconciler.extras import require


def main(args: argparse.Namespace, io: IO) -> int:
    require("verify")
    from reconciler.verify.verifier import verify_all

    loaded = load(args, io)
    ids: dict[tuple[str, str], str] = {}
    for item in args.client_side_id:
        where, _, value = item.partition("=")
        project, _, environment = where.partition("/")
        if not (project and environment and value):
            raise UsageError(f"--client-side-id takes PROJECT/ENV=ID, not {item!r}")
        ids[(project, environment)] = value
    if any(store.integration_key == "dynamodb" for store in loaded.state.stores):
        _require_aws_credentials()
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


def _require_aws_credentials() -> None:
    """DynamoDB tables are read with the caller's own AWS credentials; with none, verify
    cannot judge a store, which is an error (exit 1), not an unhealthy store (exit 2)."""
    from reconciler.verify.dynamodb_store import credentials_problem

    problem = credentials_problem()
    if problem is not None:
        raise ConfigError(
            f"verify reads DynamoDB tables with your own AWS credentials ({problem}): set"
            " AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with an"
            " instance or task role (the manifests' roleArn and externalId are LaunchDarkly's,"
            " not used here)"
        )
