"""The fast wire under the API client: keep-alive HTTP/1.1 connections, idle ones kept for reuse.

``KeepAlive.exchange`` sends one request to the API host and returns ``(status, headers,
body)``. It takes an idle connection (the one used last), or opens one, and gives it back once
its answer was read whole, so there are never more connections than requests ever were at once,
however many threads come and go (a list's atomic ``pop`` and ``append``: no pool lock); no
cookie jar is consulted and no ``httpx.Request`` is built. The
request is written from prebuilt bytes (the request line, then the fixed header lines, cached
per set of per-request headers) and the answer is read by ``reconciler.api.http11``, a strict
and bounded parser, straight off the socket. A connection the server closed while idle fails on
reuse before any answer; an idempotent request (GET, HEAD, DELETE) is then sent once more on a
fresh connection, as browsers and urllib3 do; anything else raises ``WireError``.
``reconciler.api.attempt.FastWire`` turns its answers and ``WireError`` into what the client
handles; the client keeps ``httpx.Client`` for what this does not do: proxies from the
environment (``proxied``). This module imports no httpx.

Hostile servers (SPEC §8), as on the httpx path: ``timeout`` is one deadline for the whole
attempt. Connecting, the TLS handshake, and every send and receive on the connection wait at
most until that deadline (``_Conn``), so a server that trickles a byte now and then still
fails the attempt in time. Redirects are answers, never followed. A success body longer than
``max_body`` bytes (by its ``Content-Length``, as it streams in, or once decompressed: a gzip
bomb) fails the attempt and drops the connection; an error answer's body is cut at
``ERROR_BODY_CAP``. A body shorter than its ``Content-Length`` is an error, not an answer; so
is a head over ``http11.MAX_HEAD`` bytes or ``http11.MAX_FIELDS`` fields. A connection is
reused only after an answer read whole, that did not ask to close it, with nothing after it.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
import threading
import urllib.request
import zlib
from collections.abc import Mapping
from time import monotonic
from urllib.parse import urlsplit

from reconciler.api.http11 import Headers, Response, Stream, WireError, read_response
from reconciler.api.limits import DEFAULT_MAX_BODY, ERROR_BODY_CAP, describe_size

__all__ = ["IDEMPOTENT", "KeepAlive", "Reply", "WireError", "proxied"]

IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
_CHUNK = 65536
_ZLIB_BITS = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_NAME = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
_TARGET = re.compile(r"/[\x21-\x7e]*")
_CACHED = 256
SLACK = 0.05
"""Seconds a send or receive may end after the attempt's deadline (see ``_Conn``)."""
Reply = tuple[int, Headers, bytes]


class _Conn:
    """A connected socket whose every send and receive ends by ``deadline`` (``monotonic``
    seconds), and the answer bytes received on it not yet parsed (``stream``). The socket's
    timeout is set again only when the one it has could let an operation end more than
    ``SLACK`` seconds after the deadline: a quick answer then costs no ``settimeout`` at all."""

    __slots__ = ("armed", "deadline", "sock", "stream")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.deadline = 0.0
        self.armed = sock.gettimeout()
        self.stream = Stream(self.recv)

    def _arm(self) -> None:
        now = monotonic()
        left = self.deadline - now
        if left <= 0:
            raise TimeoutError("the request deadline has passed")
        armed = self.armed
        if armed is None or now + armed > self.deadline + SLACK:
            self.sock.settimeout(left)
            self.armed = left

    def send(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def recv(self) -> bytes:
        self._arm()
        return self.sock.recv(_CHUNK)


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
    """Keep-alive connections to one ``http(s)://host[:port]``; every request carries
    ``headers`` (those given to ``exchange`` add to or replace them)."""

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
        host = f"[{self._host}]" if ":" in self._host else self._host
        if parts.port is not None and parts.port != (443 if self._https else 80):
            host = f"{host}:{parts.port}"
        self._fixed = {"Host": host, "Accept-Encoding": "identity", **(headers or {})}
        self._lines: dict[tuple[tuple[str, str], ...], bytes] = {}
        self._idle: list[_Conn] = []  # connections between requests, the last used at the end
        self._lock = threading.Lock()  # taken only to open and to close connections
        self._open: list[_Conn] = []
        self._closed = False

    def exchange(
        self, method: str, path: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> Reply:
        """Send one request (``path`` below the base URL's path); status, headers, body."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the connections have been closed.")
        request = self._request(method, path, headers, body)
        deadline = monotonic() + self.timeout
        try:
            conn: _Conn | None = self._idle.pop()
        except IndexError:
            conn = None
        reused = conn is not None
        for _ in range(2):
            if conn is None:
                conn = self._connect(deadline)
            conn.deadline = deadline
            try:
                conn.send(request)
                answer = read_response(conn.stream, method, self.max_body, ERROR_BODY_CAP)
            except (WireError, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                stale = not isinstance(exc, WireError) or exc.silent
                if stale and reused and method in IDEMPOTENT:  # closed while idle: afresh
                    conn, reused = None, False
                    continue
                if isinstance(exc, WireError):
                    raise
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            except TimeoutError as exc:
                self._drop(conn)
                raise WireError(f"timed out after {self.timeout:g} s", timeout=True) from exc
            except OSError as exc:
                self._drop(conn)
                raise WireError(f"{type(exc).__name__}: {exc}") from exc
            if not answer.reusable or not answer.whole or conn.stream.data:
                self._drop(conn)
            else:
                self._release(conn)
            return answer.status, answer.headers, self._body(answer.status, answer)
        raise WireError("the connection closed twice")  # pragma: no cover - loop returns above

    def _body(self, status: int, answer: Response) -> bytes:
        """The body, decompressed. A success body is at most ``max_body`` bytes (``WireError``
        beyond); an error answer's is cut at ``ERROR_BODY_CAP``, since only its code, message
        or first 200 characters are shown."""
        success = 200 <= status < 300
        cap = self.max_body if success else min(self.max_body, ERROR_BODY_CAP)
        too_large = WireError(f"the response body exceeds {describe_size(cap)}", too_large=True)
        if success and not answer.whole:
            raise too_large
        encoding = answer.headers.get("content-encoding")
        if not encoding:
            return answer.body
        try:
            data = _decoded(answer.body, encoding, cap)
        except zlib.error as exc:
            raise WireError(f"the {encoding} body is corrupt: {exc}", undecodable=True) from None
        if success and len(data) > cap:
            raise too_large
        return data[:cap]

    def _request(
        self, method: str, path: str, headers: Mapping[str, str] | None, body: bytes | None
    ) -> bytes:
        """The request's bytes: request line, header lines (built once per set of
        per-request headers), the body."""
        target = self._prefix + path
        if _TARGET.fullmatch(target) is None or _NAME.fullmatch(method) is None:
            raise WireError("the request target holds a space or control character",
                            connecting=True)  # fmt: skip
        key = tuple(headers.items()) if headers else ()
        lines = self._lines.get(key)
        if lines is None:
            lines = self._header_lines(headers or {})
            if len(self._lines) < _CACHED:
                self._lines[key] = lines
        start = f"{method} {target} HTTP/1.1\r\n".encode("ascii")
        if body is not None:
            return b"%s%sContent-Length: %d\r\n\r\n%s" % (start, lines, len(body), body)
        if method in _WITH_BODY:
            return start + lines + b"Content-Length: 0\r\n\r\n"
        return start + lines + b"\r\n"

    def _header_lines(self, headers: Mapping[str, str]) -> bytes:
        given = {name.lower() for name in headers}
        merged = [(n, v) for n, v in self._fixed.items() if n.lower() not in given]
        lines = []
        for name, value in [*merged, *headers.items()]:
            if _NAME.fullmatch(name) is None or _VALUE.fullmatch(value) is None:
                raise WireError(f"the {name[:40]!r} header holds a control character",
                                connecting=True)  # fmt: skip
            lines.append(f"{name}: {value}\r\n")
        return "".join(lines).encode("latin-1")

    def _connect(self, deadline: float) -> _Conn:
        """A new connection: connect and TLS within the attempt's deadline."""
        conn = _Conn(self._socket(deadline))
        with self._lock:
            self._open.append(conn)
        return conn

    def _release(self, conn: _Conn) -> None:
        """Keep ``conn`` for the next request (closed instead once the wire is)."""
        self._idle.append(conn)
        if self._closed:
            self._drop(conn)

    def _socket(self, deadline: float) -> socket.socket:
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((self._host, self._port), _left(deadline))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small requests at once
            if self._context is not None:
                sock.settimeout(_left(deadline))  # the handshake as a whole, not per read
                sock = self._context.wrap_socket(sock, server_hostname=self._host)
            return sock
        except OSError as exc:  # refused, DNS, TLS (ssl.SSLError), timeouts
            if sock is not None:
                sock.close()
            timeout = isinstance(exc, TimeoutError)
            why = "timed out connecting" if timeout else f"{type(exc).__name__}: {exc}"
            raise WireError(why, connecting=True, timeout=timeout) from exc

    def _drop(self, conn: _Conn) -> None:
        conn.sock.close()
        with contextlib.suppress(ValueError):
            self._idle.remove(conn)
        with self._lock:
            if conn in self._open:
                self._open.remove(conn)

    def close(self) -> None:
        """Close every connection; no request can be sent after."""
        with self._lock:
            self._closed = True
            conns, self._open, self._idle = self._open, [], []
        for conn in conns:
            conn.sock.close()


def _left(deadline: float) -> float:
    """Seconds until ``deadline``; ``TimeoutError`` when it has passed."""
    left = deadline - monotonic()
    if left <= 0:
        raise TimeoutError("the request deadline has passed")
    return left


def proxied(base_url: str) -> bool:
    """Whether the environment routes ``base_url`` through a proxy, as httpx would read it."""
    proxies = urllib.request.getproxies_environment()
    host = urlsplit(base_url).hostname or ""
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - untyped in stubs
    return bool(proxies) and not bypass(host, proxies)
