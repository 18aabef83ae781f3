"""The httpx path under the API client: proxies from the environment and test transports.

Only a run that takes this path imports httpx (and httpcore, which httpx is built on); the fast
wire (``reconciler.api.attempt``) needs neither. httpx's timeouts are per operation: a server
that trickles a byte now and then never trips a read timeout, in the headers as well as in the
body. This module wraps httpcore's network backend so that each connect, TLS handshake, read and
write waits at most until the deadline the calling thread set with ``deadline_scope`` (requests
run in the thread that sends them), and fails with httpcore's own timeout errors once it has
passed; httpx maps those to its ``TimeoutException`` family. ``install`` puts the wrapper under
an ``httpx.Client``'s connection pools. ``HttpxWire.send`` sends one request (``exchange``),
streams its body under the deadline and the cap into an ``Answer``, and turns httpx's errors
into ``Unanswered`` as the fast wire does; ``redirect_details`` words where a redirect led.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from reconciler.api.http11 import Answer, Headers, Unanswered
from reconciler.api.limits import (
    ERROR_BODY_CAP,
    BodyReader,
    BodyTooLarge,
    Deadline,
    DeadlineExceeded,
    NetLimits,
    describe_size,
)
from reconciler.api.redact import describe
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


class HttpxWire:
    """The httpx path: an ``httpx.Client`` (behind a proxy from the environment, or over a test
    ``transport``) whose pool keeps ``connections`` idle connections and whose network is held
    to each attempt's deadline (``install``); its failures become ``Unanswered``."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        limits: NetLimits,
        transport: object = None,
        connections: int = 16,
    ) -> None:
        if transport is not None and not isinstance(transport, httpx.BaseTransport):
            raise TypeError(f"not an httpx transport: {type(transport).__name__}")
        self.limits = limits
        self.http = httpx.Client(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(limits.timeout),
            follow_redirects=False,
            headers=headers,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=connections),
        )
        install(self.http)  # connect, TLS, headers and body all end at the attempt's deadline

    def send(
        self, method: str, path: str, content: bytes | None, headers: Mapping[str, str] | None
    ) -> Answer:
        try:
            return exchange(self.http, method, path, content, headers, self.limits)
        except httpx.TransportError as exc:
            fast = isinstance(exc, httpx.ConnectError | httpx.TimeoutException)
            timeout = isinstance(exc, httpx.TimeoutException)
            raise Unanswered(describe(exc), fails_fast=fast, timeout=timeout) from exc
        except httpx.HTTPError as exc:
            raise Unanswered(describe(exc), transport=False) from exc

    def close(self) -> None:
        self.http.close()


def exchange(
    http: httpx.Client,
    method: str,
    path: str,
    content: bytes | None,
    headers: Mapping[str, str] | None,
    limits: NetLimits,
) -> Answer:
    """Send one request and read its whole answer within ``limits``: a deadline that ends
    with httpx's ``ReadTimeout`` (or another timeout), a body too large or a redirect to an
    unparsable location with ``TransportError``."""
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


def redirect_details(headers: Mapping[str, str]) -> tuple[str, str]:
    """The error code and message of a redirect: where it led (never followed: the token
    stays with its host), ``scheme://host[:port]`` as httpx parses the ``Location``."""
    try:
        target = httpx.URL(headers.get("Location", ""))
    except httpx.InvalidURL:
        target = httpx.URL("")
    where = f"{target.scheme}://{target.netloc.decode()}" if target.host else "elsewhere"
    return "redirect", f"redirects to {where}; redirects are not followed"
