"""The keep-alive wire under the client, against small real servers on 127.0.0.1 that misbehave
on purpose: closing kept-alive connections, never answering, refusing connections, trickling
headers or a TLS handshake, sending bodies past the cap (plain, streamed, or a gzip bomb)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from reconciler.api.attempt import FastWire, Unanswered, keep_alive, open_wire
from reconciler.api.http11 import MAX_HEAD
from reconciler.api.keepalive import KeepAlive, WireError, proxied
from reconciler.api.limits import ERROR_BODY_CAP, NetLimits
from reconciler.api.transport import HttpxWire

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


def test_threads_that_come_and_go_reuse_the_idle_connections_instead_of_opening_more() -> None:
    with server(answers_per_connection=None) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        for _ in range(3):  # as a watch cycle or a fan-out does: new threads each time
            gate = threading.Barrier(4)

            def read(gate: threading.Barrier) -> None:
                gate.wait(timeout=5)  # four requests at once
                assert wire.exchange("GET", "/x", HEADERS, None)[0] == 200

            threads = [threading.Thread(target=read, args=(gate,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=10)
        wire.close()
    assert seen["requests"] == 12
    assert seen["connections"] <= 4, "connections of finished threads were left open"


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


def test_failures_are_named_as_the_httpx_errors_they_would_be() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]  # nothing listens here
    wire = keep_alive(f"http://127.0.0.1:{port}", HEADERS, NetLimits(timeout=2))
    with pytest.raises(Unanswered) as failed:
        wire.send("GET", "/x", None, None)
    wire.close()
    assert failed.value.description.startswith("ConnectError: ")
    assert failed.value.transport and failed.value.fails_fast and not failed.value.timeout


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


def test_the_client_sends_on_the_fast_wire_unless_a_proxy_or_a_transport_is_in_the_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    limits = NetLimits(timeout=2)
    fast = open_wire("https://app.launchdarkly.com", HEADERS, limits)
    mocked = open_wire("https://app.launchdarkly.com", HEADERS, limits, httpx.MockTransport(print))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    behind_proxy = open_wire("https://app.launchdarkly.com", HEADERS, limits)
    for wire in (fast, mocked, behind_proxy):
        wire.close()
    assert isinstance(fast, FastWire)
    assert isinstance(mocked, HttpxWire) and isinstance(behind_proxy, HttpxWire)
    assert behind_proxy.http.follow_redirects is False and behind_proxy.http.timeout.read == 2


def test_a_client_on_the_fast_wire_never_imports_httpx() -> None:
    code = (
        "import sys\n"
        "from reconciler.api.client import Client, ConnectionSettings\n"
        "from reconciler.api.refresh import read_live\n"
        "from reconciler.errors import TransportError\n"
        "client = Client(ConnectionSettings('http://127.0.0.1:9', 'tok'), connections=1)\n"
        "try:\n"
        "    read_live(client, None)\n"
        "except TransportError as exc:\n"
        "    print(exc)\n"
        "print('httpx' in sys.modules, 'httpcore' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.splitlines() == [
        "could not reach LaunchDarkly at http://127.0.0.1:9:"
        " ConnectError: ConnectionRefusedError: [Errno 111] Connection refused (not retried)",
        "False False",
    ]


def test_a_closed_wire_sends_nothing_more() -> None:
    with server(answers_per_connection=None) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
        with pytest.raises(RuntimeError):
            wire.exchange("GET", "/x", HEADERS, None)
    assert seen["requests"] == 1


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
    assert failed.value.too_large and "64 KiB" in str(failed.value)


def tls_trickle(conn: socket.socket, stop: threading.Event) -> None:
    """A TLS record header, then one byte of its body every 20 ms: a handshake that never ends."""
    conn.sendall(b"\x16\x03\x03\x40\x00")
    for _ in range(500):
        if stop.wait(0.02):
            return
        conn.sendall(b"\x00")


def test_a_tls_handshake_trickled_byte_by_byte_ends_at_the_deadline() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            tls_trickle(conn, stop)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wire = keep_alive(f"https://127.0.0.1:{listener.getsockname()[1]}", HEADERS, NetLimits(0.3))
    try:
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", None, None)
    finally:
        stop.set()
        wire.close()
        thread.join(timeout=5)
        listener.close()
    assert failed.value.connecting and failed.value.timeout


def closing_answer(
    body: bytes, *headers: bytes
) -> Callable[[socket.socket, threading.Event], None]:
    def reply(conn: socket.socket, _stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %d\r\n%s\r\n%s" % (
            headers[0], len(body), b"".join(h + b"\r\n" for h in headers[1:]), body))  # fmt: skip

    return reply


def test_an_answer_that_closes_the_connection_is_read_whole_and_not_reused() -> None:
    with server(answers_per_connection=None, reply=closing_answer(b"[1]", b"200 OK")) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/a", HEADERS, None)[::2] == (200, b"[1]")
        assert wire.exchange("GET", "/b", HEADERS, None)[::2] == (200, b"[1]")
        wire.close()
    assert seen["connections"] == 2


def test_a_gzip_bomb_fails_the_attempt_once_decompressed_past_the_cap() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = packer.compress(b"0" * (4 * 1024 * 1024)) + packer.flush()
    reply = closing_answer(bomb, b"200 OK", b"Content-Encoding: gzip")
    with server(answers_per_connection=None, reply=reply) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5, max_body=1024 * 1024)
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
    assert len(bomb) < 1024 * 1024 and failed.value.too_large


def test_a_gzipped_answer_within_the_cap_is_decompressed() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    packed = packer.compress(b'{"items": []}') + packer.flush()
    reply = closing_answer(packed, b"200 OK", b"Content-Encoding: gzip")
    with server(answers_per_connection=None, reply=reply) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/x", HEADERS, None)[2] == b'{"items": []}'
        wire.close()


def test_an_error_answer_too_large_is_cut_not_failed() -> None:
    reply = closing_answer(b"e" * (1024 * 1024), b"500 Internal Server Error")
    with server(answers_per_connection=None, reply=reply) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        status, _, body = wire.exchange("GET", "/x", HEADERS, None)
        wire.close()
    assert status == 500 and body == b"e" * ERROR_BODY_CAP


def sending(data: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """A reply that sends ``data`` as it is, then closes the connection."""

    def reply(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(data)

    return reply


def test_a_chunked_answer_with_trailers_is_read_whole_in_small_pieces() -> None:
    chunks = b"".join(b"%x;n=1\r\n%s\r\n" % (len(p), p) for p in (b'{"it', b'ems": ', b"[]}"))
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\nX-T: 1\r\n\r\n"
    )

    def reply(conn: socket.socket, stop: threading.Event) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(answer), 7):
            conn.sendall(answer[i : i + 7])

    with server(answers_per_connection=None, reply=reply) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/x", HEADERS, None)[::2] == (200, b'{"items": []}')
        wire.close()


def test_a_head_past_its_limit_fails_the_attempt_with_a_clear_error() -> None:
    answer = b"HTTP/1.1 200 OK\r\n" + b"X-Pad: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n"
    with server(answers_per_connection=None, reply=sending(answer)) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        with pytest.raises(WireError, match="exceeds 65536 bytes"):
            wire.exchange("GET", "/x", HEADERS, None)
        wire.close()


def test_bytes_after_an_answer_leave_its_connection_unused() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"
    with server(answers_per_connection=None, reply=sending(ok + b"HTTP/1.1 200 OK\r\n")) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        assert wire.exchange("GET", "/a", HEADERS, None)[2] == b"[]"
        assert wire.exchange("GET", "/b", HEADERS, None)[2] == b"[]"
        wire.close()
    assert seen["connections"] == 2  # the smuggled half-answer was never read as /b's


def test_a_header_value_that_would_split_the_request_is_refused_unsent() -> None:
    with server(answers_per_connection=None) as seen:
        wire = KeepAlive(f"http://127.0.0.1:{seen['port']}", timeout=5)
        with pytest.raises(WireError) as failed:
            wire.exchange("GET", "/x", {"X-Id": "a\r\nX-Evil: 1"}, None)
        with pytest.raises(WireError):
            wire.exchange("GET", "/x y", HEADERS, None)
        wire.close()
    assert "a\r\n" not in str(failed.value) and seen["requests"] == 0


def test_the_request_carries_host_fixed_and_per_request_headers_once_each() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    got = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while not got.endswith(b"[1]"):
                got.extend(conn.recv(65536) or b"[1]")
            conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    wire = KeepAlive(f"http://127.0.0.1:{port}/base", timeout=5, headers={"Accept": "a/b"})
    assert wire.exchange("PATCH", "/s", {"accept": "c/d"}, b"[1]")[0] == 204
    wire.close()
    thread.join(5)
    listener.close()
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"PATCH /base/s HTTP/1.1" and body == b"[1]"
    host = b"Host: 127.0.0.1:%d" % port
    expected = [host, b"Accept-Encoding: identity", b"accept: c/d", b"Content-Length: 3"]
    assert sorted(lines[1:]) == sorted(expected)
