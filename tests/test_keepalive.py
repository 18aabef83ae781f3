"""The keep-alive wire under the client, against small real servers on 127.0.0.1 that misbehave
on purpose: closing kept-alive connections, never answering, refusing connections."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from reconciler.api.keepalive import KeepAlive, KeepAliveTransport, WireError, proxied

HEADERS = {"Accept": "application/json"}


@contextmanager
def server(
    *,
    answers_per_connection: int | None,
    silent: bool = False,
    reply: Callable[[socket.socket, threading.Event], None] | None = None,
) -> Iterator[dict[str, int]]:
    """A server that answers ``answers_per_connection`` requests on each connection, then closes
    it without saying so (``None``: never closes); ``silent`` never answers at all; ``reply``
    answers in its own way."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    seen = {"port": listener.getsockname()[1], "connections": 0, "requests": 0}
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            answered = 0
            while not stop.is_set():
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                seen["requests"] += 1
                if silent:
                    stop.wait(5)
                    return
                if reply is not None:
                    reply(conn, stop)
                    return
                body = b'{"ok": true}'
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))  # fmt: skip
                answered += 1
                if answers_per_connection is not None and answered >= answers_per_connection:
                    return

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            seen["connections"] += 1
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_requests_on_one_thread_share_one_kept_alive_connection() -> None:
    with server(answers_per_connection=None) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        for _ in range(5):
            status, _, body = wire.exchange("GET", "/x", HEADERS, None)
            assert (status, body) == (200, b'{"ok": true}')
        wire.close()
    assert (seen["connections"], seen["requests"]) == (1, 5)


def test_a_get_on_a_connection_closed_while_idle_is_sent_again_on_a_fresh_one() -> None:
    with server(answers_per_connection=1) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/a", HEADERS, None)[0] == 200
        assert wire.exchange("GET", "/b", HEADERS, None)[0] == 200
        wire.close()
    assert seen["connections"] == 2


def test_a_post_on_a_closed_connection_is_not_sent_again_behind_the_clients_back() -> None:
    with server(answers_per_connection=1) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/a", HEADERS, None)[0] == 200
        with pytest.raises(WireError) as failed:
            wire.exchange("POST", "/stores", HEADERS, b"{}")
        wire.close()
    assert not failed.value.connecting and seen["connections"] == 1


def test_a_server_that_never_answers_is_a_timeout_not_a_hang() -> None:
    with server(answers_per_connection=None, silent=True) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=0.3)
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
    assert failed.value.timeout and not failed.value.connecting


def test_failures_become_httpx_errors_the_client_already_handles() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # nothing listens here
    transport = KeepAliveTransport(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(httpx.ConnectError):
        transport.send("GET", "/x", HEADERS, None)
    with pytest.raises(httpx.ConnectError):
        transport.handle_request(httpx.Request("GET", f"http://127.0.0.1:{port}/x"))
    transport.close()


def test_a_proxy_in_the_environment_is_noticed_unless_the_host_bypasses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not proxied("https://app.launchdarkly.com")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxied("https://app.launchdarkly.com")
    monkeypatch.setenv("NO_PROXY", "app.launchdarkly.com")
    assert not proxied("https://app.launchdarkly.com")


def trickle(conn: socket.socket, stop: threading.Event) -> None:
    """A status line, then one byte of a never-ending header every 20 ms."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(500):
        if stop.wait(0.02):
            return
        conn.sendall(b"a")


def test_a_server_trickling_its_headers_fails_the_attempt_at_its_deadline() -> None:
    with server(answers_per_connection=None, reply=trickle) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=0.3)
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
    assert failed.value.timeout  # per-operation timeouts alone would never trip


def huge_length(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 1000)
    stop.wait(2)


def endless_chunks(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    while not stop.is_set():
        try:
            conn.sendall(b"400\r\n" + b"x" * 1024 + b"\r\n")
        except OSError:
            return


@pytest.mark.parametrize("reply", [huge_length, endless_chunks], ids=["length", "streamed"])
def test_a_body_over_the_cap_fails_the_attempt(
    reply: Callable[[socket.socket, threading.Event], None],
) -> None:
    with server(answers_per_connection=None, reply=reply) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=10, max_body=64 * 1024)
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
    assert failed.value.too_large and "65536 bytes" in str(failed.value)
