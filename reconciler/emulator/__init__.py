"""A faithful, stateful LaunchDarkly emulator for the big-segment-store integration API.

A real HTTP/1.1 keep-alive server implementing the five beta operations under
``/api/v2/integration-capabilities/big-segment-store`` and the two environment reads as
LaunchDarkly's OpenAPI contract and ``shared/launchdarkly/API-NOTES.md`` describe them, quirks
included, with a side door under ``/__emulator`` for seeding and inspection, rate limiting and
fault injection. It imports nothing from the product (``tests/test_emulator_independence.py``),
so it can serve as the product's independent oracle. Modules: ``state`` (the account;
``records`` and ``account`` hold its records and settings), ``manifests`` (the integrations'
fields and the masking rule), ``dataplane`` (optional Redis synchronisation), ``rules``
(LaunchDarkly's body rules), ``environments`` (the environment reads), ``seed`` (seed files),
``app`` (WSGI routes), ``sidedoor``, ``contract`` (OpenAPI validation), ``limits``, ``faults``,
``serving`` (the HTTP server), ``server`` (``EmulatorServer``, ``run``) and ``cli`` (the
``reconciler emulator`` options). Public names are imported lazily.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.emulator.app import EmulatorApp
    from reconciler.emulator.contract import ContractValidator, load_contract, load_spec
    from reconciler.emulator.faults import FailRule, FaultConfig, FaultInjector
    from reconciler.emulator.limits import Clock, FakeClock, RateLimitConfig, RateLimiter
    from reconciler.emulator.rules import API_ROOT, ApiProblem
    from reconciler.emulator.seed import SeedError, load_seed_file, read_seed_file, state_from_seed
    from reconciler.emulator.server import EmulatorServer, run
    from reconciler.emulator.state import EmulatorState, RequestRecord, Store

_HOMES = {
    "EmulatorApp": "app",
    "ContractValidator": "contract",
    "load_contract": "contract",
    "load_spec": "contract",
    "FailRule": "faults",
    "FaultConfig": "faults",
    "FaultInjector": "faults",
    "Clock": "limits",
    "FakeClock": "limits",
    "RateLimitConfig": "limits",
    "RateLimiter": "limits",
    "API_ROOT": "rules",
    "ApiProblem": "rules",
    "SeedError": "seed",
    "load_seed_file": "seed",
    "read_seed_file": "seed",
    "state_from_seed": "seed",
    "EmulatorServer": "server",
    "run": "server",
    "EmulatorState": "state",
    "RequestRecord": "state",
    "Store": "state",
}


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``reconciler emulator --help`` and the product's
    parser (which adds the emulator's options) do not load the server and its contract."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"reconciler.emulator.{home}"), name)


__all__ = [
    "API_ROOT",
    "ApiProblem",
    "Clock",
    "ContractValidator",
    "EmulatorApp",
    "EmulatorServer",
    "EmulatorState",
    "FailRule",
    "FakeClock",
    "FaultConfig",
    "FaultInjector",
    "RateLimitConfig",
    "RateLimiter",
    "RequestRecord",
    "SeedError",
    "Store",
    "load_contract",
    "load_seed_file",
    "load_spec",
    "read_seed_file",
    "run",
    "state_from_seed",
]
