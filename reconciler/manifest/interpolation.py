"""The ``${VAR}`` pass over one manifest document, before any other check.

``interpolate_document`` resolves every string of a parsed document (``rules.interpolate`` does
one string) and says, per path, which variables a value used (``env_refs``: those config values
become secrets) and which values could not be resolved (``broken``). With ``require_env=False``
(offline ``validate``) a value that only misses variables is a note rather than a problem: it
is ``unset``, its checks are skipped, and a store whose address needs it is not built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.manifest.rules import fmt_path, interpolate
from reconciler.manifest.yamlpos import Path


@dataclass(slots=True)
class Interpolation:
    """What the pass found: per path, the variables used, and the unresolved values."""

    env_refs: dict[Path, tuple[str, ...]] = field(default_factory=dict)
    broken: set[Path] = field(default_factory=set)  # unresolved: problems or notes
    unset: set[Path] = field(default_factory=set)  # the broken paths that only miss variables
    problems: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[tuple[Path, str]] = field(default_factory=list)


def interpolate_document(
    data: object, env: Mapping[str, str], *, require_env: bool = True
) -> tuple[object, Interpolation]:
    """The document with ``${VAR}`` resolved, and what the pass found. Containers are
    updated in place (the loader builds every value afresh, none is shared), so only the
    strings holding a ``$`` cost more than a look."""
    found = Interpolation()

    def resolve(value: str, path: Path) -> str:
        result = interpolate(value, env)
        offline = not require_env and len(result.missing) == len(result.problems)
        for message in result.problems:
            found.broken.add(path)
            if offline:
                found.unset.add(path)
                note = f"{message}; not needed to validate (plan, apply and drift need it)"
                found.notes.append((path, f"{fmt_path(path)}: {note}"))
            else:
                found.problems.append((path, f"{fmt_path(path)}: {message}"))
        if result.names:
            found.env_refs[path] = result.names
        return result.value

    def walk(container: dict[str, object] | list[object], path: Path) -> None:
        if isinstance(container, dict):
            for key, value in container.items():
                if isinstance(value, str):
                    if "$" in value:
                        container[key] = resolve(value, (*path, key))
                elif isinstance(value, dict | list):
                    walk(value, (*path, key))
            return
        for index, item in enumerate(container):
            if isinstance(item, str):
                if "$" in item:
                    container[index] = resolve(item, (*path, index))
            elif isinstance(item, dict | list):
                walk(item, (*path, index))

    if isinstance(data, str):
        return (resolve(data, ()) if "$" in data else data), found
    if isinstance(data, dict | list):
        walk(data, ())
    return data, found


def address_unset(store: Path, unset: set[Path]) -> bool:
    """Whether the address of the store at ``store`` (its document's project, its environment,
    kind or name) is made from an unset variable, so it is not known offline."""
    keys = ("environment", "integrationKey", "name")
    return ("project",) in unset or any((*store, key) in unset for key in keys)
