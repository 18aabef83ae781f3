"""`make demo`: the real job against the bundled LaunchDarkly emulator.

Starts the emulator on a free loopback port, seeded with a small account (examples/demo-seed.yaml:
a store that drifted, a hand-made store the manifests adopt, and an unmanaged one), then runs the
real CLI as a user would: validate, plan, apply, drift, a hand edit, drift again, and a saved-plan
apply that fixes it. Exits non-zero if any step does not end as expected.
"""

from __future__ import annotations

import os
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


def main() -> None:
    with EmulatorServer(load_seed_file(HERE / "demo-seed.yaml")) as server:
        print(f"LaunchDarkly emulator listening on {server.url} (seeded from demo-seed.yaml)")
        env = {
            **os.environ,
            "LAUNCHDARKLY_ACCESS_TOKEN": "api-demo-token",
            "LAUNCHDARKLY_API_HOST": server.url,
            "REDIS_PAYMENTS_PASSWORD": "demo-payments-redis-secret",
            "REDIS_SEARCH_PASSWORD": "demo-search-redis-secret",
            "LD_EXTERNAL_ID": "2f4c6a8e-demo-external-id",
            "RECONCILER_FINGERPRINT_KEY": "demo-fingerprint-key",
        }
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
    print("\nDemo finished: the emulator is stopped.")


if __name__ == "__main__":
    main()
