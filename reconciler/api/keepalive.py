"""The wire under the API client: plain keep-alive ``http.client`` connections, one per thread.

``KeepAlive.exchange`` sends one request on the calling thread's own connection to the API host
and returns ``(status, headers, body)``; each thread keeps its connection open between requests,
so no pool lock is taken and no cookie jar is consulted (LaunchDarkly's API sets no cookies the
client needs). A connection the server closed while idle fails on reuse before any answer; an
idempotent request (GET, HEAD, DELETE) is then sent once more on a fresh connection, as browsers
and urllib3 do; anything else raises ``WireError``. ``KeepAliveTransport`` puts this behind
httpx's transport interface, turning ``WireError`` into httpx's exceptions, so
``reconciler.api.client`` sees httpx requests, responses and errors as before; the client keeps
``httpx.Client`` for what this does not do: proxies from the environment (``proxied``). Measured
on loopback, a request through this costs about half the CPU of ``httpx.Client.request``.

Hostile servers: ``timeout`` is one deadline for the whole attempt, not per socket operation.
Every send and receive on an open connection waits at most until that deadline (``_Bounded``),
so a server that trickles a byte now and then still fails the attempt in time (connecting, TLS
included, is bounded by the timeout per operation). A body longer than ``max_body`` bytes, by
its ``Content-Length`` or as it streams in, fails the attempt and drops the connection.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

import httpx

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
DEFAULT_MAX_BODY = 8 * 1024 * 1024
_CHUNK = 65536


class WireError(Exception):
    """A request got no complete answer. ``connecting``: no connection was made; ``timeout``:
    the deadline passed; ``too_large``: the body was longer than the cap."""

    def __init__(
        self, message: str, *, connecting: bool = False, timeout: bool = False,
        too_large: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.connecting = connecting
        self.timeout = timeout
        self.too_large = too_large


class _Bounded:
    """A connected socket whose every send and receive ends by the calling thread's deadline
    (``local.deadline``, ``time.monotonic`` seconds); what ``http.client`` needs of a socket."""

    def __init__(self, sock: socket.socket, local: threading.local) -> None:
        self._sock = sock
        self._local = local

    def _arm(self) -> None:
        left = self._local.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request deadline has passed")
        self._sock.settimeout(left)

    def sendall(self, data: bytes) -> None:
        self._arm()
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview, nbytes: int = 0, flags: int = 0) -> int:
        self._arm()
        return self._sock.recv_into(buffer, nbytes, flags)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        return io.BufferedReader(socket.SocketIO(cast(socket.socket, self), "rb"))

    def _decref_socketios(self) -> None:
        """Called by ``SocketIO.close``; the connection closes the socket itself."""

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


class KeepAlive:
    """Keep-alive connections to one ``http(s)://host[:port]``, one per calling thread."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._context = ssl_context
        self._max_body = max_body
        self._local = threading.local()
        self._lock = threading.Lock()  # taken only to open and to close connections
        self._open: list[http.client.HTTPConnection] = []

    def exchange(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request (``path`` below the base URL's path); status, headers, body."""
        target = self._prefix + path
        self._local.deadline = time.monotonic() + self._timeout
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect()
            try:
                conn.request(method, target, body=body, headers=headers)
                response = conn.getresponse()
                data = self._body(response)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if reused and method in IDEMPOTENT:  # closed while idle: once more, afresh
                    conn, reused = None, False
                    continue
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            except TimeoutError as exc:
                self._drop(conn)
                raise WireError(f"timed out after {self._timeout:g} s", timeout=True) from exc
            except WireError:
                self._drop(conn)
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self._drop(conn)
            return response.status, response.getheaders(), data
        raise WireError("the connection closed twice")  # pragma: no cover - loop returns above

    def _body(self, response: http.client.HTTPResponse) -> bytes:
        """The whole body, at most ``max_body`` bytes (by its length, or as it streams in)."""
        length = response.getheader("Content-Length", "")
        too_large = WireError(f"the response body exceeds {self._max_body} bytes", too_large=True)
        if length.isdigit():
            if int(length) > self._max_body:
                raise too_large
            return response.read()
        chunks, size = [], 0
        while chunk := response.read(_CHUNK):
            size += len(chunk)
            if size > self._max_body:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    def _connect(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            raise WireError("timed out connecting", connecting=True, timeout=True) from exc
        except OSError as exc:
            raise WireError(f"{type(exc).__name__}: {exc}", connecting=True) from exc
        if conn.sock is not None:  # small requests go out at once, not after the last ACK
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.sock = cast(socket.socket, _Bounded(conn.sock, self._local))
        with self._lock:
            self._open.append(conn)
        self._local.conn = conn
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def close(self) -> None:
        """Close every connection of every thread."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()


class KeepAliveTransport(httpx.BaseTransport):
    """httpx's transport interface over ``KeepAlive``; its errors become httpx's."""

    def __init__(self, base_url: str, timeout: float) -> None:
        context = httpx.create_ssl_context() if base_url.startswith("https:") else None
        self._wire = KeepAlive(base_url, timeout=timeout, ssl_context=context)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode("ascii")
        headers = dict(request.headers.multi_items())
        response = self.send(request.method, path, headers, request.content or None)
        response.request = request
        return response

    def send(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None
    ) -> httpx.Response:
        """One request without building an ``httpx.Request`` (the client's hot path: parsing a
        URL costs about as much as the whole exchange on loopback)."""
        try:
            status, got, data = self._wire.exchange(method, path, headers, body)
        except WireError as exc:
            kind: type[httpx.RequestError]
            if exc.timeout:
                kind = httpx.ConnectTimeout if exc.connecting else httpx.ReadTimeout
            elif exc.too_large:
                kind = httpx.DecodingError
            else:
                kind = httpx.ConnectError if exc.connecting else httpx.ReadError
            raise kind(str(exc)) from exc
        return httpx.Response(status, headers=got, content=data)

    def close(self) -> None:
        self._wire.close()


def proxied(base_url: str) -> bool:
    """Whether the environment routes ``base_url`` through a proxy, as httpx would read it."""
    proxies = urllib.request.getproxies_environment()
    host = urlsplit(base_url).hostname or ""
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - untyped in stubs
    return bool(proxies) and not bypass(host, proxies)
