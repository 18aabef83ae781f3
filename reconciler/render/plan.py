"""Renderers: a plan as Terraform-like text or as JSON (SPEC §6); Markdown is ``render.markdown``.

Renderers consume ``Plan`` data and nothing else; they never decide what changes. Every secret
reaches them already wrapped (``Secret``) or masked (``(sensitive)``), and ``redact`` runs over
anything that is printed, so partial masks returned by the API never appear either. Field-level
differences for humans come from ``deepdiff`` over the before/after views (views made only of
strings, booleans, nulls and nested objects take an equivalent direct comparison, which is much
faster on large plans); the ownership tag is hidden from tag diffs. The JSON form is
byte-for-byte deterministic: sorted keys, no timestamps (encoded by ``orjson``, which indents
at C speed where the standard library's indenting encoder is pure Python).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from reconciler import escape
from reconciler.model import NO_STATUS, SENSITIVE, Secret, redact
from reconciler.plan import codec
from reconciler.plan.changes import Change, Plan
from reconciler.plan.safety import Refusal
from reconciler.render.lists import summarise
from reconciler.render.status import describe, is_healthy, status_to_dict

FORMAT_VERSION = "1"
SYMBOLS = {"create": "+", "update": "~", "delete": "-", "no-op": " "}
COLOURS = {"create": "32", "update": "33", "delete": "31", "unmanaged": "36", "note": "2"}
CRITICAL = "critical environment"
SECRET_NOTES = {
    "unverifiable": "cannot be verified: LaunchDarkly masks it; the mask is consistent",
    "changed": "differs from the declared value",
}


def _fmt(value: object) -> str:
    if value == SENSITIVE:
        return SENSITIVE
    return json.dumps(value, ensure_ascii=False)


def field_changes(change: Change, owner_tag: str) -> list[tuple[str, str]]:
    """Human lines ``(path, "before -> after")`` for one change, secrets masked."""
    if change.action == "create" and change.after is not None:
        return [(path, _fmt(value)) for path, value in _flatten(change.after)]
    if change.action == "delete" and change.before is not None:
        return [(path, _fmt(value)) for path, value in _flatten(change.before)]
    if change.before is None or change.after is None:
        return []
    before = {k: v for k, v in change.before.items() if k != "tags"}
    after = {k: v for k, v in change.after.items() if k != "tags"}
    lines: list[tuple[str, str]] = []
    try:
        _plain_diff(before, after, "", lines)
    except _NotPlain:
        lines = _deep_diff(before, after)
    for check in change.secrets:
        if check.state == "changed":
            lines.append((f"config.{check.key}", f"{SENSITIVE} -> {SENSITIVE}"))
    old_tags = sorted(set(_strs(change.before.get("tags"))) - {owner_tag})
    new_tags = sorted(set(_strs(change.after.get("tags"))) - {owner_tag})
    if old_tags != new_tags:
        lines.append(("tags", f"{_fmt(old_tags)} -> {_fmt(new_tags)}"))
    return sorted(set(lines))


def _deep_diff(before: object, after: object) -> list[tuple[str, str]]:
    from deepdiff import DeepDiff  # slow to import; only values that are not plain need it

    lines: list[tuple[str, str]] = []
    tree = DeepDiff(before, after, view="tree")
    for items in tree.values():
        for item in items:
            path = ".".join(str(p) for p in item.path(output_format="list"))
            old = "(absent)" if _absent(item.t1) else _fmt(item.t1)
            new = "(absent)" if _absent(item.t2) else _fmt(item.t2)
            lines.append((path, f"{old} -> {new}"))
    return lines


class _NotPlain(Exception):
    """A value the direct comparison leaves to ``deepdiff``."""


_PLAIN = (str, bool, type(None), dict)
DEEPER_THRESHOLD = 0.33
"""deepdiff's ``threshold_to_diff_deeper``: two objects sharing fewer keys differ as wholes."""


def _plain_diff(t1: object, t2: object, path: str, lines: list[tuple[str, str]]) -> None:
    """What ``deepdiff`` reports for two values made of strings, booleans, nulls and objects
    with string keys (``_NotPlain`` for anything else): a type change or a changed value as
    ``path: old -> new``, a key on one side only as ``(absent)``, and two objects sharing too
    few keys as a whole."""
    kind = type(t1)
    if kind is not type(t2):
        if kind not in _PLAIN or type(t2) not in _PLAIN:
            raise _NotPlain
        lines.append((path, f"{_fmt(t1)} -> {_fmt(t2)}"))
    elif kind is dict and isinstance(t1, dict) and isinstance(t2, dict):
        if any(type(k) is not str for k in t1) or any(type(k) is not str for k in t2):
            raise _NotPlain
        union, common = len(t1.keys() | t2.keys()), t1.keys() & t2.keys()
        if union > 1 and len(common) / union < DEEPER_THRESHOLD:
            lines.append((path, f"{_fmt(t1)} -> {_fmt(t2)}"))
            return
        prefix = f"{path}." if path else ""
        lines.extend((prefix + k, f"(absent) -> {_fmt(t2[k])}") for k in t2 if k not in t1)
        lines.extend((prefix + k, f"{_fmt(t1[k])} -> (absent)") for k in t1 if k not in t2)
        for key in common:
            _plain_diff(t1[key], t2[key], prefix + key, lines)
    elif kind is str or kind is bool:
        if t1 != t2:
            lines.append((path, f"{_fmt(t1)} -> {_fmt(t2)}"))
    elif t1 is not None:
        raise _NotPlain


def _absent(value: object) -> bool:
    return type(value).__name__ == "NotPresent"


def _strs(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _flatten(view: Mapping[str, object], prefix: str = "") -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for key in sorted(view):
        value = view[key]
        if isinstance(value, Mapping):
            out.extend(_flatten(value, f"{prefix}{key}."))
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _paint(text: str, kind: str | None, colour: bool) -> str:
    """One line of text output, escaped (``escape.text``: live values cannot forge lines or
    terminal sequences), then coloured as ``kind`` (``None``: never). Every line of
    ``render_text`` that can hold a live value goes through here."""
    line = escape.text(text)
    return f"\033[{COLOURS[kind]}m{line}\033[0m" if colour and kind else line


def summary_line(plan: Plan) -> str:
    s = plan.summary
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
        f"{s['no-op']} unchanged, {s['unmanaged']} unmanaged."
    )


def health_rows(plan: Plan, *, now_ms: int) -> list[tuple[str, bool, str]]:
    """``(address, healthy, description)`` for every live store in the plan with a status.
    A store that is off is not synchronised by LaunchDarkly, and that is not a fault."""
    stores = [(str(c.address), c.live) for c in plan.changes if c.live is not None]
    stores += [(str(u.address), u.live) for u in plan.unmanaged]
    rows = []
    for address, live in stores:
        if not live.on:
            rows.append((address, True, "off: LaunchDarkly does not synchronise it"))
        elif live.status != NO_STATUS:
            rows.append((address, is_healthy(live.status), describe(live.status, now_ms=now_ms)))
    return sorted(rows)


def unhealthy_addresses(plan: Plan) -> list[str]:
    """The live stores LaunchDarkly reports as not healthy (what ``drift --health`` fails on)."""
    return [address for address, ok, _ in health_rows(plan, now_ms=0) if not ok]


def targeted_line(plan: Plan) -> str:
    return (
        f"Targeted run (--target {', '.join(plan.targets)}): stores outside the targets are"
        " not planned, deleted, counted as drift or counted in the change threshold."
    )


def refusal_lines(refusals: Sequence[Refusal]) -> list[str]:
    head = f"Refused: apply would refuse this plan ({len(refusals)} reason(s)):"
    return [head, *(f"  x [{r.reason}] {r.message}" for r in refusals)]


def render_text(
    plan: Plan,
    *,
    colour: bool = False,
    drift: bool = False,
    now_ms: int | None = None,
    health: bool = False,
    refusals: Sequence[Refusal] = (),
) -> str:
    """The plan (or drift report) as Terraform-like text; with ``now_ms``, a health section;
    with ``health`` (``drift --health``), unhealthy stores are part of the verdict;
    ``refusals`` (why apply would refuse it) at the end, before the summary."""
    unhealthy = unhealthy_addresses(plan) if health else []
    changed = [c for c in plan.changes if c.is_change]
    out = [_paint(targeted_line(plan), None, colour), ""] if plan.targets else []
    out.append(_headline(plan, changed=bool(changed), drift=drift, unhealthy=len(unhealthy)))
    for change in changed:
        out.append("")
        out.extend(_change_lines(change, plan.owner_tag, colour))
    unchanged = [c for c in plan.changes if c.action == "no-op"]
    notes = [(c, s) for c in unchanged for s in c.secrets if s.state == "unverifiable"]
    if notes:
        out.append("")
        out.append("Unverifiable secrets (masked by LaunchDarkly, mask consistent, not a change):")
        out.extend(_paint(f"  ! {c.address}: config.{s.key}", "note", colour) for c, s in notes)
    ignored = [(c, n) for c in unchanged for n in c.notes]
    if ignored:
        out.append("")
        out.append("Accepted drift (ignore rules in the manifests):")
        out.extend(_paint(f"  # {c.address}: {n}", "note", colour) for c, n in ignored)
    if plan.unmanaged:
        out.append("")
        out.append("Unmanaged stores (not declared, not owned by reconciler; left alone):")
        for item in plan.unmanaged:
            out.append(_paint(f"  ? {item.address}  (id {item.id})", "unmanaged", colour))
    rows = health_rows(plan, now_ms=now_ms) if now_ms is not None else []
    if rows:
        out.append("")
        out.append("Health (LaunchDarkly's connection status):")
        for address, healthy, text in rows:
            mark = "ok  " if healthy else "FAIL"
            out.append(
                _paint(f"  {mark} {address}: {text}", "create" if healthy else "delete", colour)
            )
    if refusals:
        out.append("")
        out.extend(_paint(line, "delete", colour) for line in refusal_lines(refusals))
    out.append("")
    out.append(summary_line(plan))
    if unhealthy:
        out.append(_paint(f"Unhealthy: {summarise(unhealthy)}.", "delete", colour))
    return "\n".join(out) + "\n"


def _headline(plan: Plan, *, changed: bool, drift: bool, unhealthy: int) -> str:
    """The first line of a text plan or drift report: its verdict."""
    if changed:
        return "Drift detected:" if drift else "reconciler will perform these actions:"
    if plan.unmanaged:
        return (
            "Drift: only unmanaged stores (declared nowhere)."
            if drift
            else "No changes. The declared stores match the manifests."
        )
    if drift and unhealthy:
        return (
            f"Drift: the stores match the manifests, but {unhealthy} of them"
            " LaunchDarkly reports as unhealthy."
        )
    if drift:
        return "No drift: LaunchDarkly matches the manifests."
    return "No changes. LaunchDarkly matches the manifests."


def _change_lines(change: Change, owner_tag: str, colour: bool) -> list[str]:
    sym = SYMBOLS[change.action]
    ident = f", id {change.id}, version {change.version}" if change.id else ""
    label = f" [{CRITICAL}]" if change.critical else ""
    head = f"  {sym} {change.address}  ({change.action}{ident}){label}"
    lines = [_paint(head, change.action, colour)]
    if change.reason:
        lines.append(_paint(f"      # {change.reason}", None, colour))
    for note in change.notes:
        lines.append(_paint(f"      # {note}", "note", colour))
    for path, text in field_changes(change, owner_tag):
        lines.append(_paint(f"      {path}: {text}", None, colour))
    for check in change.secrets:
        if check.state == "unverifiable":
            note = f"      ! config.{check.key}: {SECRET_NOTES['unverifiable']}"
            lines.append(_paint(note, "note", colour))
    return lines


def _masked(ref: str, secret: Secret) -> object:
    return SENSITIVE


def plan_to_dict(plan: Plan, *, api_host: str, refusals: Sequence[Refusal] = ()) -> dict[str, Any]:
    """The JSON plan of SPEC §6, plus ``reason``, ``adopt``, ``secrets``, ``notes``,
    ``protected`` and ``critical`` per change (the codec's fields, secrets masked), and the
    plan's ``refusals`` and ``targets``."""
    clean = _redact
    encoded = codec.plan_to_dict(plan, _masked)
    changes = [
        _entry(c, clean(d["before"]), clean(d["after"]), clean(d["patch"]))
        for c, d in zip(plan.changes, encoded["changes"], strict=True)
    ]
    return _document(plan, api_host, changes, refusals)


def _entry(c: Change, before: object, after: object, patch: object) -> dict[str, Any]:
    """One change of the JSON plan, its display views and patch given (masked)."""
    return {
        "address": str(c.address),
        "action": c.action,
        "id": c.id,
        "version": c.version,
        "before": before,
        "after": after,
        "patch": patch,
        "reason": c.reason,
        "adopt": c.adopt,
        "secrets": {s.key: s.state for s in c.secrets},
        "notes": list(c.notes),
        "protected": c.protected,
        "critical": c.critical,
        "status": status_to_dict(c.live.status) if c.live is not None else None,
    }


def _document(
    plan: Plan, api_host: str, changes: list[dict[str, Any]], refusals: Sequence[Refusal]
) -> dict[str, Any]:
    """The JSON plan around its ``changes``."""
    return {
        "format_version": FORMAT_VERSION,
        "api_host": api_host,
        "changes": changes,
        "unmanaged": [
            {"address": str(u.address), "id": u.id, "status": status_to_dict(u.live.status)}
            for u in plan.unmanaged
        ],
        "summary": plan.summary,
        "refusals": [refusal_to_dict(r) for r in refusals],
        "targets": list(plan.targets),
    }


def refusal_to_dict(refusal: Refusal) -> dict[str, Any]:
    """A refusal in JSON: ``reason`` (a stable code), ``message``, ``addresses``, ``override``
    (the flag that lifts it, or null)."""
    return {
        "reason": refusal.reason,
        "message": refusal.message,
        "addresses": list(refusal.addresses),
        "override": refusal.override,
    }


def _redact(value: object) -> object:
    """``redact``, with a fast path for the plain values plans are made of."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is dict and isinstance(value, dict):
        return {k if type(k) is str else str(k): _redact(v) for k, v in value.items()}
    if (kind is list or kind is tuple) and isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return redact(value)


def _fast_document(plan: Plan, *, api_host: str, refusals: Sequence[Refusal]) -> dict[str, Any]:
    """``plan_to_dict`` without copying the display views: ``before``, ``after`` and the patch
    values stay as the planner made them, for ``orjson`` to encode directly. Only for
    ``render_json``, which falls back to ``plan_to_dict`` when ``orjson`` meets anything
    beyond plain JSON values (so the two cannot differ: ``tests/test_render_plan.py``)."""
    changes = [
        _entry(c, c.before, c.after, [codec.mask_config(op, SENSITIVE) for op in c.patch])
        for c in plan.changes
    ]
    return _document(plan, api_host, changes, refusals)


def _not_plain(value: object) -> object:
    """``orjson``'s hook for a ``Secret``, another dataclass or a mapping that is not a dict:
    refuse, so ``render_json`` takes the reference path."""
    raise TypeError(type(value).__name__)


def render_json(
    plan: Plan, *, api_host: str, health: bool = False, refusals: Sequence[Refusal] = ()
) -> str:
    """The JSON plan: keys sorted, two-space indent, byte-for-byte deterministic. With
    ``health`` (``drift --health``), a ``health`` verdict: ``healthy`` and the ``unhealthy``
    addresses; ``refusals`` (why apply would refuse it) in its ``refusals`` list."""
    extra: dict[str, Any] = {}
    if health:
        unhealthy = unhealthy_addresses(plan)
        extra["health"] = {"healthy": not unhealthy, "unhealthy": unhealthy}
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    try:
        document = _fast_document(plan, api_host=api_host, refusals=refusals) | extra
        fast = options | orjson.OPT_PASSTHROUGH_DATACLASS
        encoded = orjson.dumps(document, default=_not_plain, option=fast)
    except orjson.JSONEncodeError:
        document = plan_to_dict(plan, api_host=api_host, refusals=refusals) | extra
        encoded = orjson.dumps(document, option=options)
    return encoded.decode() + "\n"
