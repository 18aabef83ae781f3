"""`make demo`: the real job against the bundled LaunchDarkly emulator.

Starts the emulator on a free loopback port, seeded with a small account (examples/demo-seed.yaml:
a store that drifted, a hand-made store the manifests adopt, and an unmanaged one), then runs the
real CLI as a user would: a plan refused by its preflight (a misspelt environment, with
LaunchDarkly's suggestion) and its fix, validate, plan, apply, drift, a hand edit, drift again,
and a saved-plan apply that fixes it. When ``redis-server`` is installed, it then starts one on
loopback, declares a store that points at it, applies with ``--wait-healthy`` (the emulator's
data plane writes LaunchDarkly's sync marker into that Redis) and ends with ``verify``; without
Redis it says so plainly. Exits non-zero if any step does not end as expected.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


LOCAL = """\
project: local
stores:
  - environment: dev
    integrationKey: redis
    name: Local Redis
    on: true
    config:
      host: 127.0.0.1
      port: {port}
      password: ${{LOCAL_REDIS_PASSWORD}}
"""


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


def data_plane(server: EmulatorServer, env: dict[str, str]) -> None:
    """Part two: a real Redis, synchronised by the emulator, checked by ``verify``."""
    binary = shutil.which("redis-server")
    if binary is None:
        print("\n# redis-server is not installed, so the data-plane part of the demo is skipped")
        print("# (apt-get install redis-server, then run make demo again).")
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    password = "local-redis-demo-password"
    redis = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--requirepass", password],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "local.yaml"
            local.write_text(LOCAL.format(port=port))
            env = {**env, "LOCAL_REDIS_PASSWORD": password}
            print(f"\n# A real redis-server on 127.0.0.1:{port}; {local.name} points at it.")
            step("apply, then wait until LaunchDarkly reports it available",
                 ["apply", str(local), "--auto-approve", "--wait-healthy=30"], env, 0)  # fmt: skip
            prefix = server.state.client_side_id("local", "dev")
            verify = ["verify", str(local), "--client-side-id", f"local/dev={prefix}"]
            step("check the store itself: reachable, authenticated, fresh sync marker",
                 verify, env, 0)  # fmt: skip
    finally:
        redis.terminate()
        redis.wait(timeout=10)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="  [emulator] %(message)s")
    seed = load_seed_file(HERE / "demo-seed.yaml")
    with EmulatorServer(seed, dataplane=True, sync_interval=0.5) as server:
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
        with tempfile.TemporaryDirectory() as tmp:
            saved = str(Path(tmp) / "plan.json")
            step("plan on the pull request, saved", ["plan", MANIFESTS, "--out", saved], env, 0)
            applied = ["apply", "--plan", saved, "--auto-approve"]
            step("apply exactly what was reviewed", applied, env, 0)
        step("nothing left to do", ["plan", MANIFESTS, "--detailed-exitcode"], env, 0)
        data_plane(server, env)
    print("\nDemo finished: the emulator is stopped.")


if __name__ == "__main__":
    main()
