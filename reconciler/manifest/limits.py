"""How much manifest loading will take on before it refuses: the bounds of SPEC §8.

Manifests come from pull requests, so they are hostile by default. ``Limits`` holds every bound
the loader applies (file and tree size, checked with ``stat`` before anything is read; YAML
nesting depth; how many nodes YAML aliases may copy; how many problems are gathered before
checking stops) with its documented default. ``parse_size`` reads the size flags
(``--max-file-size 20MiB``) and ``format_size`` writes sizes back for messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_UNITS = {"": 1, "b": 1, "k": KIB, "kb": KIB, "kib": KIB, "m": MIB, "mb": MIB, "mib": MIB}
_UNITS |= {"g": GIB, "gb": GIB, "gib": GIB}
_SIZE_RE = re.compile(r"^\s*([0-9]{1,15})\s*([a-z]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Limits:
    """The bounds of one load; the defaults are the documented ones (docs/limits.md)."""

    max_file_bytes: int = 5 * MIB
    max_tree_bytes: int = 5 * MIB  # ~40,000 stores; validating 5 MiB stays well under 10 s
    max_depth: int = 64
    """Nesting of YAML collections; the document itself is level 1."""
    max_alias_nodes: int = 10_000
    """Nodes YAML aliases (and merge keys) may copy beyond those written out, per document."""
    max_problems: int = 1_000
    """Problems gathered before checking stops (the error shows the first 100 of them)."""


DEFAULT_LIMITS = Limits()


def parse_size(text: str) -> int:
    """Bytes from ``5242880``, ``512k``, ``20MiB``, ``1G`` (binary units); ValueError else."""
    match = _SIZE_RE.match(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValueError(f"not a size: {text!r} (write bytes, or a number with KiB, MiB or GiB)")
    value = int(match.group(1)) * unit
    if value < 1:
        raise ValueError("must be at least 1 byte")
    return value


def format_size(size: int) -> str:
    """``5 MiB``, ``300 KiB`` when whole, else exact: ``5,242,881 bytes``."""
    for unit, name in ((GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size:,} byte{'s' if size != 1 else ''}"
