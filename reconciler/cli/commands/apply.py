"""``reconciler apply``: plan (or restore a saved plan), check safety, confirm, execute, wait.

Safety is the same ``refusals`` computation ``plan`` shows (with the environment reads, and
narrowed to ``--target``), so a plan that ``plan`` accepted is not refused here and vice versa.
A saved plan is checked with the flags it was made with (``apply --plan`` may repeat them,
``--target`` included, but not add or change any).

Progress goes to stderr, one line per store for small plans; every request is journalled.
SIGINT and SIGTERM during execution stop it cleanly (``reconciler.apply.interrupt``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from reconciler import escape
from reconciler.api.client import Client, settings_from_env
from reconciler.apply import savedplan
from reconciler.apply.executor import DEFAULT_GRACE, Outcome, execute
from reconciler.apply.health import Waited, wait_healthy
from reconciler.apply.interrupt import Stop, catch_signals
from reconciler.apply.journal import Journal
from reconciler.apply.savedplan import PlanFlags
from reconciler.cli.commands.base import IO
from reconciler.cli.commands.common import (
    client_for,
    colour,
    environments,
    in_scope,
    limits_of,
    load,
    read,
    shape,
    targets_of,
)
from reconciler.errors import EXIT_OK, ConfigError, UsageError
from reconciler.manifest.load import load_manifests
from reconciler.model import LiveStore
from reconciler.plan.changes import Plan
from reconciler.plan.codec import MalformedPlanError
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import refusals, refused
from reconciler.progress import MIN_TOTAL, Progress
from reconciler.render.plan import render_text, summary_line

JOURNAL_VAR = "RECONCILER_JOURNAL"
DEFAULT_JOURNAL = ".reconciler/journal.jsonl"


def main(args: argparse.Namespace, io: IO) -> int:
    if bool(args.plan) == bool(args.paths):
        raise UsageError("apply takes either manifest PATHs or --plan FILE (exactly one)")
    loaded = None if args.plan else load(args, io)
    settings = settings_from_env(io.env, api_host=args.api_host)
    saved = _saved(args, io, settings.api_host) if args.plan else None  # before any request
    flags = PlanFlags(args.allow_delete, args.force, targets_of(args))
    with client_for(args, settings) as client:
        if saved is not None:
            plan_, flags = saved
            live = [s for s in client.list_stores() if s.project in plan_.projects]
            savedplan.check_live(plan_, live, path=args.plan)
            known = environments(client, args, io, plan_.projects)
        elif loaded is not None:
            live = read(client, args, io, loaded.state.projects)
            known = environments(client, args, io, in_scope(loaded.state.projects, flags.targets))
            plan_ = build_plan(loaded.state, live, owner_tag=args.owner_tag)
            plan_ = shape(plan_, flags.targets, known, io)
        found = refusals(
            plan_, allow_delete=flags.allow_delete, force=flags.force, environments=known
        )
        io.stdout.write(render_text(plan_, colour=colour(args, io), refusals=found))
        if saved is not None:
            io.stdout.write(f"Applying the saved plan {args.plan}: {summary_line(plan_)}\n")
        if not plan_.has_changes:
            io.stdout.write("Nothing to apply.\n")
            return EXIT_OK
        if found:
            raise refused(found)
        if not args.auto_approve:
            _confirm(io)
        _run(plan_, client, live, args, io)
    return EXIT_OK


def _run(
    plan_: Plan, client: Client, live: list[LiveStore], args: argparse.Namespace, io: IO
) -> None:
    """Execute the approved plan, report what was done, and wait for health if asked."""
    outcomes = _execute(plan_, client, live, args, io)
    counts = Counter(o.change.action for o in outcomes)
    for outcome in outcomes:
        if outcome.note:
            io.stdout.write(f"{outcome.change.address}: {outcome.note}\n")
    io.stdout.write(
        f"Apply complete: {counts['create']} created, {counts['update']} updated, "
        f"{counts['delete']} deleted.\n"
    )
    if args.wait_healthy is not None:
        _wait(client, outcomes, args.wait_healthy, io)


def _saved(args: argparse.Namespace, io: IO, api_host: str) -> tuple[Plan, PlanFlags]:
    """The saved plan and its flags, after every check that needs no request: the file's
    integrity, its manifests unchanged, the API host, its secrets, the flags given here."""
    try:
        text = Path(args.plan).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {args.plan}: {getattr(error, 'strerror', error)}") from None
    document = savedplan.parse(text, path=args.plan)
    reasons, warnings = savedplan.file_problems(document, savedplan.fingerprint_key(io.env))
    paths, stale_manifests = savedplan.manifest_paths(document, path=args.plan)
    reasons += stale_manifests
    flags = PlanFlags()
    try:
        flags = savedplan.flags_of(document)
    except MalformedPlanError as error:
        reasons.append(f"the plan file is malformed: {error}")
    reasons += _flag_reasons(args, flags)
    plan_ = None
    if not stale_manifests:
        loaded = load_manifests(paths, env=io.env, limits=limits_of(args))
        plan_ = savedplan.open_saved(
            document, path=args.plan, api_host=api_host, desired=loaded.state, env=io.env,
            reasons=reasons,
        )  # fmt: skip
    if reasons or plan_ is None:
        raise savedplan.refuse(args.plan, reasons)
    for warning in warnings:
        io.stderr.write(f"warning: {args.plan}: {warning}\n")
    if flags.targets:
        io.stderr.write(f"The saved plan is targeted: {', '.join(flags.targets)}\n")
    return plan_, flags


def _flag_reasons(args: argparse.Namespace, flags: PlanFlags) -> list[str]:
    """Flags are fixed when the plan is made: ``apply --plan`` may repeat them, not add any."""
    reasons = []
    for given, recorded, flag in (
        (args.allow_delete, flags.allow_delete, "--allow-delete"),
        (args.force, flags.force, "--force"),
    ):
        if given and not recorded:
            reasons.append(
                f"{flag} was given here but not to the plan: flags are part of what was"
                f" reviewed; make the plan with 'reconciler plan {flag} --out'"
            )
    targets = targets_of(args)
    if targets and targets != flags.targets:
        planned = ", ".join(flags.targets) or "none"
        reasons.append(f"--target differs from the plan's targets ({planned})")
    return reasons


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

    def stopping(stop: Stop) -> None:
        io.stderr.write(
            f"{stop.name}: starting nothing new; waiting up to {DEFAULT_GRACE:g}s for the "
            "requests in flight (send it again to stop at once)\n"
        )

    path = args.journal or io.env.get(JOURNAL_VAR) or DEFAULT_JOURNAL
    journal = Journal(None if args.no_journal else path)
    try:
        with catch_signals(Stop()) as stop:
            return execute(
                plan_, client, parallelism=args.parallelism, on_outcome=report, live=live,
                journal=journal, stop=stop, on_stop=stopping,
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
