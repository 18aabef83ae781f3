"""Log lines for long-running commands: one JSON object per line, or plain text, never a secret.

``RedactingFormatter`` formats a record as ``{"ts", "level", "logger", "message", ...}`` (JSON)
or ``ts LEVEL logger: message key=value`` (text); structured fields travel in the record's
``data`` attribute (``log.info(..., extra={"data": {...}})``). Every string that reaches the
line passes through ``Redactor``, which knows the access token and the secrets the manifests
resolved (updated each cycle) on top of ``reconciler.api.redact``'s key-shaped patterns.
Tracebacks are never printed: a failure is its (already redacted) message.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from reconciler.api.redact import redact


class Redactor:
    """The secrets to scrub from log lines; thread-safe, replaceable as manifests change."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets = tuple(s for s in secrets if s)

    def update(self, secrets: Iterable[str]) -> None:
        with self._lock:
            self._secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        with self._lock:
            secrets = self._secrets
        return redact(text, secrets)


class RedactingFormatter(logging.Formatter):
    """``json`` or ``text`` lines, every string redacted."""

    def __init__(self, style: str, redactor: Redactor) -> None:
        super().__init__()
        self._json = style == "json"
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        data = getattr(record, "data", None)
        fields = {str(k): self._clean(v) for k, v in (data or {}).items()}
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        ts = ts.replace("+00:00", "Z")
        message = self._redact(record.getMessage())
        if self._json:
            line: dict[str, object] = {"ts": ts}
            line |= {"level": record.levelname.lower(), "logger": record.name, "message": message}
            line |= fields
            return json.dumps(line, ensure_ascii=False, sort_keys=False)
        extra = "".join(f" {k}={json.dumps(v)}" for k, v in fields.items())
        return f"{ts} {record.levelname} {record.name}: {message}{extra}"

    def _clean(self, value: object) -> object:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, int | float | bool) or value is None:
            return value
        if isinstance(value, dict):
            return {str(k): self._clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._clean(v) for v in value]
        return self._redact(str(value))
