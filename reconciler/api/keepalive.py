"""The fast wire under the API client: plain keep-alive ``http.client`` connections, one per thread.

``KeepAlive.exchange`` sends one request on the calling thread's own connection to the API host
and returns ``(status, headers, body)``; each thread keeps its connection open between requests,
so no pool lock is taken, no cookie jar is consulted and no ``httpx.Request`` is built (measured
on loopback, about half the CPU of ``httpx.Client.request``). A connection the server closed
while idle fails on reuse before any answer; an idempotent request (GET, HEAD, DELETE) is then
sent once more on a fresh connection, as browsers and urllib3 do; anything else raises
``WireError``. ``reconciler.api.transport.exchange`` drives it and turns ``WireError`` into
httpx's exceptions; the client keeps ``httpx.Client`` for what this does not do: proxies from
the environment (``proxied``). This module imports no httpx.

Hostile servers (SPEC §8), as on the httpx path: ``timeout`` is one deadline for the whole
attempt. Connecting, the TLS handshake, and every send and receive on the connection wait at
most until that deadline (``_Bounded``), so a server that trickles a byte now and then still
fails the attempt in time. Redirects are answers, never followed. A success body longer than
``max_body`` bytes (by its ``Content-Length``, as it streams in, or once decompressed: a gzip
bomb) fails the attempt and drops the connection; an error answer's body is cut at
``ERROR_BODY_CAP``. A body shorter than its ``Content-Length`` is an error, not an answer.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

from reconciler.api.limits import DEFAULT_MAX_BODY, ERROR_BODY_CAP, describe_size

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
_CHUNK = 65536
_ZLIB_BITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
Reply = tuple[int, list[tuple[str, str]], bytes]


class WireError(Exception):
    """A request got no complete answer. ``connecting``: no connection was made; ``timeout``:
    the deadline passed; ``too_large``: the body was longer than the cap; ``undecodable``: its
    compressed body was corrupt."""

    def __init__(
        self, message: str, *, connecting: bool = False, timeout: bool = False,
        too_large: bool = False, undecodable: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(message)
        self.connecting = connecting
        self.timeout = timeout
        self.too_large = too_large
        self.undecodable = undecodable


def _left(local: threading.local) -> float:
    """Seconds until the calling thread's deadline; ``TimeoutError`` when it has passed."""
    left = float(local.deadline) - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request deadline has passed")
    return left


class _Bounded:
    """A connected socket whose every send and receive ends by the calling thread's deadline
    (``local.deadline``, ``time.monotonic`` seconds); what ``http.client`` needs of a socket.
    As a ``socket.socket``, it stays open until the response reading from it is closed too."""

    def __init__(self, sock: socket.socket, local: threading.local) -> None:
        self._sock = sock
        self._local = local
        self._readers = 0
        self._closing = False

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(_left(self._local))
        self._sock.sendall(data)

    def recv_into(self, buffer: memoryview, nbytes: int = 0, flags: int = 0) -> int:
        self._sock.settimeout(_left(self._local))
        return self._sock.recv_into(buffer, nbytes, flags)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(socket.SocketIO(cast(socket.socket, self), "rb"))

    def _decref_socketios(self) -> None:
        """Called by ``SocketIO.close``: a response is done with the socket."""
        self._readers = max(0, self._readers - 1)
        if self._closing and not self._readers:
            self._sock.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._closing = True
        if not self._readers:
            self._sock.close()


def _decoded(raw: bytes, encoding: str, cap: int) -> bytes:
    """``raw`` decompressed per its ``Content-Encoding`` (gzip or deflate; others are left as
    they are), never more than ``cap + 1`` bytes of it: a bomb stops there."""
    bits = _ZLIB_BITS.get(encoding.strip().lower())
    if bits is None:
        return raw
    try:
        return zlib.decompressobj(bits).decompress(raw, cap + 1)
    except zlib.error:
        if bits != zlib.MAX_WBITS:
            raise
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, cap + 1)  # raw deflate


class KeepAlive:
    """Keep-alive connections to one ``http(s)://host[:port]``, one per calling thread; every
    request carries ``headers`` (those given to ``exchange`` add to or replace them)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        ssl_context: ssl.SSLContext | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parts = urlsplit(base_url)
        self.base_url = base_url.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.max_body = max_body
        self._context = ssl_context
        if self._https and ssl_context is None:
            self._context = ssl.create_default_context()
        self._headers = dict(headers or {})
        self._local = threading.local()
        self._lock = threading.Lock()  # taken only to open and to close connections
        self._open: list[http.client.HTTPConnection] = []
        self._closed = False

    def exchange(
        self, method: str, path: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        """Send one request (``path`` below the base URL's path); status, headers, body."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the connections have been closed.")
        target = self._prefix + path
        sent = {**self._headers, **headers} if headers else self._headers
        self._local.deadline = time.monotonic() + self.timeout
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect()
            try:
                conn.request(method, target, body=body, headers=sent)
                response = conn.getresponse()
                try:
                    data, whole = self._body(response)
                finally:
                    response.close()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if reused and method in IDEMPOTENT:  # closed while idle: once more, afresh
                    conn, reused = None, False
                    continue
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            except TimeoutError as exc:
                self._drop(conn)
                raise WireError(f"timed out after {self.timeout:g} s", timeout=True) from exc
            except WireError:
                self._drop(conn)
                raise
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            if response.will_close or not whole:
                self._drop(conn)
            return response.status, response.getheaders(), data
        raise WireError("the connection closed twice")  # pragma: no cover - loop returns above

    def _body(self, response: http.client.HTTPResponse) -> tuple[bytes, bool]:
        """The body and whether the connection read all of it. A success body is at most
        ``max_body`` bytes (``WireError`` beyond); an error answer's is cut at
        ``ERROR_BODY_CAP``, since only its code, message or first 200 characters are shown."""
        success = 200 <= response.status < 300
        cap = self.max_body if success else min(self.max_body, ERROR_BODY_CAP)
        length = response.getheader("Content-Length", "")
        too_large = WireError(f"the response body exceeds {describe_size(cap)}", too_large=True)
        if length.isdigit() and int(length) <= cap:
            raw, whole = response.read(), True  # short of its length: IncompleteRead
        elif length.isdigit() and success:
            raise too_large
        else:
            raw, whole = self._read_capped(response, cap)
        encoding = response.getheader("Content-Encoding", "")
        try:
            data = _decoded(raw, encoding, cap)
        except zlib.error as exc:
            raise WireError(f"the {encoding} body is corrupt: {exc}", undecodable=True) from None
        if success and (not whole or len(data) > cap):
            raise too_large
        return data[:cap], whole

    @staticmethod
    def _read_capped(response: http.client.HTTPResponse, cap: int) -> tuple[bytes, bool]:
        """At most ``cap`` bytes of a body of unknown or too large a length; whether that was
        all of it."""
        chunks, size = [], 0
        while chunk := response.read(_CHUNK):
            if size + len(chunk) > cap:
                chunks.append(chunk[: cap - size])
                return b"".join(chunks), False
            size += len(chunk)
            chunks.append(chunk)
        if response.length:  # the connection closed short of the announced length
            raise http.client.IncompleteRead(b"".join(chunks), response.length)
        return b"".join(chunks), True

    def _connect(self) -> http.client.HTTPConnection:
        """A new connection for this thread: connect and TLS within the attempt's deadline."""
        sock = self._socket()
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, context=self._context)
        else:
            conn = http.client.HTTPConnection(self._host, self._port)
        conn.sock = cast(socket.socket, _Bounded(sock, self._local))
        conn.auto_open = False  # never reconnects by itself, outside the deadline
        with self._lock:
            self._open.append(conn)
        self._local.conn = conn
        return conn

    def _socket(self) -> socket.socket:
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((self._host, self._port), _left(self._local))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small requests at once
            if self._context is not None:
                sock.settimeout(_left(self._local))  # the handshake as a whole, not per read
                sock = self._context.wrap_socket(sock, server_hostname=self._host)
            return sock
        except OSError as exc:  # refused, DNS, TLS (ssl.SSLError), timeouts
            if sock is not None:
                sock.close()
            timeout = isinstance(exc, TimeoutError)
            why = "timed out connecting" if timeout else f"{type(exc).__name__}: {exc}"
            raise WireError(why, connecting=True, timeout=timeout) from exc

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def close(self) -> None:
        """Close every connection of every thread; no request can be sent after."""
        with self._lock:
            self._closed = True
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()


def proxied(base_url: str) -> bool:
    """Whether the environment routes ``base_url`` through a proxy, as httpx would read it."""
    proxies = urllib.request.getproxies_environment()
    host = urlsplit(base_url).hostname or ""
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - untyped in stubs
    return bool(proxies) and not bypass(host, proxies)
