"""The container recipe (no docker engine here, so the Dockerfile is parsed): a slim base, the
core install without extras, a non-root user, ``reconciler`` as the entry point, and a build
context that holds only what the install needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    result = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_the_image_starts_from_a_slim_python() -> None:
    (base,) = [args for kw, args in instructions() if kw == "FROM"]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", base)


def test_the_image_installs_the_core_package_without_extras_or_cache() -> None:
    runs = " ".join(args for kw, args in instructions() if kw == "RUN")
    assert "pip install --no-cache-dir . " in runs + " "
    assert "[" not in runs, "no extras in the image"
    assert "-e " not in runs


def test_the_image_runs_as_a_non_root_user_with_reconciler_as_entrypoint() -> None:
    steps = instructions()
    users = [args for kw, args in steps if kw == "USER"]
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, (kw, _) in enumerate(steps) if kw == "USER")
    assert all(kw != "RUN" for kw, _ in steps[last_user:]), "nothing runs as root after USER"
    (entrypoint,) = [args for kw, args in steps if kw == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["reconciler"]


def test_the_build_context_holds_only_what_the_install_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[[line.startswith("#") for line in ignore].index(False)] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = set()
    for kw, args in instructions():
        if kw == "COPY":
            copied.update(args.split()[:-1])
    assert copied == allowed
    assert all((ROOT / name).exists() for name in copied)
