"""``reconciler apply``: plan (or restore a saved plan), check safety, confirm, execute, wait.

Safety is the same ``refusals`` computation ``plan`` shows (with the environment reads, and
narrowed to ``--target``), so a plan that ``plan`` accepted is not refused here and vice versa.

Progress goes to stderr, one line per store for small plans; every request is journalled.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from reconciler import escape
from reconciler.api.client import Client, settings_from_env
from reconciler.apply import savedplan
from reconciler.apply.executor import Outcome, execute
from reconciler.apply.health import Waited, wait_healthy
from reconciler.apply.journal import Journal
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import (
    client_for,
    colour,
    environments,
    in_scope,
    load,
    read,
    shape,
    targets_of,
)
from reconciler.errors import EXIT_OK, ConfigError, UsageError
from reconciler.manifest.load import load_manifests
from reconciler.model import LiveStore
from reconciler.plan.changes import Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import refusals, refused
from reconciler.progress import MIN_TOTAL, Progress
from reconciler.render.plan import render_text, summary_line

JOURNAL_VAR = "RECONCILER_JOURNAL"
DEFAULT_JOURNAL = ".reconciler/journal.jsonl"


def main(args: argparse.Namespace, io: IO) -> int:
    if bool(args.plan) == bool(args.paths):
        raise UsageError("apply takes either manifest PATHs or --plan FILE (exactly one)")
    if args.plan and args.target:
        raise UsageError("--target goes with 'plan --out'; a saved plan is already targeted")
    targets = targets_of(args)
    loaded = None if args.plan else load(args, io)
    settings = settings_from_env(io.env, api_host=args.api_host)
    with client_for(args, settings) as client:
        if loaded is None:
            plan_, live = _saved(args, io, client, settings.api_host)
            known = environments(client, args, io, plan_.projects)
        else:
            live = read(client, args, io, loaded.state.projects)
            known = environments(client, args, io, in_scope(loaded.state.projects, targets))
            plan_ = build_plan(loaded.state, live, owner_tag=args.owner_tag)
            plan_ = shape(plan_, targets, known, io)
        found = refusals(
            plan_, allow_delete=args.allow_delete, force=args.force, environments=known
        )
        if loaded is not None:
            io.stdout.write(render_text(plan_, colour=colour(args, io), refusals=found))
        if not plan_.has_changes:
            io.stdout.write("Nothing to apply.\n")
            return EXIT_OK
        if found:
            raise refused(found)
        if not args.auto_approve:
            _confirm(io)
        outcomes = _execute(plan_, client, live, args, io)
        counts = Counter(o.change.action for o in outcomes)
        io.stdout.write(
            f"Apply complete: {counts['create']} created, {counts['update']} updated, "
            f"{counts['delete']} deleted.\n"
        )
        if args.wait_healthy is not None:
            _wait(client, outcomes, args.wait_healthy, io)
    return EXIT_OK


def _saved(
    args: argparse.Namespace, io: IO, client: Client, api_host: str
) -> tuple[Plan, list[LiveStore]]:
    try:
        text = Path(args.plan).read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read {args.plan}: {error.strerror}") from None
    document = savedplan.parse(text, path=args.plan)
    loaded = load_manifests(savedplan.manifests_of(document), env=io.env)
    live = [s for s in client.list_stores() if s.project in loaded.state.projects]
    plan_, warnings = savedplan.restore(
        document, path=args.plan, api_host=api_host, desired=loaded.state, live=live, env=io.env
    )
    for warning in warnings:
        io.stderr.write(f"warning: {warning}\n")
    io.stdout.write(f"Applying the saved plan {args.plan}: {summary_line(plan_)}\n")
    return plan_, live


def _execute(
    plan_: Plan, client: Client, live: list[LiveStore], args: argparse.Namespace, io: IO
) -> list[Outcome]:
    """Execute with progress on stderr (one line per store for small plans) and a journal."""
    total = sum(1 for c in plan_.changes if c.is_change)
    bar = Progress("apply", total, io.stderr)

    def report(outcome: Outcome) -> None:
        bar.advance()
        if total < MIN_TOTAL:
            change, store = outcome.change, outcome.store
            ident = store.id if store is not None else change.id
            version = f", version {store.version}" if store is not None else ""
            line = f"{change.address}: {change.action} done (id {ident}{version})"
            io.stderr.write(escape.text(line) + "\n")

    path = args.journal or io.env.get(JOURNAL_VAR) or DEFAULT_JOURNAL
    journal = Journal(None if args.no_journal else path)
    try:
        return execute(
            plan_, client, parallelism=args.parallelism, on_outcome=report, live=live,
            journal=journal,
        )  # fmt: skip
    finally:
        journal.close()


def _wait(client: Client, outcomes: list[Outcome], timeout: float, io: IO) -> None:
    waited = [
        Waited(str(o.change.address), o.store)
        for o in outcomes
        if o.store is not None and o.store.on and o.change.action in ("create", "update")
    ]
    if not waited:
        return
    io.stderr.write(f"Waiting up to {timeout:g}s for {len(waited)} store(s) to be available...\n")

    def progress(done: int, total: int) -> None:
        io.stderr.write(f"  {done}/{total} available\n")

    wait_healthy(client, waited, timeout=timeout, interval=min(5.0, max(timeout / 10, 0.1)),
                 on_poll=progress)  # fmt: skip
    io.stderr.write("All changed stores are available.\n")


def _confirm(io: IO) -> None:
    isatty = getattr(io.stdin, "isatty", None)
    if not (isatty and isatty()):
        raise UsageError(
            "refusing to apply: standard input is not a terminal; "
            "review the plan and re-run with --auto-approve"
        )
    io.stderr.write("Apply these changes? Only 'yes' is accepted: ")
    io.stderr.flush()
    if io.stdin.readline().strip() != "yes":
        raise UsageError("apply cancelled: nothing was changed")
