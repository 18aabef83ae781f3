"""The plan (or drift report) as Markdown for a pull-request comment, whatever its size.

GitHub refuses comments over 65,536 characters, so the output stays under ``COMMENT_LIMIT``
however many stores change: the summary table comes first, then why ``apply`` would refuse the
plan (the preflight's reasons, capped) and the ``--target``s, then a table of changes (a change
in a critical environment says so in its note), the
unmanaged and unhealthy stores and the unverifiable secrets (each list capped, with a count of
the rest), then one collapsed ``<details>`` block per changed store, added while they fit; the
rest are counted, with a pointer to the full JSON plan. Each block holds an unindented
```` ```diff ```` fence (GitHub colours a line by its first column): ``+`` for what is added,
``-`` for what goes, both for an updated field, and a space for context. Every live value is
escaped: ``escape.markdown``/``markdown_code`` in Markdown, HTML entities inside ``<summary>``,
``escape.in_code_block`` in a fence, so no name can close a block or forge a line.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence

from reconciler import escape
from reconciler.model import SENSITIVE
from reconciler.plan.changes import Change, Plan
from reconciler.plan.safety import Refusal
from reconciler.render.lists import take
from reconciler.render.plan import (
    CRITICAL,
    SECRET_NOTES,
    SYMBOLS,
    field_changes,
    health_rows,
    targeted_line,
    unhealthy_addresses,
)

COMMENT_LIMIT = 65_000
"""Most characters the Markdown may have (GitHub's comment limit is 65,536)."""
TABLE_ROWS = 100
LIST_ITEMS = 20
STORE_LINES = 40
"""Most diff lines one store's block shows; the rest are counted."""
LINE_CHARS = 300
"""A diff line longer than this is cut (a huge tag list, a long name)."""
MESSAGE_CHARS = 1_000
"""A refusal's message (or the targeted-run line) longer than this is cut."""
FOOTER_RESERVE = 400
ORDER = {"delete": 0, "update": 1, "create": 2, "no-op": 3}
"""Deletes first: what a reviewer must not miss comes before what is merely added."""
JSON_POINTER = "see the JSON plan artifact (`--format json`) for the full plan"


def render_markdown(
    plan: Plan,
    *,
    drift: bool = False,
    now_ms: int | None = None,
    health: bool = False,
    refusals: Sequence[Refusal] = (),
    limit: int = COMMENT_LIMIT,
) -> str:
    """Markdown under ``limit`` characters: summary table first (then why ``apply`` would
    refuse the plan, and the targets), per-store details folded; with ``health`` (``drift
    --health``), unhealthy stores are part of the verdict."""
    changed = sorted((c for c in plan.changes if c.is_change), key=_review_order)
    unhealthy = len(unhealthy_addresses(plan)) if health else 0
    lines = _head(plan, changed, drift=drift, now_ms=now_ms, unhealthy=unhealthy)
    head = "\n".join([*_summary(plan, drift), *_preflight(plan, refusals), *lines])
    head += "\n"
    budget = limit - len(head) - FOOTER_RESERVE
    blocks: list[str] = []
    for change in changed:
        block = _store_block(change, plan.owner_tag)
        if len(block) > budget:
            break
        blocks.append(block)
        budget -= len(block)
    out = head + "".join(blocks)
    left_out = len(changed) - len(blocks)
    if left_out:
        out += f"\n… and {left_out} more stores not shown; {JSON_POINTER}.\n"
    return out


def _review_order(change: Change) -> tuple[int, str]:
    return ORDER[change.action], str(change.address)


def _summary(plan: Plan, drift: bool) -> list[str]:
    s = plan.summary
    return [
        f"### reconciler {'drift report' if drift else 'plan'}",
        "",
        "| create | update | delete | unchanged | unmanaged |",
        "|---:|---:|---:|---:|---:|",
        f"| {s['create']} | {s['update']} | {s['delete']} | {s['no-op']} | {s['unmanaged']} |",
        "",
    ]


def _cut(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def _preflight(plan: Plan, refusals: Sequence[Refusal]) -> list[str]:
    """Why ``apply`` would refuse the plan (each reason cut to size), and the targets."""
    out: list[str] = []
    if refusals:
        items = (f"- `{r.reason}`: {escape.markdown(_cut(r.message))}" for r in refusals)
        kept, rest = take(items, max_items=LIST_ITEMS, max_chars=12_000)
        more = [f"- … and {rest} more reasons"] if rest else []
        title = f":no_entry: **Refused: apply would refuse this plan** ({len(refusals)}):"
        out += [title, *kept, *more, ""]
    if plan.targets:
        out += [f":dart: **{escape.markdown(_cut(targeted_line(plan)))}**", ""]
    return out


def _note(change: Change) -> str:
    reason = escape.markdown(change.reason)
    return f"**{CRITICAL}** {reason}".strip() if change.critical else reason


def _head(
    plan: Plan, changed: list[Change], *, drift: bool, now_ms: int | None, unhealthy: int
) -> list[str]:
    out: list[str] = []
    if drift and unhealthy:
        verdict = f"**Drift: {unhealthy} store(s) unhealthy** (LaunchDarkly's connection status)."
        out += [verdict, ""]
    elif not changed and not plan.unmanaged:
        verdict = "No drift" if drift else "No changes"
        out += [f"{verdict}: LaunchDarkly matches the manifests.", ""]
    if changed:
        rows = (
            f"| {SYMBOLS[c.action]} | {escape.markdown_code(str(c.address))} | {c.action}"
            f" | {_note(c)} |"
            for c in changed
        )
        kept, rest = take(rows, max_items=TABLE_ROWS, max_chars=20_000)
        out += ["| | store | action | note |", "|---|---|---|---|", *kept]
        if rest:
            out.append(f"| | … and {rest} more | | |")
        out.append("")
    if plan.unmanaged:
        unmanaged = (escape.markdown_code(str(u.address)) for u in plan.unmanaged)
        out += [_inline("Unmanaged (left alone):", unmanaged, max_chars=5_000), ""]
    out += _health(plan, now_ms)
    notes = [
        escape.markdown_code(f"{c.address}: config.{check.key}")
        for c in plan.changes
        if c.action == "no-op"
        for check in c.secrets
        if check.state == "unverifiable"
    ]
    if notes:
        title = "Unverifiable secrets (masked by LaunchDarkly, mask consistent, not a change):"
        out += [_inline(title, notes, max_chars=5_000), ""]
    ignored = [
        f"{escape.markdown_code(str(c.address))} ({escape.markdown(n)})"
        for c in plan.changes
        if c.action == "no-op"
        for n in c.notes
    ]
    if ignored:
        out += [_inline("Accepted drift (ignore rules):", ignored, max_chars=5_000), ""]
    return out


def _inline(title: str, items: Iterable[str], *, max_chars: int) -> str:
    """``title a, b, c`` with at most ``LIST_ITEMS`` items, the rest counted."""
    kept, rest = take(items, max_items=LIST_ITEMS, max_chars=max_chars)
    parts = [*kept, f"… and {rest} more"] if rest else kept
    return f"{title} {', '.join(parts)}"


def _health(plan: Plan, now_ms: int | None) -> list[str]:
    rows = health_rows(plan, now_ms=now_ms) if now_ms is not None else []
    if not rows:
        return []
    unhealthy = [(a, t) for a, ok, t in rows if not ok]
    items = (f"- :warning: {escape.markdown_code(a)}: {escape.markdown(t)}" for a, t in unhealthy)
    kept, rest = take(items, max_items=LIST_ITEMS, max_chars=8_000)
    out = [f"Health: {len(rows) - len(unhealthy)} of {len(rows)} stores healthy.", *kept]
    if rest:
        out.append(f"- … and {rest} more unhealthy stores")
    return [*out, ""]


def _store_block(change: Change, owner_tag: str) -> str:
    """One store, collapsed: its address in ``<summary>``, its fields in a diff fence."""
    ident = f", id {change.id}, version {change.version}" if change.id else ""
    critical = f" [{CRITICAL}]" if change.critical else ""
    label = f"{SYMBOLS[change.action]} {change.action}{ident}{critical}"
    summary = f"<code>{_html(str(change.address))}</code> {_html(label)}"
    lines = _diff_lines(change, owner_tag)
    if len(lines) > STORE_LINES:
        lines = [*lines[: STORE_LINES - 1], f"  … and {len(lines) - STORE_LINES + 1} more lines"]
    fence = "\n".join(_code_line(line) for line in lines)
    return f"<details><summary>{summary}</summary>\n\n```diff\n{fence}\n```\n\n</details>\n\n"


def _diff_lines(change: Change, owner_tag: str) -> list[str]:
    lines = [f"  # {change.reason}"] if change.reason else []
    lines += [f"  # {note}" for note in change.notes]
    sign = {"create": "+", "delete": "-"}.get(change.action)
    for path, text in field_changes(change, owner_tag):
        if sign is not None:
            lines.append(f"{sign} {path}: {text}")
            continue
        old, new = _split_arrow(text)
        if old is None:
            lines.append(f"  {path}: {text}")
            continue
        if old != "(absent)":
            lines.append(f"- {path}: {old}")
        if new != "(absent)":
            lines.append(f"+ {path}: {new}")
    for check in change.secrets:
        if check.state == "unverifiable":
            lines.append(f"  ! config.{check.key}: {SECRET_NOTES['unverifiable']}")
    return lines or ["  (no field changes)"]


def _split_arrow(text: str) -> tuple[str | None, str]:
    """``("old", "new")`` from ``field_changes``'s ``old -> new`` (each side JSON, the mask or
    ``(absent)``, so an arrow inside a value is not mistaken for the separator)."""
    for literal in (SENSITIVE, "(absent)"):
        if text.startswith(literal + " -> "):
            return literal, text[len(literal) + 4 :]
    try:
        _, end = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return None, text
    if text[end : end + 4] != " -> ":
        return None, text
    return text[:end], text[end + 4 :]


def _code_line(line: str) -> str:
    """One fence line: escaped (no newline, backtick or ``<`` survives), then cut to size."""
    shown = escape.in_code_block(escape.text(line))
    return shown if len(shown) <= LINE_CHARS else shown[: LINE_CHARS - 1] + "…"


def _html(value: str) -> str:
    """A live value as HTML text (inside ``<summary>``, where Markdown is not parsed)."""
    shown = html.escape(escape.text(value), quote=True)
    return shown.replace("@", "&#64;").replace("`", "&#96;")
