"""Optional extras: the one place that turns a missing optional package into a clear error.

The core install carries only what ``validate``, ``plan``, ``apply``, ``drift`` and ``export``
need. ``verify`` needs ``reconciler[verify]`` (redis, boto3) and ``emulator`` needs
``reconciler[emulator]`` (werkzeug, openapi-core, jsonpatch, redis). A command calls
``require(extra)`` before importing the modules that use them, so a missing package is a
``MissingExtraError`` (exit 1) naming the extra to install, never a ``ModuleNotFoundError``
traceback.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from reconciler.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "verify": ("redis", "boto3"),
    "emulator": ("werkzeug", "openapi_core", "jsonpatch", "redis"),
}
"""Each extra's top-level modules (import names, not distribution names)."""


def require(extra: str, *, command: str | None = None) -> None:
    """Import every module of ``extra``; ``MissingExtraError`` naming the extra if one is
    missing (or broken)."""
    require_modules(EXTRAS[extra], extra=extra, command=command or extra)


def require_modules(modules: Sequence[str], *, extra: str, command: str) -> None:
    """Import ``modules``; ``MissingExtraError`` listing those that fail, naming ``extra``."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise MissingExtraError(
            f"'reconciler {command}' needs the optional extra reconciler[{extra}]"
            f" (missing: {', '.join(missing)}); install it with:"
            f" pip install 'reconciler[{extra}]'"
        )
