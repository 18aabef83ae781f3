"""`make demo`: the real job against the bundled LaunchDarkly emulator.

Starts the emulator on a free loopback port, seeded with a small account (examples/demo-seed.yaml:
a store that drifted, a hand-made store the manifests adopt, and an unmanaged one), then runs the
real CLI as a user would: a plan refused by its preflight (a misspelt environment, with
LaunchDarkly's suggestion) and its fix, validate, plan, apply, drift, a hand edit, drift again
(and one cycle of ``watch``, showing its drift gauges), and a saved-plan
apply that fixes it. Then the data plane: with ``redis-server`` installed it starts one on
loopback, with ``moto`` installed its DynamoDB-compatible server (with LaunchDarkly's table),
declares a store for each, applies with ``--wait-healthy`` (the emulator's data plane writes
LaunchDarkly's sync marker into both) and ends with ``verify``, which reads the client-side ID
from LaunchDarkly's environment read (no ``--client-side-id``), and, beside it, the verdict of
LaunchDarkly's own server-side SDK reading the same stores (when ``ldclient`` is installed).
Whatever is missing is skipped with a plain sentence saying so. Exits non-zero if any step
does not end as expected, or if the SDK disagrees with ``verify``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.emulator import EmulatorServer, load_seed_file

HERE = Path(__file__).resolve().parent
MANIFESTS = str(HERE / "manifests")


def step(title: str, argv: list[str], env: dict[str, str], expect: int) -> None:
    print(f"\n\033[1m$ reconciler {' '.join(argv)}\033[0m   # {title}", flush=True)
    code = subprocess.call([sys.executable, "-m", "reconciler", *argv], env=env)
    if code != expect:
        raise SystemExit(f"demo: 'reconciler {argv[0]}' exited {code}, expected {expect}")
    print(f"(exit code {code})", flush=True)


def watch_once(env: dict[str, str]) -> None:
    """One ``watch`` cycle (``--cycles 1`` prints the metrics on exit); show the store gauges."""
    argv = ["watch", MANIFESTS, "--cycles", "1", "--listen", "127.0.0.1:0", "--log-format", "text"]
    print(
        f"\n\033[1m$ reconciler {' '.join(argv)}\033[0m   # one cycle of the watch loop", flush=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", *argv], env=env, stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"demo: 'reconciler watch' exited {result.returncode}, expected 0")
    wanted = (
        "reconciler_store_drift{",
        "reconciler_store_healthy{",
        "reconciler_unmanaged_stores ",
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith(wanted)]
    if not any(line.startswith("reconciler_store_drift{") for line in lines):
        raise SystemExit("demo: watch printed no reconciler_store_drift line")
    print("# the gauges it serves on /metrics:")
    print("\n".join(lines), flush=True)
    print(f"(exit code {result.returncode})", flush=True)


LOCAL_REDIS = """\
  - environment: dev
    integrationKey: redis
    name: Local Redis
    on: true
    config:
      host: 127.0.0.1
      port: {port}
      password: ${{LOCAL_REDIS_PASSWORD}}
"""
LOCAL_DYNAMODB = """\
  - environment: dev
    integrationKey: dynamodb
    name: Local DynamoDB
    on: true
    config:
      region: us-east-1
      tableName: ld-big-segments-local
      roleArn: arn:aws:iam::123456789012:role/launchdarkly-big-segments
      externalId: ${LOCAL_EXTERNAL_ID}
"""
REDIS_PASSWORD = "local-redis-demo-password"
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo"}


TYPO = """\
project: search
stores:
  - environment: stagin           # a typo: LaunchDarkly has no such environment
    integrationKey: redis
    name: Search staging
    config: {host: redis.search.internal}
"""


def preflight(env: dict[str, str]) -> None:
    """A manifest with a misspelt environment: plan refuses it (exit 1) and says what exists."""
    with tempfile.TemporaryDirectory() as tmp:
        typo = Path(tmp) / "typo.yaml"
        typo.write_text(TYPO)
        print(f"\n# A new manifest, {typo.name}, misspells an environment key...")
        step("preflight: refused, with the environments that exist", ["plan", str(typo)], env, 1)
        typo.write_text(
            TYPO.replace(
                "stagin           # a typo: LaunchDarkly has no such environment", "staging"
            )
        )
        print(f"\n# ...fixed: {typo.name} now says 'staging'.")
        step("the fixed manifest plans cleanly", ["plan", str(typo), "--target",
             "search/staging"], env, 0)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, what: str, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise SystemExit(f"demo: {what} did not start on 127.0.0.1:{port}")


def start_redis(stack: contextlib.ExitStack) -> int | None:
    """A real redis-server on loopback (its port), or ``None`` when it is not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("\n# redis-server is not installed, so the Redis part of the demo is skipped")
        print("# (apt-get install redis-server, then run make demo again).")
        return None
    port = free_port()
    redis = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--requirepass", REDIS_PASSWORD],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    stack.callback(_stop, redis)
    wait_for_port(port, "redis-server")
    return port


def start_moto(stack: contextlib.ExitStack) -> str | None:
    """moto's DynamoDB-compatible server on loopback (its URL), or ``None`` without moto."""
    if importlib.util.find_spec("moto") is None:
        print("\n# moto is not installed, so the DynamoDB part of the demo is skipped")
        print("# (pip install 'moto[server]', then run make demo again).")
        return None
    port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stack.callback(_stop, moto)
    wait_for_port(port, "moto's server")
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint,
                 aws_access_key_id="demo", aws_secret_access_key="demo").create_table(
        TableName="ld-big-segments-local",
        KeySchema=[{"AttributeName": "namespace", "KeyType": "HASH"},
                   {"AttributeName": "key", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "namespace", "AttributeType": "S"},
                              {"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )  # fmt: skip
    return endpoint


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    process.wait(timeout=10)


def data_plane(
    server: EmulatorServer, env: dict[str, str], redis_port: int | None, dynamodb: str | None
) -> None:
    """Part two: a real Redis and DynamoDB, synchronised by the emulator, checked by ``verify``
    (which finds the client-side ID itself) and by LaunchDarkly's own SDK."""
    if redis_port is None and dynamodb is None:
        return
    stores = LOCAL_REDIS.format(port=redis_port) if redis_port is not None else ""
    stores += LOCAL_DYNAMODB if dynamodb is not None else ""
    env = {**env, **FAKE_AWS, "LOCAL_REDIS_PASSWORD": REDIS_PASSWORD,
           "LOCAL_EXTERNAL_ID": "7d3e-demo-local-external-id"}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "local.yaml"
        local.write_text(f"project: local\nstores:\n{stores}")
        where = [f"redis-server on 127.0.0.1:{redis_port}"] if redis_port else []
        where += [f"moto's DynamoDB on {dynamodb}"] if dynamodb else []
        print(f"\n# Real stores: {' and '.join(where)}; {local.name} points at them.")
        step("apply, then wait until LaunchDarkly reports them available",
             ["apply", str(local), "--auto-approve", "--wait-healthy=30"], env, 0)  # fmt: skip
        verify = ["verify", str(local)] + (["--dynamodb-endpoint", dynamodb] if dynamodb else [])
        step("check the stores themselves; the client-side ID comes from LaunchDarkly",
             verify, env, 0)  # fmt: skip
    sdk_verdicts(server, redis_port, dynamodb)


def sdk_verdicts(server: EmulatorServer, redis_port: int | None, dynamodb: str | None) -> None:
    """What LaunchDarkly's server-side SDK, reading the same stores, says about them."""
    if importlib.util.find_spec("ldclient") is None:
        print("\n# launchdarkly-server-sdk is not installed, so the SDK's verdict is not shown")
        print("# (pip install launchdarkly-server-sdk, then run make demo again).")
        return
    from ldclient.integrations import DynamoDB, Redis

    prefix = server.state.client_side_id("local", "dev")
    print("\n# LaunchDarkly's server-side SDK (ldclient, default stale_after=120 s), reading"
          " the same stores:")  # fmt: skip
    stores = []
    if redis_port is not None:
        url = f"redis://:{REDIS_PASSWORD}@127.0.0.1:{redis_port}/0"
        stores.append(("local/dev/redis", Redis.new_big_segment_store(url=url, prefix=prefix)))
    if dynamodb is not None:
        options = {"endpoint_url": dynamodb, "region_name": "us-east-1",
                   "aws_access_key_id": "demo", "aws_secret_access_key": "demo"}  # fmt: skip
        store = DynamoDB.new_big_segment_store("ld-big-segments-local", prefix, options)
        stores.append(("local/dev/dynamodb", store))
    for address, store in sorted(stores, key=lambda pair: pair[0]):
        available, stale = sdk_status(store)
        verdict = "ok  " if available and not stale else "FAIL"
        print(f"{verdict} {address}: available={available}, stale={stale}")
        if verdict == "FAIL":
            raise SystemExit(f"demo: the SDK disagrees with verify about {address}")


def sdk_status(store: object) -> tuple[bool, bool]:
    """``(available, stale)`` from an offline SDK client whose only job is big segments."""
    from ldclient.client import LDClient
    from ldclient.config import BigSegmentsConfig, Config

    dead = f"http://127.0.0.1:{free_port()}"
    config = Config(sdk_key="sdk-demo-not-a-key", offline=True, base_uri=dead, stream_uri=dead,
                    events_uri=dead, send_events=False, diagnostic_opt_out=True,
                    big_segments=BigSegmentsConfig(store=store))  # fmt: skip
    client = LDClient(config=config, start_wait=0)
    try:
        status = client.big_segment_store_status_provider.status
        return bool(status.available), bool(status.stale)
    finally:
        client.close()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  [emulator] %(message)s")
    logging.getLogger("ldclient").setLevel(logging.CRITICAL)  # offline on purpose
    seed = load_seed_file(HERE / "demo-seed.yaml")
    with contextlib.ExitStack() as stack:
        redis_port, dynamodb = start_redis(stack), start_moto(stack)
        with EmulatorServer(seed, dataplane=True, sync_interval=0.5,
                            dynamodb_endpoint=dynamodb) as server:  # fmt: skip
            run(server, redis_port, dynamodb)
    print("\nDemo finished: the emulator is stopped.")


def run(server: EmulatorServer, redis_port: int | None, dynamodb: str | None) -> None:
    print(f"LaunchDarkly emulator listening on {server.url} (seeded from demo-seed.yaml)")
    env = {
        **os.environ,
        "LAUNCHDARKLY_ACCESS_TOKEN": "api-demo-token",
        "LAUNCHDARKLY_API_HOST": server.url,
        "REDIS_PAYMENTS_PASSWORD": "demo-payments-redis-secret",
        "REDIS_SEARCH_PASSWORD": "demo-search-redis-secret",
        "LD_EXTERNAL_ID": "2f4c6a8e-demo-external-id",
        "RECONCILER_FINGERPRINT_KEY": "demo-fingerprint-key",
        "RECONCILER_JOURNAL": str(Path(tempfile.gettempdir()) / "reconciler-demo.jsonl"),
    }
    preflight(env)
    step("check the manifests, no network", ["validate", MANIFESTS], env, 0)
    step("what would change", ["plan", MANIFESTS], env, 0)
    step("make it so", ["apply", MANIFESTS, "--auto-approve"], env, 0)
    step("in sync, apart from the unmanaged store", ["drift", MANIFESTS], env, 2)
    store = next(s for s in server.state.stores() if s.environment == "production"
                 and s.project == "payments")  # fmt: skip
    print("\n# Someone switches payments/production off by hand in the LaunchDarkly UI...")
    server.state.mutate_store(store.id, {"on": False})
    step("the cron job goes red", ["drift", MANIFESTS, "--format", "markdown"], env, 2)
    watch_once(env)  # reconciler_store_drift{...production...} 1.0
    with tempfile.TemporaryDirectory() as tmp:
        saved = str(Path(tmp) / "plan.json")
        step("plan on the pull request, saved", ["plan", MANIFESTS, "--out", saved], env, 0)
        applied = ["apply", "--plan", saved, "--auto-approve"]
        step("apply exactly what was reviewed", applied, env, 0)
    step("nothing left to do", ["plan", MANIFESTS, "--detailed-exitcode"], env, 0)
    data_plane(server, env, redis_port, dynamodb)


if __name__ == "__main__":
    main()
