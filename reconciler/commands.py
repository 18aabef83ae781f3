"""What each command does, given parsed arguments: load, read live state, plan, render, apply.

Each function returns an exit code and raises ``ReconcilerError`` for failures; ``cli.py``
turns those into messages and codes. Nothing here touches ``sys`` directly: streams, standard
input and the environment arrive in ``IO``, so tests drive the real commands in-process.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from reconciler import savedplan
from reconciler.apply import Outcome, execute
from reconciler.client import Client, ConnectionSettings, RetryPolicy, settings_from_env
from reconciler.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, ConfigError, UsageError
from reconciler.export import export_manifests
from reconciler.health import Waited, wait_healthy
from reconciler.journal import Journal
from reconciler.manifest import LoadResult, load_manifests
from reconciler.model import LiveStore
from reconciler.plan import Plan, build_plan
from reconciler.progress import MIN_TOTAL, Progress
from reconciler.refresh import read_live
from reconciler.render import (
    health_rows,
    render_json,
    render_markdown,
    render_text,
    summary_line,
)
from reconciler.safety import check_safety

JOURNAL_VAR = "RECONCILER_JOURNAL"
DEFAULT_JOURNAL = ".reconciler/journal.jsonl"

log = logging.getLogger("reconciler")


@dataclass(frozen=True, slots=True)
class IO:
    """The streams and environment a command may use."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    env: Mapping[str, str]


def run(args: argparse.Namespace, io: IO) -> int:
    handler = {
        "validate": validate,
        "plan": plan,
        "apply": apply,
        "drift": drift,
        "emulator": emulator,
        "export": export,
        "verify": verify,
        "watch": watch,
    }[args.command]
    return handler(args, io)


def _load(args: argparse.Namespace, io: IO) -> LoadResult:
    result = load_manifests(args.paths, env=io.env)
    for warning in result.warnings:
        io.stderr.write(f"warning: {warning}\n")
    return result


def _colour(args: argparse.Namespace, io: IO) -> bool:
    isatty = getattr(io.stdout, "isatty", None)
    return bool(isatty and isatty()) and not args.no_color and "NO_COLOR" not in io.env


def validate(args: argparse.Namespace, io: IO) -> int:
    result = _load(args, io)
    stores = len(result.state.stores)
    io.stdout.write(
        f"{len(result.files)} manifest file(s) valid: {stores} store(s) in "
        f"{len(result.state.projects)} project(s).\n"
    )
    return EXIT_OK


def _client(args: argparse.Namespace, settings: ConnectionSettings) -> Client:
    return Client(
        settings,
        retry=RetryPolicy(max_attempts=args.max_attempts),
        connections=args.parallelism,
    )


def _read(
    client: Client, args: argparse.Namespace, io: IO, projects: Collection[str] | None
) -> list[LiveStore]:
    return read_live(client, projects, parallelism=args.parallelism, progress=io.stderr)


def _make_plan(args: argparse.Namespace, io: IO) -> tuple[Plan, str]:
    loaded = _load(args, io)  # nothing touches the network before manifests are valid
    settings = settings_from_env(io.env, api_host=args.api_host)
    with _client(args, settings) as client:
        live = read_live(
            client, loaded.state.projects, parallelism=args.parallelism, progress=io.stderr
        )
    return build_plan(loaded.state, live, owner_tag=args.owner_tag), settings.api_host


def _render(plan_: Plan, args: argparse.Namespace, io: IO, api_host: str, *, drift: bool) -> str:
    now_ms = int(time.time() * 1000)
    if args.format == "json":
        return render_json(plan_, api_host=api_host)
    if args.format == "markdown":
        return render_markdown(plan_, drift=drift, now_ms=now_ms)
    return render_text(plan_, colour=_colour(args, io), drift=drift, now_ms=now_ms)


def plan(args: argparse.Namespace, io: IO) -> int:
    plan_, api_host = _make_plan(args, io)
    io.stdout.write(_render(plan_, args, io, api_host, drift=False))
    if args.out:
        text = savedplan.dump(plan_, api_host=api_host, manifests=args.paths, env=io.env)
        _write_file(args.out, text)
        io.stderr.write(
            f"Saved the plan to {args.out}; apply it with: reconciler apply --plan {args.out}\n"
        )
    if args.detailed_exitcode and plan_.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def drift(args: argparse.Namespace, io: IO) -> int:
    started = time.monotonic()
    plan_, api_host = _make_plan(args, io)
    io.stdout.write(_render(plan_, args, io, api_host, drift=True))
    if args.metrics_file:
        from reconciler.watch_cmd import write_drift_metrics

        write_drift_metrics(args.metrics_file, plan_, duration=time.monotonic() - started)
    unhealthy = [a for a, ok, _ in health_rows(plan_, now_ms=0) if not ok] if args.health else []
    if unhealthy:
        io.stderr.write(f"unhealthy: {', '.join(unhealthy)}\n")
    return EXIT_OK if plan_.in_sync and not unhealthy else EXIT_CHANGES


def _write_file(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None


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


def apply(args: argparse.Namespace, io: IO) -> int:
    if bool(args.plan) == bool(args.paths):
        raise UsageError("apply takes either manifest PATHs or --plan FILE (exactly one)")
    loaded = None if args.plan else _load(args, io)
    settings = settings_from_env(io.env, api_host=args.api_host)
    with _client(args, settings) as client:
        if loaded is None:
            plan_, live = _saved(args, io, client, settings.api_host)
        else:
            live = _read(client, args, io, loaded.state.projects)
            plan_ = build_plan(loaded.state, live, owner_tag=args.owner_tag)
            io.stdout.write(render_text(plan_, colour=_colour(args, io)))
        if not plan_.has_changes:
            io.stdout.write("Nothing to apply.\n")
            return EXIT_OK
        check_safety(plan_, allow_delete=args.allow_delete, force=args.force)
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
            io.stderr.write(f"{change.address}: {change.action} done (id {ident}{version})\n")

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


def export(args: argparse.Namespace, io: IO) -> int:
    settings = settings_from_env(io.env, api_host=args.api_host)
    with _client(args, settings) as client:
        live = read_live(
            client, set(args.project) or None, parallelism=args.parallelism, progress=io.stderr
        )
    files = export_manifests(live, owner_tag=args.owner_tag, projects=args.project or None)
    if args.out:
        out = Path(args.out)
        existing = [f.filename for f in files if (out / f.filename).exists()]
        if existing and not args.force:
            raise UsageError(
                f"refusing to overwrite {', '.join(existing)} in {out}; use --force to overwrite"
            )
        out.mkdir(parents=True, exist_ok=True)
        for file in files:
            _write_file(str(out / file.filename), file.text)
            io.stdout.write(f"wrote {out / file.filename} ({file.project})\n")
    else:
        io.stdout.write("\n---\n".join(f.text.rstrip("\n") for f in files) + "\n")
    variables = [v for f in files for v in f.variables]
    if variables:
        io.stderr.write(
            "Set these environment variables to the real secrets before running plan "
            "(LaunchDarkly only returns them masked):\n" + "".join(f"  {v}\n" for v in variables)
        )
    return EXIT_OK


def verify(args: argparse.Namespace, io: IO) -> int:
    from reconciler.verify import verify_all

    loaded = _load(args, io)
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
            io.stdout.write(f"{'ok  ' if report.healthy else 'FAIL'} {report.address}\n")
            for check in report.checks:
                io.stdout.write(
                    f"       {'✓' if check.ok else '✗'} {check.kind}: {check.message}\n"
                )
        healthy = sum(1 for r in reports if r.healthy)
        io.stdout.write(f"Verify: {healthy} of {len(reports)} store(s) healthy.\n")
    return EXIT_OK if all(r.healthy for r in reports) else EXIT_CHANGES


def watch(args: argparse.Namespace, io: IO) -> int:
    from reconciler.watch_cmd import watch as run_watch

    return run_watch(args, io)


def emulator(args: argparse.Namespace, io: IO) -> int:
    from reconciler.emulator.server import run as run_emulator

    run_emulator(
        host=args.host,
        port=args.port,
        seed_path=args.seed,
        latency_ms=args.latency_ms,
        error_rate=args.error_rate,
        drop_rate=args.drop_rate,
        fault_seed=args.fault_seed,
        rate_limit_route=args.route_limit,
        rate_limit_global=args.global_limit,
        rate_limit_window=args.window,
        retry_after=args.retry_after,
        dataplane=args.dataplane,
        sync_interval=args.sync_interval,
        dataplane_any_host=args.dataplane_any_host,
        validate_contract=not args.no_validate,
        state_file=args.state_file,
    )
    return EXIT_OK


__all__ = ["EXIT_ERROR", "IO", "run", "summary_line"]
