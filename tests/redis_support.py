"""Real ``redis-server`` processes for tests, on 127.0.0.1 only.

``RedisServer`` starts ``redis-server`` on a free loopback port with no persistence, a
``requirepass`` (``ROOT_PASSWORD``) for the default user and an ACL user
(``ACL_USER``/``ACL_PASSWORD``) allowed everything, and stops it again.

Fixtures (import ``redis_server_fixture, redis_clean_fixture`` into a test module to use them):
``redis_server`` is module-scoped; ``redis_clean`` is the same server, flushed before the test.
Both skip the test when ``redis-server`` is not on PATH (CI installs it with
``apt-get install redis-server``). ``free_port()`` gives a loopback port nothing listens on.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
import redis

ROOT_PASSWORD = "root-pass-7f3a9c"
ACL_USER = "launchdarkly"
ACL_PASSWORD = "acl-pass-51be02"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        pytest.skip("redis-server is not on PATH (install it: apt-get install redis-server)")
    return path


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 (``start()``/``stop()``)."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="redis-test-")

    def start(self) -> RedisServer:
        last_error = ""
        for _attempt in range(3):  # the free port may be taken between probe and bind
            self.port = free_port()
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    LOOPBACK,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self._dir.name,
                    "--requirepass",
                    ROOT_PASSWORD,
                    "--user",
                    ACL_USER,
                    "on",
                    f">{ACL_PASSWORD}",
                    "~*",
                    "&*",
                    "+@all",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            last_error = self._wait_ready()
            if not last_error:
                return self
            self.stop()
        raise RuntimeError(f"redis-server did not start: {last_error}")

    def _wait_ready(self, deadline_s: float = 10.0) -> str:
        """Poll until the server answers PING ("" when ready, else why not)."""
        assert self._proc is not None
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                out = self._proc.stdout.read().decode(errors="replace") if self._proc.stdout else ""
                return f"exited with {self._proc.returncode}: {out[-500:]}"
            try:
                if self.admin().ping():
                    return ""
            except redis.RedisError:
                time.sleep(0.01)  # startup poll only; no test timing depends on it
        return "no answer to PING"

    def admin(self) -> redis.Redis:
        """A client authenticated as the default user."""
        return redis.Redis(
            host=LOOPBACK, port=self.port, password=ROOT_PASSWORD, socket_timeout=2, protocol=2
        )

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            if self._proc.stdout is not None:
                self._proc.stdout.close()
            self._proc = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()


@pytest.fixture(scope="module", name="redis_server")
def redis_server_fixture() -> Iterator[RedisServer]:
    server = RedisServer(redis_server_binary()).start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(name="redis_clean")
def redis_clean_fixture(redis_server: RedisServer) -> RedisServer:
    """The module's server, emptied."""
    client = redis_server.admin()
    client.flushall()
    client.close()
    return redis_server
