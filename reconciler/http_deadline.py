"""Holding every socket operation of an attempt to that attempt's overall deadline.

httpx's timeouts are per operation: a server that trickles a byte now and then never trips a
read timeout, in the headers as well as in the body. This module wraps httpcore's network
backend so that each connect, TLS handshake, read and write waits at most until the deadline
the calling thread set with ``deadline_scope`` (requests run in the thread that sends them), and
fails with httpcore's own timeout errors once it has passed; httpx maps those to its
``TimeoutException`` family. ``install`` puts the wrapper under an ``httpx.Client``'s
connection pools. Part of the API client: with ``reconciler.client`` the only code that
imports httpx (and httpcore, which httpx is built on).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from reconciler.netlimits import Deadline, DeadlineExceeded

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
