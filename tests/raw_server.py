"""A tiny raw-socket HTTP server on 127.0.0.1 for hostile-network tests.

``RawServer(handler)`` accepts connections in a daemon thread and gives each one to
``handler(conn, request_bytes)`` in its own daemon thread, where the handler can answer
anything at any pace: trickle, stall, stream forever, lie. ``requests`` keeps every request
head received (to check, e.g., that no Authorization header arrived; ``read_request=False``
hands the connection over unread). ``stop()`` closes the
listening socket and every accepted connection, which ends a handler blocked in ``sendall``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

Handler = Callable[[socket.socket, bytes], None]


class RawServer:
    def __init__(self, handler: Handler, *, read_request: bool = True) -> None:
        self._handler = handler
        self._read_request = read_request
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[bytes] = []
        self._conns: list[socket.socket] = []
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        head = b""
        try:
            conn.settimeout(10)
            while self._read_request and b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            with self._lock:
                self.requests.append(head)
            conn.settimeout(None)
            self._handler(conn, head)
        except OSError:
            pass  # the client hung up: that is what most of these tests want
        finally:
            conn.close()

    @property
    def stopped(self) -> threading.Event:
        return self._stopped

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def answer(status: str, body: bytes, content_type: str = "application/json") -> Handler:
    """A handler that sends one complete answer."""

    def handle(conn: socket.socket, _request: bytes) -> None:
        headers = {"Content-Type": content_type, "Content-Length": str(len(body))}
        conn.sendall(head(status, headers | {"Connection": "close"}) + body)

    return handle
