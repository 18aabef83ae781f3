"""One HTTP exchange held to ``NetLimits``: an overall deadline, a body cap, no redirects.

httpx's timeouts are per operation: a server that trickles a byte now and then never trips a
read timeout, in the headers as well as in the body. This module wraps httpcore's network
backend so that each connect, TLS handshake, read and write waits at most until the deadline
the calling thread set with ``deadline_scope`` (requests run in the thread that sends them), and
fails with httpcore's own timeout errors once it has passed; httpx maps those to its
``TimeoutException`` family. ``install`` puts the wrapper under an ``httpx.Client``'s
connection pools. ``exchange`` sends one request and streams its body under the deadline and
the cap into an ``Answer``, through that client or (the fast path, ``keep_alive``) through
``reconciler.api.keepalive``, which holds its connections to the same limits and whose failures
become the same httpx errors; ``fails_fast`` tells which transport errors retrying cannot help,
``unreachable`` words them; ``error_details`` reads LaunchDarkly's code and message (or an
escaped excerpt, or where a redirect led) from an error answer. Part of ``reconciler.api``, the
only package that imports httpx (and httpcore, which httpx is built on).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from reconciler import escape
from reconciler.api.http11 import Headers
from reconciler.api.keepalive import KeepAlive, WireError, proxied
from reconciler.api.limits import (
    ERROR_BODY_CAP,
    BodyReader,
    BodyTooLarge,
    Deadline,
    DeadlineExceeded,
    NetLimits,
    decode_json,
    describe_size,
    excerpt,
)
from reconciler.api.wire import Malformed
from reconciler.errors import TransportError

_local = threading.local()


@contextmanager
def deadline_scope(deadline: Deadline) -> Iterator[None]:
    """Hold this thread's socket operations to ``deadline`` while the block runs."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = deadline
    try:
        yield
    finally:
        _local.deadline = previous


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the thread's deadline (``error`` if nothing)."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    try:
        left = deadline.remaining()
    except DeadlineExceeded:
        raise error("the request deadline has passed") from None
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> int:
    """Wrap the network backend of every connection pool ``client`` sends through (its own and
    any proxy's); returns how many were wrapped (0 for a custom transport, as in tests). The
    pools keep the backend in a private attribute, so a pool without one is left alone: the
    body deadline still holds, enforced by the client's read loop."""
    transports = [client._transport, *client._mounts.values()]
    wrapped = 0
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend) and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
            wrapped += 1
    return wrapped


@dataclass(frozen=True, slots=True)
class Answer:
    """One HTTP answer, read in full: what the retry, error and parse logic look at."""

    status_code: int
    headers: Headers
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300


def keep_alive(base_url: str, headers: Mapping[str, str], limits: NetLimits) -> KeepAlive:
    """The fast wire to ``base_url`` under ``limits``, sending ``headers`` with every request;
    its TLS context is httpx's (certifi's CAs, or ``SSL_CERT_FILE``)."""
    context = httpx.create_ssl_context() if base_url.startswith("https:") else None
    return KeepAlive(base_url, timeout=limits.timeout, max_body=limits.max_body,
                     ssl_context=context, headers=headers)  # fmt: skip


def open_wire(
    base_url: str,
    headers: Mapping[str, str],
    limits: NetLimits,
    transport: httpx.BaseTransport | None = None,
    connections: int = 16,
) -> httpx.Client | KeepAlive:
    """What the client sends through: the fast wire (``keep_alive``), or an ``httpx.Client``
    behind a proxy from the environment or with a custom ``transport`` (tests), its pool
    keeping ``connections`` idle connections and its network held to the deadline (``install``)."""
    if transport is None and not proxied(base_url):
        return keep_alive(base_url, headers, limits)
    http = httpx.Client(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(limits.timeout),
        follow_redirects=False,
        headers=headers,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=connections),
    )
    install(http)  # connect, TLS, headers and body all end at the attempt's deadline
    return http


def exchange(
    http: httpx.Client | KeepAlive,
    method: str,
    path: str,
    content: bytes | None,
    headers: dict[str, str] | None,
    limits: NetLimits,
) -> Answer:
    """Send one request and read its whole answer within ``limits``: a deadline that ends
    with httpx's ``ReadTimeout`` (or another timeout), a body too large or a redirect to an
    unparsable location with ``TransportError``."""
    if isinstance(http, KeepAlive):
        return _exchange_kept(http, method, path, content, headers)
    deadline = Deadline(limits.timeout)
    host = str(http.base_url).rstrip("/")
    with deadline_scope(deadline):
        request = http.build_request(method, path, content=content, headers=headers)
        try:
            response = http.send(request, stream=True)
            try:
                body = read_body(response, deadline, limits.max_body)
            finally:
                response.close()
        except DeadlineExceeded:
            raise httpx.ReadTimeout("deadline passed", request=request) from None
        except httpx.InvalidURL:  # httpx parses a redirect's Location even when not following
            raise TransportError(
                f"LaunchDarkly at {host} answered {method} {path} with a redirect to an"
                " invalid location; redirects are not followed"
            ) from None
        except BodyTooLarge:
            raise TransportError(
                f"LaunchDarkly at {host} answered {method} {path} with a body larger than"
                f" {describe_size(limits.max_body)}; stopped reading it"
            ) from None
    return Answer(response.status_code, Headers(response.headers.multi_items()), body)


def _exchange_kept(
    wire: KeepAlive, method: str, path: str, content: bytes | None, headers: dict[str, str] | None
) -> Answer:
    """``exchange`` on the fast wire, its failures made httpx's (or ``TransportError``)."""
    try:
        status, got, body = wire.exchange(method, path, headers, content)
    except WireError as exc:
        if exc.too_large:
            raise TransportError(
                f"LaunchDarkly at {wire.base_url} answered {method} {path} with a body larger"
                f" than {describe_size(wire.max_body)}; stopped reading it"
            ) from None
        kind: type[httpx.RequestError]
        if exc.timeout:
            kind = httpx.ConnectTimeout if exc.connecting else httpx.ReadTimeout
        elif exc.undecodable:
            kind = httpx.DecodingError
        else:
            kind = httpx.ConnectError if exc.connecting else httpx.ReadError
        raise kind(str(exc)) from exc
    return Answer(status, got, body)


def read_body(response: httpx.Response, deadline: Deadline, max_body: int) -> bytes:
    """The body, streamed under the deadline. A success body over ``max_body`` is an error
    (``BodyTooLarge``); an error answer's body is cut at ``ERROR_BODY_CAP``, since only its
    code, message or first 200 characters are ever shown."""
    if response.is_success:
        reader = BodyReader(deadline, max_body)
        for chunk in response.iter_bytes():
            reader.add(chunk)
        return reader.body()
    reader = BodyReader(deadline, min(max_body, ERROR_BODY_CAP))
    with contextlib.suppress(BodyTooLarge):
        for chunk in response.iter_bytes():
            reader.add(chunk)
    return reader.body()


def fails_fast(exc: httpx.TransportError) -> bool:
    """Whether retrying cannot help: refused connections, DNS and TLS failures (all
    ``ConnectError``) and timeouts (the attempt already spent the whole deadline)."""
    return isinstance(exc, httpx.ConnectError | httpx.TimeoutException)


def unreachable(
    exc: httpx.TransportError,
    host: str,
    method: str,
    path: str,
    timeout: float,
    reason: str,
    attempts: int,
) -> TransportError:
    """The error for a transport failure that ends a request (``reason``: ``exc`` described,
    secrets already redacted)."""
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(
            f"LaunchDarkly at {host} did not answer {method} {path} within {timeout:g} s"
            " (--timeout)"
        )
    tries = f"after {attempts} attempts" if attempts > 1 else "not retried"
    return TransportError(f"could not reach LaunchDarkly at {host}: {reason} ({tries})")


def error_details(response: Answer) -> tuple[str, str]:
    """LaunchDarkly's ``code`` and ``message``, escaped; for a non-JSON body, its first 200
    chars; for a redirect, where it led (never followed: the token stays with its host)."""
    if 300 <= response.status_code < 400:
        try:
            target = httpx.URL(response.headers.get("Location", ""))
        except httpx.InvalidURL:
            target = httpx.URL("")
        where = f"{target.scheme}://{target.netloc.decode()}" if target.host else "elsewhere"
        return "redirect", f"redirects to {where}; redirects are not followed"
    try:
        data: object = decode_json(response.content)
    except Malformed:
        return "", escape.text(excerpt(response.content[:4096].decode("utf-8", "replace")))
    if not isinstance(data, dict):
        return "", ""
    code, message = data.get("code"), data.get("message")
    code_text, message_text = str(code)[:100] if code else "", str(message)[:500] if message else ""
    return escape.text(code_text), escape.text(message_text)
