"""What makes a saved plan trustworthy: checksum, MAC, secret fingerprints and manifest digests.

A saved plan's canonical content is its JSON with sorted keys and no whitespace, without the
``checksum`` and ``mac`` fields. The SHA-256 ``checksum`` catches accidental edits only: anyone
can recompute it. With ``RECONCILER_FINGERPRINT_KEY`` set at plan time the file also carries a
``mac``, an HMAC-SHA256 of the same content under a key derived from that secret, so nobody
without the key can change any field (a host, an address, a flag, a manifest path) or drop a
secret's fingerprint unnoticed. Each secret is pinned by its own keyed fingerprint (a key
derived separately, so a fingerprint never doubles as a MAC). Manifests are recorded by their
path relative to the plan file and the SHA-256 of their bytes, so ``apply --plan`` finds them
from any working directory and knows when one changed since the plan.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from reconciler.errors import ConfigError

FINGERPRINT_KEY_VAR = "RECONCILER_FINGERPRINT_KEY"
UNSIGNED_FIELDS = ("checksum", "mac")


def _subkey(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), f"reconciler saved plan: {purpose}".encode(), "sha256").digest()


def fingerprint(key: str, ref: str, value: str) -> str:
    """The keyed fingerprint that pins one secret (its reference and its value)."""
    digest = hmac.new(_subkey(key, "secret"), f"{ref}\0{value}".encode(), "sha256")
    return f"hmac-sha256:{digest.hexdigest()}"


def _canonical(document: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in document.items() if k not in UNSIGNED_FIELDS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def checksum(document: Mapping[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(_canonical(document)).hexdigest()


def mac(key: str, document: Mapping[str, Any]) -> str:
    digest = hmac.new(_subkey(key, "mac"), _canonical(document), "sha256")
    return f"hmac-sha256:{digest.hexdigest()}"


def integrity_reasons(document: Mapping[str, Any], key: str | None) -> list[str]:
    """Why the file is not the one ``plan --out`` wrote: checksum, and with a key the MAC."""
    reasons = []
    if document.get("checksum") != checksum(document):
        reasons.append("the plan file was edited after it was written (checksum mismatch)")
    if key is None:
        return reasons
    written = document.get("mac")
    if document.get("signed") is not True or not isinstance(written, str):
        reasons.append(
            f"the plan is not signed, and {FINGERPRINT_KEY_VAR} is set: only signed plans are"
            " accepted (was it made without the key, or was its signature removed?)"
        )
    elif not hmac.compare_digest(written, mac(key, document)):
        reasons.append(
            "the plan's MAC does not match: the file was changed after it was signed, or it was"
            f" signed with another {FINGERPRINT_KEY_VAR}"
        )
    return reasons


def file_digest(path: Path) -> str:
    """The SHA-256 of a regular file, read in chunks; ``OSError`` for anything else (a FIFO or
    a device named by a hostile plan must not block or exhaust memory)."""
    if not path.is_file():
        raise IsADirectoryError(0, "not a regular file")
    with path.open("rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def record_manifests(files: Sequence[str], plan_file: str) -> list[dict[str, str]]:
    """Each manifest read for the plan: its path relative to the plan file's folder (``/``
    separators) and the SHA-256 of its bytes."""
    base = Path(plan_file).resolve().parent
    records = []
    for name in files:
        path = Path(name).resolve()
        relative = Path(os.path.relpath(path, base)).as_posix()
        try:
            records.append({"path": relative, "sha256": file_digest(path)})
        except OSError as error:
            raise ConfigError(f"cannot read {name} to record it: {error.strerror}") from None
    return records


def check_manifests(records: object, plan_file: str) -> tuple[list[str], list[str]]:
    """(the manifests' paths as seen from here, reasons they may not be used): each must be
    readable and unchanged since the plan was made."""
    if not isinstance(records, list) or not records:
        return [], ["the plan file records no manifests (or not as {path, sha256} entries)"]
    base, real_base = Path(plan_file).parent, Path(plan_file).resolve().parent
    paths: list[str] = []
    reasons: list[str] = []
    for record in records:
        if not (
            isinstance(record, dict)
            and isinstance(record.get("path"), str)
            and isinstance(record.get("sha256"), str)
        ):
            reasons.append("the plan file's manifest entries must be {path, sha256} objects")
            continue
        shown = os.path.normpath(base / record["path"])
        real = os.path.normpath(real_base / record["path"])  # as recorded: from the real folder
        try:
            digest = file_digest(Path(real))
        except OSError as error:
            reasons.append(f"the manifest {shown} cannot be read: {error.strerror}")
            continue
        if digest != record["sha256"]:
            reasons.append(f"the manifest {shown} changed since the plan was made")
        paths.append(real)
    return paths, reasons
