"""Long lists, shown short: the first few items and a count of the rest.

A plan of thousands of stores must not become one line of thousands of addresses (an apply
failure summary, a pull-request comment). ``summarise`` keeps the first ``limit`` items and
ends with "… and N more"; ``take`` does the same under a character budget for renderers that
must stay under a size limit. Pure functions; no escaping (callers escape each item first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

LIST_LIMIT = 10
"""How many items a one-line summary names before it counts the rest."""


def summarise(items: Sequence[str], *, limit: int = LIST_LIMIT, empty: str = "nothing") -> str:
    """``a, b, c`` for short lists; ``a, b, … and N more`` past ``limit`` items."""
    if not items:
        return empty
    shown = ", ".join(items[:limit])
    rest = len(items) - limit
    return f"{shown}, … and {rest} more" if rest > 0 else shown


def take(items: Iterable[str], *, max_items: int, max_chars: int) -> tuple[list[str], int]:
    """The leading ``items`` that fit both ``max_items`` and ``max_chars`` (each item counted
    with one newline), and how many were left out."""
    kept: list[str] = []
    used = 0
    left_out = 0
    for item in items:
        if left_out or len(kept) >= max_items or used + len(item) + 1 > max_chars:
            left_out += 1
            continue
        kept.append(item)
        used += len(item) + 1
    return kept, left_out
