"""Unit tests of the log-line formatter: JSON or text, structured fields, secrets scrubbed."""

from __future__ import annotations

import json
import logging

from reconciler.watch.logformat import RedactingFormatter, Redactor

SECRET = "s3cret-Redis-password"


def record(message: str, data: dict[str, object] | None = None) -> logging.LogRecord:
    rec = logging.LogRecord("reconciler.watch", logging.WARNING, "x.py", 1, message, (), None)
    if data is not None:
        rec.data = data
    return rec


def test_a_json_line_is_one_object_with_the_fields_and_no_secret() -> None:
    redactor = Redactor()
    redactor.update([SECRET])
    line = RedactingFormatter("json", redactor).format(
        record(f"failed: {SECRET}", {"event": "cycle_failed", "why": [f"x {SECRET}"], "n": 2})
    )
    assert "\n" not in line and SECRET not in line
    doc = json.loads(line)
    assert doc["level"] == "warning" and doc["logger"] == "reconciler.watch"
    assert doc["event"] == "cycle_failed" and doc["n"] == 2
    assert doc["message"] == "failed: (redacted)" and doc["why"] == ["x (redacted)"]
    assert doc["ts"].endswith("Z")


def test_a_text_line_carries_the_fields_and_scrubs_key_shaped_strings() -> None:
    line = RedactingFormatter("text", Redactor()).format(
        record("token api-0123456789abcdef leaked?", {"event": "x"})
    )
    assert "api-0123456789abcdef" not in line
    assert 'WARNING reconciler.watch: token (redacted) leaked? event="x"' in line


def test_secrets_dropped_from_the_manifests_are_forgotten_new_ones_learned() -> None:
    redactor = Redactor(["old-secret-value"])
    redactor.update(["new-secret-value"])
    assert redactor("old-secret-value new-secret-value") == "old-secret-value (redacted)"
