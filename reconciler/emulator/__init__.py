"""A faithful, stateful LaunchDarkly emulator for the big-segment-store integration API.

A real HTTP server (werkzeug) implementing the five beta operations under
``/api/v2/integration-capabilities/big-segment-store`` as LaunchDarkly's OpenAPI contract and
``shared/launchdarkly/API-NOTES.md`` describe them, quirks included, with a side door under
``/__emulator`` for seeding and inspection, rate limiting and fault injection. Modules:
``state`` (the account; ``records`` and ``account`` hold its records and settings),
``dataplane`` (optional Redis synchronisation), ``rules`` (LaunchDarkly's body rules), ``seed``
(seed files), ``app`` (WSGI routes), ``sidedoor``, ``contract`` (OpenAPI validation),
``limits``, ``faults`` and ``server`` (``EmulatorServer``, ``run``).
"""

from __future__ import annotations

from reconciler.emulator.app import EmulatorApp
from reconciler.emulator.contract import ContractValidator, load_contract, load_spec
from reconciler.emulator.faults import FailRule, FaultConfig, FaultInjector
from reconciler.emulator.limits import Clock, FakeClock, RateLimitConfig, RateLimiter
from reconciler.emulator.rules import API_ROOT, ApiProblem
from reconciler.emulator.seed import SeedError, load_seed_file, read_seed_file, state_from_seed
from reconciler.emulator.server import EmulatorServer, run
from reconciler.emulator.state import EmulatorState, RequestRecord, Store

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
