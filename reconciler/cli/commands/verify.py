"""``reconciler verify``: check the declared Redis and DynamoDB stores themselves.

The marker LaunchDarkly writes is keyed by the environment's client-side ID. ``--client-side-id``
gives it; for every other environment with a store that is on, it is read from LaunchDarkly's
environment reads (``reconciler.api.environments``). Without a token, or when the reads are
denied, verify says so on stderr and falls back: Redis is scanned for markers, and a DynamoDB
marker is not checked.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Collection

from reconciler import escape
from reconciler.api.client import TOKEN_VARS, Client, settings_from_env
from reconciler.api.environments import find_client_side_ids
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import load
from reconciler.errors import EXIT_CHANGES, EXIT_OK, ConfigError, UsageError
from reconciler.extras import require

FALLBACK = (
    "without a client-side ID, verify scans Redis for markers and does not check a DynamoDB"
    " marker (pass --client-side-id PROJECT/ENV=ID)"
)


def main(args: argparse.Namespace, io: IO) -> int:
    require("verify")
    from reconciler.verify.verifier import verify_all

    loaded = load(args, io)
    ids = _overrides(args.client_side_id)
    wanted = {(s.project, s.environment) for s in loaded.state.stores if s.on} - ids.keys()
    if wanted:
        ids = {**_discover(args, io, wanted), **ids}
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


def _overrides(items: list[str]) -> dict[tuple[str, str], str]:
    ids: dict[tuple[str, str], str] = {}
    for item in items:
        where, _, value = item.partition("=")
        project, _, environment = where.partition("/")
        if not (project and environment and value):
            raise UsageError(f"--client-side-id takes PROJECT/ENV=ID, not {item!r}")
        ids[(project, environment)] = value
    return ids


def _discover(
    args: argparse.Namespace, io: IO, wanted: Collection[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Client-side IDs from LaunchDarkly's environment reads; warnings on stderr."""
    if not any(io.env.get(name, "").strip() for name in TOKEN_VARS):
        io.stderr.write(
            "warning: no LaunchDarkly access token (LAUNCHDARKLY_ACCESS_TOKEN), so the"
            f" environments' client-side IDs are unknown; {FALLBACK}\n"
        )
        return {}
    settings = settings_from_env(io.env, api_host=args.api_host)
    with Client(settings, connections=1) as client:
        found = find_client_side_ids(client, wanted)
    for warning in found.warnings:
        io.stderr.write(f"warning: {warning}\n")
    if found.warnings:
        io.stderr.write(f"warning: {FALLBACK}\n")
    return dict(found.ids)


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
