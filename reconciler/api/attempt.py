"""One HTTP attempt as the API client sees it, whichever wire sent it, without importing httpx.

A wire (``Wire``) sends one request and returns its whole ``Answer``, or raises ``Unanswered``:
the attempt got no usable answer, described as ``TypeName: message`` (httpx's exception names,
so every message reads the same on both wires), with whether it was a transport failure (else
the client does not retry it), whether retrying cannot help (``fails_fast``: refused, DNS, TLS,
timeouts) and whether the deadline passed. ``FastWire`` is the fast wire
(``reconciler.api.keepalive``) with its ``WireError`` mapped so; ``reconciler.api.transport``
holds the httpx path (proxies from the environment, test transports) and maps httpx's errors the
same way, so only a run that takes that path imports httpx. ``tls_context`` is the TLS
configuration httpx would use (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's CAs);
``unreachable`` words a failure that ends a request; ``error_details`` reads LaunchDarkly's code
and message (or an escaped excerpt) from an error answer.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from typing import Protocol

from reconciler import escape
from reconciler.api.http11 import Answer, Unanswered
from reconciler.api.keepalive import KeepAlive, WireError, proxied
from reconciler.api.limits import NetLimits, decode_json, describe_size, excerpt
from reconciler.api.wire import Malformed
from reconciler.errors import TransportError

__all__ = ["Answer", "FastWire", "Unanswered", "Wire", "error_details", "open_wire", "unreachable"]


class Wire(Protocol):
    """What the client sends through."""

    def send(
        self, method: str, path: str, content: bytes | None, headers: Mapping[str, str] | None
    ) -> Answer: ...

    def close(self) -> None: ...


def described(kind: str, message: str) -> str:
    """``kind: message`` (just ``kind`` for an empty message), as ``redact.describe`` words an
    exception of type ``kind``."""
    text = message.strip()
    return f"{kind}: {text}" if text else kind


class FastWire(KeepAlive):
    """The fast wire, answering with ``Answer`` and failing with ``Unanswered`` (named as the
    httpx error the same failure would be) or ``TransportError`` (a body over the cap)."""

    def send(
        self, method: str, path: str, content: bytes | None, headers: Mapping[str, str] | None
    ) -> Answer:
        try:
            status, got, body = self.exchange(method, path, headers, content)
        except WireError as exc:
            raise _unanswered(self, exc, method, path) from exc
        return Answer(status, got, body)


def _unanswered(wire: KeepAlive, exc: WireError, method: str, path: str) -> Exception:
    if exc.too_large:
        return TransportError(
            f"LaunchDarkly at {wire.base_url} answered {method} {path} with a body larger"
            f" than {describe_size(wire.max_body)}; stopped reading it"
        )
    if exc.timeout:
        kind = "ConnectTimeout" if exc.connecting else "ReadTimeout"
    elif exc.undecodable:
        kind = "DecodingError"  # not a transport failure: never retried
    else:
        kind = "ConnectError" if exc.connecting else "ReadError"
    return Unanswered(
        described(kind, str(exc)),
        transport=not exc.undecodable,
        fails_fast=exc.timeout or exc.connecting,
        timeout=exc.timeout,
    )


def tls_context() -> ssl.SSLContext:
    """The TLS context httpx would make: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``, else
    certifi's CA bundle."""
    if os.environ.get("SSL_CERT_FILE"):
        return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    if os.environ.get("SSL_CERT_DIR"):
        return ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def keep_alive(base_url: str, headers: Mapping[str, str], limits: NetLimits) -> FastWire:
    """The fast wire to ``base_url`` under ``limits``, sending ``headers`` with every request."""
    context = tls_context() if base_url.startswith("https:") else None
    return FastWire(base_url, timeout=limits.timeout, max_body=limits.max_body,
                    ssl_context=context, headers=headers)  # fmt: skip


def open_wire(
    base_url: str,
    headers: Mapping[str, str],
    limits: NetLimits,
    transport: object = None,
    connections: int = 16,
) -> Wire:
    """What the client sends through: the fast wire (``keep_alive``), or, behind a proxy from
    the environment or with a custom ``transport`` (an ``httpx.BaseTransport``: tests), httpx
    (imported only then), its pool keeping ``connections`` idle connections."""
    if transport is None and not proxied(base_url):
        return keep_alive(base_url, headers, limits)
    from reconciler.api.transport import HttpxWire

    return HttpxWire(base_url, headers, limits, transport, connections)


def unreachable(
    exc: Unanswered, host: str, method: str, path: str, timeout: float, reason: str, attempts: int
) -> TransportError:
    """The error for a transport failure that ends a request (``reason``: ``exc`` described,
    secrets already redacted)."""
    if exc.timeout:
        return TransportError(
            f"LaunchDarkly at {host} did not answer {method} {path} within {timeout:g} s"
            " (--timeout)"
        )
    tries = f"after {attempts} attempts" if attempts > 1 else "not retried"
    return TransportError(f"could not reach LaunchDarkly at {host}: {reason} ({tries})")


def error_details(response: Answer) -> tuple[str, str]:
    """LaunchDarkly's ``code`` and ``message``, escaped; for a non-JSON body, its first 200
    chars (a redirect is the client's to word: httpx parses where it led)."""
    try:
        data: object = decode_json(response.content)
    except Malformed:
        return "", escape.text(excerpt(response.content[:4096].decode("utf-8", "replace")))
    if not isinstance(data, dict):
        return "", ""
    code, message = data.get("code"), data.get("message")
    code_text, message_text = str(code)[:100] if code else "", str(message)[:500] if message else ""
    return escape.text(code_text), escape.text(message_text)
