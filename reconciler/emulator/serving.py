"""The emulator's HTTP server: threaded, HTTP/1.1, keep-alive connections, as LaunchDarkly's.

Werkzeug's development server answers ``Connection: close`` to everything and drains the
socket after each response (which would swallow the next request of a persistent connection),
so the emulator serves its WSGI app with this small server on the standard library instead.
``KeepAliveHandler`` reads each request whole (``Content-Length`` or a chunked body), calls the
app, and answers with a ``Content-Length``, keeping the connection open unless the client sent
``Connection: close`` or spoke HTTP/1.0; an idle connection is closed after ``IDLE_TIMEOUT``
seconds. The app sees the connection's socket as ``environ["werkzeug.socket"]`` so the fault
injector can drop a connection without an answer. ``ThreadedServer`` serves each connection in
a daemon thread and remembers open connections, so ``close_connections`` can cut idle
keep-alive connections when the emulator stops.
"""

from __future__ import annotations

import contextlib
import io
import socket
import socketserver
import sys
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

WSGIApp = Callable[[dict[str, Any], Any], Iterable[bytes]]
IDLE_TIMEOUT = 60.0
"""Seconds a keep-alive connection may sit idle before the server closes it."""
MAX_BODY = 64 * 1024 * 1024
"""Largest request body read into memory; a larger one ends the connection with a 413."""


class ThreadedServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """A threaded TCP server for ``KeepAliveHandler``, holding the app and open connections."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # socketserver's default backlog of 5 drops the SYNs of a client opening dozens of
    # connections at once; each dropped one is retried only after a second.
    request_queue_size = 128

    def __init__(self, host: str, port: int, app: WSGIApp, *, quiet: bool) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.app = app
        self.quiet = quiet
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__((host, port), KeepAliveHandler)

    @property
    def host(self) -> str:
        return str(self.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track(self, sock: socket.socket, *, open_: bool) -> None:
        with self._open_lock:
            if open_:
                self._open.add(sock)
            else:
                self._open.discard(sock)

    def close_connections(self) -> None:
        """Shut every open connection down (their handler threads then end)."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(BaseHTTPRequestHandler):
    """Serves the server's WSGI app over one persistent connection."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK of the headers (~40 ms per request on one connection).
    disable_nagle_algorithm = True
    server: ThreadedServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (ConnectionError, TimeoutError):
            self.close_connection = True

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            self.close_connection = True
            return
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            answer["status"], answer["headers"] = status, headers

        chunks = self.server.app(self._environ(body), start_response)
        try:
            payload = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        try:
            self._write(answer["status"], answer["headers"], payload)
        except OSError:  # the app dropped the connection, or the client went away
            self.close_connection = True

    def _read_body(self) -> bytes | None:
        """The request body (``None`` if over ``MAX_BODY``)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            size = 0
            while True:
                length = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                size += length
                if size > MAX_BODY:
                    return None
                parts.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "SERVER_NAME": self.server.host,
            "SERVER_PORT": str(self.server.port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": self.client_address[1],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "werkzeug.socket": self.connection,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _write(self, status: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason or None)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        no_body = self.command == "HEAD" or int(code) in (204, 304)
        if not no_body:
            self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not no_body:
            self.wfile.write(payload)
        self.wfile.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if not self.server.quiet:
            super().log_request(code, size)
