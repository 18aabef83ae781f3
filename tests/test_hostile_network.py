"""The real CLI against hostile servers (SPEC §8): trickling, silent, endless, lying, redirecting.

Each server is a raw socket on 127.0.0.1 (``raw_server``). Durations are asserted only as the
spec's upper bounds ("exit 1 in under 30 s"), never as lower bounds or tight timings.
"""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from raw_server import RawServer, answer, head

from reconciler.cli.main import main

TOKEN = "api-hostile-network-token"
MANIFEST = """\
project: payments
stores:
  - environment: production
    integrationKey: redis
    name: Payments
    config: {host: redis.internal, port: 6379}
"""


def run_cli(tmp_path: Path, url: str, *argv: str) -> tuple[int, str, str]:
    manifest = tmp_path / "payments.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    env = {"LAUNCHDARKLY_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": url}
    code = main(["plan", str(manifest), *argv], stdout=out, stderr=err, env=env)
    return code, out.getvalue(), err.getvalue()


def assert_clean_error(code: int, out: str, err: str) -> str:
    """One ``error:`` line, exit 1, no traceback, no token; returns the line."""
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    assert TOKEN not in err
    return lines[0]


def trickle_body(conn: socket.socket, _request: bytes) -> None:
    conn.sendall(head("200 OK", {"Content-Type": "application/json", "Content-Length": "100000"}))
    conn.sendall(b'{"items": [')
    for _ in range(200):
        time.sleep(0.5)
        conn.sendall(b" ")


def trickle_headers(conn: socket.socket, _request: bytes) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
        conn.sendall(bytes([byte]))
        time.sleep(0.5)


def silent(conn: socket.socket, _request: bytes) -> None:
    conn.recv(1)  # blocks until the client hangs up


def test_a_trickling_body_is_cut_off_by_the_timeout(tmp_path: Path) -> None:
    with RawServer(trickle_body) as server:
        started = time.monotonic()
        line = assert_clean_error(*run_cli(tmp_path, server.url, "--timeout", "5"))
        assert time.monotonic() - started < 30
    assert line == (
        f"error: LaunchDarkly at {server.url} did not answer GET"
        " /api/v2/integration-capabilities/big-segment-store within 5 s (--timeout)"
    )


def test_trickling_headers_are_cut_off_by_the_timeout_too(tmp_path: Path) -> None:
    with RawServer(trickle_headers) as server:
        started = time.monotonic()
        line = assert_clean_error(*run_cli(tmp_path, server.url, "--timeout", "2"))
        assert time.monotonic() - started < 30
    assert "did not answer GET" in line


def test_a_silent_server_is_bounded_by_the_timeout_without_retries(tmp_path: Path) -> None:
    with RawServer(silent) as server:
        started = time.monotonic()
        line = assert_clean_error(*run_cli(tmp_path, server.url, "--timeout", "2"))
        assert time.monotonic() - started < 20
    assert "within 2 s (--timeout)" in line
    assert len(server.requests) == 1


def test_a_refused_port_fails_fast_naming_the_host(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    line = assert_clean_error(*run_cli(tmp_path, f"http://127.0.0.1:{port}"))
    assert time.monotonic() - started < 10
    assert line.startswith(f"error: could not reach LaunchDarkly at http://127.0.0.1:{port}: ")
    assert line.endswith("(not retried)")


def test_a_tls_failure_fails_fast_naming_the_host(tmp_path: Path) -> None:
    def plain_http(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with RawServer(plain_http, read_request=False) as server:
        url = f"https://127.0.0.1:{server.port}"
        started = time.monotonic()
        line = assert_clean_error(*run_cli(tmp_path, url))
        assert time.monotonic() - started < 10
    assert line.startswith(f"error: could not reach LaunchDarkly at {url}: ConnectError: ")


def test_a_redirect_is_not_followed_and_the_token_never_reaches_the_other_host(
    tmp_path: Path,
) -> None:
    with RawServer(answer("200 OK", b'{"items": []}')) as elsewhere:
        location = f"{elsewhere.url}/api/v2/integration-capabilities/big-segment-store"
        redirect = head("302 Found", {"Location": location, "Content-Length": "0"})

        def redirecting(conn: socket.socket, _request: bytes) -> None:
            conn.sendall(redirect)

        with RawServer(redirecting) as server:
            line = assert_clean_error(*run_cli(tmp_path, server.url, "--max-attempts", "1"))
    assert elsewhere.requests == []
    assert f"HTTP 302 redirect: redirects to {elsewhere.url}; redirects are not followed" in line


def test_an_html_error_page_becomes_one_short_escaped_line(tmp_path: Path) -> None:
    page = (
        b"<html><head><title>500 Internal Server Error</title></head>\r\n<body>\x1b[31m"
        + b"<p>Something broke.</p>\n" * 2_000_000  # 48 MB, over the 8 MiB cap
        + b"</body></html>"
    )
    with RawServer(answer("500 Internal Server Error", page, "text/html")) as server:
        line = assert_clean_error(*run_cli(tmp_path, server.url, "--max-attempts", "1"))
    assert "HTTP 500 (no code): <html><head><title>500 Internal Server Error" in line
    assert "\x1b" not in line
    assert "\\x1b[31m" in line
    assert len(line) < 400


def store(version: object) -> dict[str, object]:
    return {
        "_id": "s1",
        "projectKey": "payments",
        "environmentKey": "production",
        "integrationKey": "redis",
        "name": "Payments",
        "on": True,
        "tags": [],
        "version": version,
    }


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (json.dumps({"items": [store(2**63)]}).encode(), "version is not a whole number"),
        (json.dumps({"items": [store(str(10**30))]}).encode(), "version is not a whole number"),
        (json.dumps({"items": [store(2**70)]}).encode(), "an integer of 22 digits"),
        (b"[" * 100_000 + b"]" * 100_000, "nests deeper than 64 levels"),
        (b'{"items": [' * 70 + b"]}" * 70, "nests deeper than 64 levels"),
        (b'{"items": [1e999999, NaN]}', "NaN, which is not JSON"),
        (b'{"items": [' + b"9" * 5000 + b"]}", "an integer of 5000 digits"),
        (b'{"items": ["\xff\xfe"]}', "not UTF-8"),
        (b'{"items": ["\\ud800"]}', "not valid Unicode"),
        (b'{"items": {"a": 1}}', "no 'items' list"),
        (b'{"items": [42]}', "a store is not a JSON object"),
        (b"<html>oops</html>", "not JSON"),
        (b"", "not JSON"),
    ],
    ids=[
        "version-2**63",
        "version-string-10**30",
        "version-2**70",
        "deep-nesting",
        "nesting-70",
        "nan",
        "huge-int",
        "not-utf8",
        "lone-surrogate",
        "wrong-shape",
        "wrong-item",
        "html",
        "empty",
    ],
)
def test_malformed_answers_are_one_clean_error(tmp_path: Path, body: bytes, why: str) -> None:
    with RawServer(answer("200 OK", body)) as server:
        line = assert_clean_error(*run_cli(tmp_path, server.url))
    assert "HTTP 200 unexpected_response: the response body has an unexpected shape" in line
    assert why in line


ENDLESS = 100 * 1024 * 1024


def endless(conn: socket.socket, _request: bytes) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(ENDLESS)}
    conn.sendall(head("200 OK", headers) + b'{"items": [')
    block = b" " * (1024 * 1024)
    for _ in range(ENDLESS // len(block)):
        conn.sendall(block)


# The child's own peak RSS is VmHWM: ru_maxrss would also count the parent's RSS, which Linux
# carries over into the child's figure at exec.
CHILD = """
import sys
from pathlib import Path
from reconciler.cli.main import main
code = main(sys.argv[1:])
status = Path("/proc/self/status").read_text().splitlines()
print(next(line.split()[1] for line in status if line.startswith("VmHWM:")), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_huge_body_is_a_clean_error_and_memory_stays_small(tmp_path: Path) -> None:
    manifest = tmp_path / "payments.yaml"
    manifest.write_text(MANIFEST, encoding="utf-8")
    with RawServer(endless) as server:
        env = {"LAUNCHDARKLY_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": server.url}
        child = subprocess.run(
            [sys.executable, "-c", CHILD, "plan", str(manifest)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    *lines, max_rss_kib = child.stderr.splitlines()
    assert child.returncode == 1
    assert lines == [
        f"error: LaunchDarkly at {server.url} answered GET"
        " /api/v2/integration-capabilities/big-segment-store with a body larger than 8 MiB;"
        " stopped reading it"
    ]
    assert int(max_rss_kib) < 300 * 1024


def test_a_gzip_bomb_is_capped_after_decompression(tmp_path: Path) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip framing
    zeros = b"0" * (1024 * 1024)
    bomb = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()  # 200 MB
    assert len(bomb) < 1024 * 1024

    def gzipped(conn: socket.socket, _request: bytes) -> None:
        headers = {"Content-Encoding": "gzip", "Content-Length": str(len(bomb))}
        conn.sendall(head("200 OK", headers | {"Content-Type": "application/json"}) + bomb)

    with RawServer(gzipped) as server:
        line = assert_clean_error(*run_cli(tmp_path, server.url))
    assert "with a body larger than 8 MiB; stopped reading it" in line


def test_each_parallel_read_keeps_its_own_deadline(tmp_path: Path) -> None:
    """The list answers; one of the per-store reads (run in worker threads) stalls."""
    listing = json.dumps({"items": [store(1) | {"_id": f"s{i}"} for i in range(4)]}).encode()
    full = {**store(1), "config": {"host": "h", "port": "6379"}}

    def router(conn: socket.socket, request: bytes) -> None:
        target = request.split(b" ", 2)[1].decode()
        if target.endswith("/s2"):
            conn.recv(1)  # stalls until the client gives up
        elif target.endswith("/big-segment-store"):
            answer("200 OK", listing)(conn, request)
        else:
            body = json.dumps(full | {"_id": target.rsplit("/", 1)[1]}).encode()
            answer("200 OK", body)(conn, request)

    with RawServer(router) as server:
        started = time.monotonic()
        line = assert_clean_error(*run_cli(tmp_path, server.url, "--timeout", "2"))
        assert time.monotonic() - started < 20
    assert line.endswith("/payments/production/redis/s2 within 2 s (--timeout)")


def test_a_server_that_lies_about_the_length_is_a_clean_error(tmp_path: Path) -> None:
    def short(conn: socket.socket, _request: bytes) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": "1000"}
        conn.sendall(head("200 OK", headers) + b'{"items": []}')  # then hangs up

    with RawServer(short) as server:
        code, out, err = run_cli(tmp_path, server.url, "--max-attempts", "2")
    assert (code, out) == (1, "")
    warning, line = err.splitlines()  # the retry is logged, then one error line
    assert warning.startswith("WARNING reconciler.client: GET ") and "retrying in" in warning
    assert "Traceback" not in err
    assert line.startswith(f"error: could not reach LaunchDarkly at {server.url}: ")
    assert line.endswith("(after 2 attempts)")
    assert len(server.requests) == 2


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "1e9"])
def test_a_timeout_that_is_not_a_sane_number_of_seconds_is_a_usage_error(
    tmp_path: Path, value: str
) -> None:
    code, out, err = run_cli(tmp_path, "http://127.0.0.1:9", "--timeout", value)
    assert (code, out) == (1, "")
    assert "--timeout" in err and "Traceback" not in err
