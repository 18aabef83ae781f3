"""One cycle of ``watch``: load, read, plan, record, and with ``--auto-apply`` execute.

Each cycle does what ``drift`` and ``apply`` do, with the same code: load the manifests
(``load_manifests``), read the live state (``read_live``), plan (``build_plan``), and with
auto-apply execute (``apply.executor.execute``, same journal, pacing and retries) the creates
and updates, plus deletes only when allowed, once the plan passes the same ``refusals`` check
as ``plan`` and ``apply`` (threshold unless forced; protected stores never; projects and
environments LaunchDarkly does not have, from the environment reads). A refused plan is logged
and left for a human; the drift gauges keep showing it. Every secret the manifests resolve is
handed to the log ``Redactor`` each cycle.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reconciler.api.client import Client
from reconciler.api.environments import read_environments
from reconciler.api.refresh import read_live
from reconciler.apply.executor import Outcome, execute
from reconciler.apply.journal import Journal
from reconciler.manifest.limits import DEFAULT_LIMITS, Limits
from reconciler.manifest.load import LoadResult, load_manifests
from reconciler.model import Address, LiveStore, Secret
from reconciler.plan.changes import Plan
from reconciler.plan.planner import build_plan
from reconciler.plan.safety import refusals, refused
from reconciler.watch.logformat import Redactor

if TYPE_CHECKING:  # imported at run time only through watch.extra, which names the extra
    from reconciler.watch.metrics import Metrics

log = logging.getLogger("reconciler.watch")


@dataclass(frozen=True, slots=True)
class Options:
    """What a cycle needs from the command line."""

    paths: tuple[str, ...]
    owner_tag: str
    parallelism: int
    auto_apply: bool = False
    allow_delete: bool = False
    force: bool = False
    journal: str | None = None
    limits: Limits = DEFAULT_LIMITS


def manifest_secrets(loaded: LoadResult) -> list[str]:
    """Every secret value the manifests resolved (to keep out of log lines)."""
    return [
        v.value for s in loaded.state.stores for v in s.config.values() if isinstance(v, Secret)
    ]


class Watcher:
    """One cycle's work, with what lasts between cycles (client, metrics, warnings seen)."""

    def __init__(
        self,
        options: Options,
        *,
        env: Mapping[str, str],
        client: Client,
        metrics: Metrics,
        redactor: Redactor,
        token: str,
    ) -> None:
        self.options, self.env, self.client, self.metrics = options, env, client, metrics
        self.redactor, self.token = redactor, token
        self.warned: set[str] = set()

    def cycle(self) -> None:
        options = self.options
        loaded = load_manifests(options.paths, env=self.env, limits=options.limits)
        self.redactor.update([self.token, *manifest_secrets(loaded)])
        for warning in loaded.warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                log.warning("%s", warning, extra={"data": {"event": "manifest_warning"}})
        live = read_live(self.client, loaded.state.projects, parallelism=options.parallelism)
        plan = build_plan(loaded.state, live, owner_tag=options.owner_tag)
        self.metrics.record_plan(plan)
        repaired = self._auto_apply(plan, live) if options.auto_apply else set()
        if repaired:
            self.metrics.record_plan(plan, repaired)
        drifted = sorted(str(c.address) for c in plan.changes if c.is_change)
        log.info(
            "cycle done: %d store(s), %d drifted, %d repaired, %d unmanaged",
            len(plan.changes), len(drifted), len(repaired), len(plan.unmanaged),
            extra={"data": {"event": "cycle_done", "stores": len(plan.changes),
                            "drifted": drifted, "repaired": sorted(map(str, repaired)),
                            "unmanaged": len(plan.unmanaged)}},
        )  # fmt: skip

    def _refused(self, subset: Plan) -> bool:
        """Whether ``apply`` with the same flags would refuse ``subset`` (logged if so)."""
        options = self.options
        reads = read_environments(self.client, subset.projects, parallelism=options.parallelism)
        for warning in reads.warnings:
            if warning not in self.warned:
                self.warned.add(warning)
                log.warning("%s", warning, extra={"data": {"event": "environments_warning"}})
        found = refusals(subset, allow_delete=options.allow_delete, force=options.force,
                         environments=reads.projects)  # fmt: skip
        if found:
            log.warning(
                "auto-apply skipped: %s", refused(found),
                extra={"data": {"event": "refused", "reasons": [r.reason for r in found]}},
            )  # fmt: skip
        return bool(found)

    def _auto_apply(self, plan: Plan, live: Sequence[LiveStore]) -> set[Address]:
        options = self.options
        allowed = tuple(c for c in plan.changes if c.action != "delete" or options.allow_delete)
        subset = dataclasses.replace(plan, changes=allowed)
        if not subset.has_changes:
            return set()
        if self._refused(subset):
            return set()
        repaired: set[Address] = set()

        def done(outcome: Outcome) -> None:
            change = outcome.change
            self.metrics.record_applied(change.action)
            repaired.add(change.address)
            log.info(
                "%s: %s done", change.address, change.action,
                extra={"data": {"event": "applied", "address": str(change.address),
                                "action": change.action}},
            )  # fmt: skip

        journal = Journal(options.journal)
        try:
            execute(subset, self.client, parallelism=options.parallelism, on_outcome=done,
                    live=live, journal=journal)  # fmt: skip
        finally:
            journal.close()
        return repaired
