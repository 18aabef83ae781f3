"""The watch command's HTTP endpoints: ``/metrics``, ``/healthz`` and ``/readyz``.

A small threaded ``http.server`` in a daemon thread: ``/metrics`` serves the metrics registry
in Prometheus' text format, ``/healthz`` answers 200 while the process is alive, ``/readyz``
200 while the last cycle succeeded within two intervals and 503 otherwise (the body says why).
Nothing else is served; requests are not logged. It binds where ``--listen`` says (loopback by
default); a port of 0 picks a free one, which ``port`` reports.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reconciler.errors import ConfigError

METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class StatusServer:
    """Serves the endpoints between ``start()`` and ``stop()``."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        metrics: Callable[[], bytes],
        ready: Callable[[], tuple[bool, str]],
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, METRICS_TYPE, metrics()),
            "/healthz": lambda: (200, "text/plain", b"ok\n"),
            "/readyz": lambda: _readyz(ready),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, kind, body = (
                    route() if route else (404, "text/plain", b"not found\n")
                )  # fmt: skip
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        cls = _Server6 if ":" in host else _Server
        try:
            self._server = cls((host, port), Handler)
        except OSError as error:
            raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror}") from None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> StatusServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="watch-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


def _readyz(ready: Callable[[], tuple[bool, str]]) -> tuple[int, str, bytes]:
    ok, why = ready()
    return (200 if ok else 503), "text/plain", f"{why}\n".encode()
