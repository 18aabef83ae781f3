"""The floor of ``benchmarks.bench_e2e``: the least work a command could do, run as a process.

``python -m benchmarks.floor parse DIR`` parses every manifest under ``DIR`` with libyaml
(``yaml.CSafeLoader``) and nothing more: the floor of ``validate``. ``python -m benchmarks.floor
fetch DIR URL`` also fetches what ``plan`` fetches (the account's store list, then each store of
the listed projects by id) over one plain keep-alive ``http.client`` connection, parsing every
body with orjson: the floor of ``plan`` and ``drift``. It prints the seconds of CPU each step
took as one JSON line; the caller measures the whole child (interpreter start included, as for
the CLI it compares with). The token comes from ``LAUNCHDARKLY_ACCESS_TOKEN``.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import orjson
import yaml

PREFIX = "/api/v2/integration-capabilities/big-segment-store"


def parse(folder: Path) -> list[object]:
    """Every manifest document under ``folder``, parsed by libyaml."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    docs: list[object] = []
    for path in sorted(folder.rglob("*.yaml")):
        docs.extend(yaml.load_all(path.read_text(encoding="utf-8"), Loader=loader))
    return docs


def fetch(url: str, token: str) -> int:
    """The list, then every listed store by id, over one keep-alive connection; requests."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    conn.connect()
    assert conn.sock is not None
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as httpx's pool does
    headers = {"Authorization": token, "LD-API-Version": "beta", "Accept": "application/json"}

    def get(path: str) -> object:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path} -> {response.status}")
        return orjson.loads(body)

    listed = get(PREFIX)
    items = listed["items"] if isinstance(listed, dict) else []
    for item in items:
        segments = (item["projectKey"], item["environmentKey"], item["integrationKey"], item["_id"])
        get("/".join([PREFIX, *(quote(str(s), safe="") for s in segments)]))
    conn.close()
    return 1 + len(items)


def main(argv: list[str]) -> int:
    what, folder = argv[0], Path(argv[1])
    steps: dict[str, float] = {}
    started = time.process_time()
    docs = parse(folder)
    steps["parse"] = time.process_time() - started
    result: dict[str, object] = {"documents": len(docs)}
    if what == "fetch":
        began = time.process_time()
        result["requests"] = fetch(argv[2], os.environ["LAUNCHDARKLY_ACCESS_TOKEN"])
        steps["fetch"] = time.process_time() - began
    print(json.dumps(result | {"cpu": steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
