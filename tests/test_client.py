"""Tests of the LaunchDarkly client against an in-memory fake served through MockTransport."""

from __future__ import annotations

import json
import logging
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.api.client import (
    API_PREFIX,
    DEFAULT_API_HOST,
    Client,
    ConnectionSettings,
    RetryPolicy,
    settings_from_env,
)
from reconciler.api.limits import NetLimits
from reconciler.errors import ApiError, ConfigError, ConflictError, TransportError
from reconciler.model import StoreError, StoreStatus

TOKEN = "api-0123abcd-4567-89ef-0123-456789abcdef"
PASSWORD = "hunter2-very-secret"
HOST = "https://ld.example.com"
SLOT = ("payments", "production", "redis")
ADDRESS = "payments/production/redis"
NOW = 1_700_000_000.0


# -- fakes ----------------------------------------------------------------------------------------


class ZeroRng(random.Random):
    """No jitter: makes waits exact."""

    def random(self) -> float:
        return 0.0


@dataclass
class FakeTime:
    now: float = NOW
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Fault:
    """Answer one request of ``method`` with ``status`` (or raise ``exc``); with ``after``,
    the fake applies the request first, as a server that fails after committing would."""

    method: str
    status: int = 500
    exc: Exception | None = None
    after: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    text: str | None = None

    def respond(self, request: httpx.Request) -> httpx.Response:
        if self.exc is not None:
            raise self.exc
        if self.text is not None:
            return httpx.Response(self.status, headers=self.headers, text=self.text)
        body = self.body if self.body is not None else {"code": "boom", "message": "it broke"}
        return httpx.Response(self.status, headers=self.headers, json=body)


class FakeLD:
    """A small stateful stand-in for the five endpoints, with scripted faults."""

    def __init__(self) -> None:
        self.stores: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.faults: list[Fault] = []
        self._next = 0
        self._lock = threading.Lock()

    def add(self, project: str, env: str, key: str, name: str, **extra: Any) -> dict[str, Any]:
        self._next += 1
        store: dict[str, Any] = {
            "_links": {"self": {"href": "x"}},
            "_id": f"{self._next:024x}",
            "projectKey": project,
            "environmentKey": env,
            "integrationKey": key,
            "name": name,
            "on": False,
            "tags": [],
            "version": 1,
            "config": {"host": "redis.internal", "password": "hun********ret"},
            "_status": {"available": True, "potentiallyStale": False},
        }
        store.update(extra)
        self.stores[store["_id"]] = store
        return store

    def fail(self, method: str, **kwargs: Any) -> None:
        self.faults.append(Fault(method, **kwargs))

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r.method == method)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            fault = next((f for f in self.faults if f.method == request.method), None)
            if fault is not None:
                self.faults.remove(fault)
                if not fault.after:
                    return fault.respond(request)
            response = self.route(request)
            return fault.respond(request) if fault is not None else response

    def route(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.removeprefix(API_PREFIX).strip("/").split("/")
        if parts == [""]:
            items = [{k: v for k, v in s.items() if k != "config"} for s in self.stores.values()]
            return httpx.Response(200, json={"items": items, "_links": {"self": {}}})
        if len(parts) == 3 and request.method == "POST":
            body = json.loads(request.content)
            project, env, key = parts
            created = self.add(project, env, key, body.get("name", ""), on=body.get("on", False))
            created["tags"] = body.get("tags", [])
            return httpx.Response(201, json=created)
        store = self.stores.get(parts[-1])
        if store is None:
            return httpx.Response(404, json={"code": "not_found", "message": "Not found"})
        if request.method == "DELETE":
            del self.stores[parts[-1]]
            return httpx.Response(204)
        if request.method == "PATCH":
            for op in json.loads(request.content):
                if op["op"] == "test" and store["version"] != op["value"]:
                    return httpx.Response(
                        409, json={"code": "optimistic_locking_error", "message": "stale"}
                    )
                if op["op"] == "replace":
                    store[op["path"].lstrip("/")] = op["value"]
            store["version"] += 1
        return httpx.Response(200, json=store)


@pytest.fixture
def fake() -> FakeLD:
    return FakeLD()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


ClientFactory = Callable[..., Client]


@pytest.fixture
def make_client(fake: FakeLD, clock: FakeTime) -> ClientFactory:
    def make(**kwargs: Any) -> Client:
        kwargs.setdefault("rng", ZeroRng())
        return Client(
            ConnectionSettings(api_host=HOST, token=TOKEN),
            transport=httpx.MockTransport(fake),
            sleep=clock.sleep,
            clock=clock.clock,
            **kwargs,
        )

    return make


@pytest.fixture
def client(make_client: ClientFactory) -> Client:
    return make_client()


# -- settings -------------------------------------------------------------------------------------


def test_settings_prefer_launchdarkly_access_token_and_default_host() -> None:
    env = {"LAUNCHDARKLY_ACCESS_TOKEN": "a", "LD_ACCESS_TOKEN": "b"}
    assert settings_from_env(env) == ConnectionSettings(DEFAULT_API_HOST, "a")


def test_settings_fall_back_to_ld_access_token() -> None:
    env = {"LAUNCHDARKLY_ACCESS_TOKEN": "", "LD_ACCESS_TOKEN": "b"}
    assert settings_from_env(env).token == "b"


@pytest.mark.parametrize("env", [{}, {"LAUNCHDARKLY_ACCESS_TOKEN": "  "}])
def test_settings_without_a_token_are_a_config_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="no LaunchDarkly access token: set LAUNCHDARKLY_ACCESS"):
        settings_from_env(env)


@pytest.mark.parametrize("token", ["api-1 2", "api-é", "api-1\x00"])
def test_settings_refuse_a_token_no_header_could_carry(token: str) -> None:
    with pytest.raises(ConfigError, match="whitespace or non-ASCII") as info:
        settings_from_env({"LD_ACCESS_TOKEN": token})
    assert token not in str(info.value)


def test_settings_host_argument_beats_environment() -> None:
    env = {"LD_ACCESS_TOKEN": TOKEN, "LAUNCHDARKLY_API_HOST": "https://env.example.com/"}
    assert settings_from_env(env).api_host == "https://env.example.com"
    assert settings_from_env(env, api_host="https://arg.example.com").api_host == (
        "https://arg.example.com"
    )


@pytest.mark.parametrize(
    "host", ["http://127.0.0.1:8080", "http://127.3.2.1", "http://[::1]:9000", "http://localhost"]
)
def test_settings_accept_plain_http_on_loopback(host: str) -> None:
    assert settings_from_env({"LD_ACCESS_TOKEN": TOKEN}, api_host=host + "/").api_host == host


@pytest.mark.parametrize(
    "host", ["http://app.launchdarkly.com", "http://10.0.0.1", "ftp://x", "app.launchdarkly.com"]
)
def test_settings_refuse_plain_http_elsewhere_and_non_urls(host: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_env({"LD_ACCESS_TOKEN": TOKEN}, api_host=host)
    assert TOKEN not in str(info.value)


def test_settings_accept_https_and_hide_the_token_in_repr() -> None:
    settings = settings_from_env(
        {"LD_ACCESS_TOKEN": TOKEN}, api_host="https://app.eu.launchdarkly.com"
    )
    assert settings.api_host == "https://app.eu.launchdarkly.com"
    assert TOKEN not in repr(settings)


# -- requests and parsing -------------------------------------------------------------------------


def test_every_request_has_one_beta_header_and_the_raw_token(client: Client, fake: FakeLD) -> None:
    store = fake.add(*SLOT, "a")
    client.list_stores()
    client.get_store(*SLOT, store["_id"])
    created = client.create_store(*SLOT, {"name": "b", "config": {}}, address=ADDRESS, known_ids=())
    patch = [
        {"op": "test", "path": "/version", "value": 1},
        {"op": "replace", "path": "/on", "value": True},
    ]
    client.patch_store(*SLOT, store["_id"], patch, address=ADDRESS)
    client.delete_store(*SLOT, created.id, address=ADDRESS)
    assert len(fake.requests) == 5
    for request in fake.requests:
        assert request.headers.get_list("LD-API-Version") == ["beta"]
        assert request.headers.get_list("Authorization") == [TOKEN]
        assert request.headers["Accept"] == "application/json"
        if request.method in ("POST", "PATCH"):
            assert request.headers["Content-Type"] == "application/json"
    assert client.request_count == 5
    assert client.retry_count == 0


def test_list_and_get_parse_string_timestamps_and_missing_status_fields(
    client: Client, fake: FakeLD
) -> None:
    errors = [{"statusCode": "503", "message": "down", "timestamp": "1717263000000"}, {}]
    status = {"lastSync": "1717263000000", "lastError": 1717263000001, "errors": errors}
    full = fake.add(*SLOT, "full", tags=["a", "b"], _status=status)
    bare = fake.add("p", "e", "dynamodb", "bare")
    del bare["_status"], bare["tags"]

    listed = {s.name: s for s in client.list_stores()}
    assert listed["full"].config is None
    assert listed["full"].tags == ("a", "b")
    assert listed["full"].status == StoreStatus(
        available=None,
        potentially_stale=None,
        last_sync=1717263000000,
        last_error=1717263000001,
        errors=(StoreError(503, "down", 1717263000000), StoreError(None, "", None)),
    )
    assert listed["bare"].status == StoreStatus()
    assert listed["bare"].tags == ()
    got = client.get_store(*SLOT, full["_id"], address=ADDRESS)
    assert got.config == {"host": "redis.internal", "password": "hun********ret"}
    assert (got.id, got.slot, got.version) == (full["_id"], SLOT, 1)


def test_a_malformed_success_body_is_an_api_error(client: Client, fake: FakeLD) -> None:
    fake.fail("GET", status=200, body={"items": [{"name": "no id"}]})
    with pytest.raises(ApiError, match="unexpected shape: a store lacks _id"):
        client.list_stores()


# -- retries --------------------------------------------------------------------------------------


def test_429_waits_for_retry_after(client: Client, fake: FakeLD, clock: FakeTime) -> None:
    fake.fail("GET", status=429, headers={"Retry-After": "1.5"})
    assert client.list_stores() == []
    assert clock.sleeps == [1.5]
    assert (client.request_count, client.retry_count) == (2, 1)


def test_429_waits_until_ratelimit_reset(client: Client, fake: FakeLD, clock: FakeTime) -> None:
    fake.fail("GET", status=429, headers={"X-Ratelimit-Reset": str(int((NOW + 2.5) * 1000))})
    client.list_stores()
    assert clock.sleeps == [pytest.approx(2.5)]


@pytest.mark.parametrize(
    ("reset", "wait"),
    [(NOW - 3, 3.0), (NOW + 0.001, 0.05), (NOW + 10_000, 60.0), (NOW / 1000, 60.0)],
)
def test_429_reset_in_the_past_or_absurd_is_clamped(
    client: Client, fake: FakeLD, clock: FakeTime, reset: float, wait: float
) -> None:
    fake.fail("GET", status=429, headers={"X-Ratelimit-Reset": str(int(reset * 1000))})
    client.list_stores()
    assert clock.sleeps == [pytest.approx(wait)]


def test_5xx_backoff_is_exponential_capped_and_jittered(
    make_client: ClientFactory, fake: FakeLD, clock: FakeTime
) -> None:
    for status in (500, 502, 503, 504, 500):
        fake.fail("GET", status=status)
    policy = RetryPolicy(max_attempts=6, base_delay=0.2, max_delay=1.0, jitter=0.1)
    client = make_client(retry=policy, rng=random.Random(7))
    client.list_stores()
    bases = [0.2, 0.4, 0.8, 1.0, 1.0]
    assert len(clock.sleeps) == len(bases)
    for slept, base in zip(clock.sleeps, bases, strict=True):
        assert base <= slept <= base * 1.1
    assert clock.sleeps != bases  # jitter was added


def test_gives_up_after_max_attempts_with_the_last_api_error(
    make_client: ClientFactory, fake: FakeLD
) -> None:
    store = fake.add(*SLOT, "a")
    for _ in range(3):
        fake.fail("GET", status=503, body={"code": "service_unavailable", "message": "try later"})
    client = make_client(retry=RetryPolicy(max_attempts=3))
    with pytest.raises(ApiError) as info:
        client.get_store(*SLOT, store["_id"], address=ADDRESS)
    error = info.value
    assert (error.status, error.code, error.api_message, error.address) == (
        503,
        "service_unavailable",
        "try later",
        ADDRESS,
    )
    assert str(error) == (
        f"{ADDRESS}: LaunchDarkly answered GET {API_PREFIX}/payments/production/redis/"
        f"{store['_id']} with HTTP 503 service_unavailable: try later"
    )
    assert (client.request_count, client.retry_count) == (3, 2)


def test_dropped_connections_are_retried(client: Client, fake: FakeLD, clock: FakeTime) -> None:
    fake.fail("GET", exc=httpx.RemoteProtocolError("server disconnected"))
    fake.fail("GET", exc=httpx.ReadError("connection reset"))
    assert client.list_stores() == []
    assert clock.sleeps == [0.2, 0.4]


def test_dropped_connections_end_in_a_transport_error(
    make_client: ClientFactory, fake: FakeLD
) -> None:
    for _ in range(3):
        fake.fail("GET", exc=httpx.ReadError("connection reset"))
    client = make_client(retry=RetryPolicy(max_attempts=3))
    with pytest.raises(TransportError) as info:
        client.list_stores()
    assert str(info.value) == (
        f"could not reach LaunchDarkly at {HOST}: ReadError: connection reset (after 3 attempts)"
    )
    assert isinstance(info.value.__cause__, httpx.ReadError)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("[Errno 111] Connection refused"),
        httpx.ConnectError("[Errno -2] Name or service not known"),
        httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
    ],
)
def test_refused_connections_dns_and_tls_failures_are_not_retried(
    client: Client, fake: FakeLD, clock: FakeTime, exc: httpx.ConnectError
) -> None:
    fake.faults = [Fault("GET", exc=exc)] * 8
    with pytest.raises(TransportError) as info:
        client.list_stores()
    assert str(info.value) == (
        f"could not reach LaunchDarkly at {HOST}: ConnectError: {exc} (not retried)"
    )
    assert (client.request_count, clock.sleeps) == (1, [])


def test_a_timed_out_request_is_not_retried_and_names_the_deadline(
    client: Client, fake: FakeLD, clock: FakeTime
) -> None:
    fake.faults = [Fault("GET", exc=httpx.ReadTimeout("timed out"))] * 8
    with pytest.raises(TransportError) as info:
        client.list_stores()
    assert str(info.value) == (
        f"LaunchDarkly at {HOST} did not answer GET {API_PREFIX} within 30 s (--timeout)"
    )
    assert (client.request_count, clock.sleeps) == (1, [])


def test_the_retry_sequence_stops_when_its_budget_is_spent(
    make_client: ClientFactory, fake: FakeLD, clock: FakeTime
) -> None:
    fake.faults = [Fault("GET", status=503)] * 20
    client = make_client(
        retry=RetryPolicy(max_attempts=20, base_delay=4.0, max_delay=4.0),
        limits=NetLimits(timeout=1.0, retry_budget=10.0),
    )
    with pytest.raises(ApiError) as info:
        client.list_stores()
    assert info.value.status == 503
    assert clock.sleeps == [4.0, 4.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_other_4xx_are_not_retried(client: Client, fake: FakeLD, status: int) -> None:
    fake.fail("GET", status=status, body={"code": "nope", "message": "no"})
    with pytest.raises(ApiError) as info:
        client.get_store(*SLOT, "abc", address=ADDRESS)
    assert info.value.status == status
    assert isinstance(info.value, ConflictError) == (status == 409)
    assert client.request_count == 1


def test_a_non_json_error_body_becomes_the_message(
    make_client: ClientFactory, fake: FakeLD
) -> None:
    fake.fail("GET", status=502, text="<html>\n  Bad gateway " + "x" * 300)
    with pytest.raises(ApiError) as info:
        make_client(retry=RetryPolicy(max_attempts=1)).list_stores()
    assert info.value.code == ""
    assert info.value.api_message.startswith("<html> Bad gateway xxx")
    assert len(info.value.api_message) == 200


# -- deletes --------------------------------------------------------------------------------------


def test_delete_of_a_missing_store_succeeds(client: Client, fake: FakeLD) -> None:
    client.delete_store(*SLOT, "gone", address=ADDRESS)
    assert fake.count("DELETE") == 1


def test_delete_retried_after_an_applied_attempt_succeeds(client: Client, fake: FakeLD) -> None:
    store = fake.add(*SLOT, "a")
    fake.fail("DELETE", status=502, after=True)
    client.delete_store(*SLOT, store["_id"], address=ADDRESS)
    assert fake.stores == {}
    assert fake.count("DELETE") == 2


# -- ambiguous creates ----------------------------------------------------------------------------

BODY = {"name": "Payments", "on": True, "config": {"host": "h", "password": PASSWORD}}


def test_ambiguous_create_adopts_the_store_the_failed_call_made(
    client: Client, fake: FakeLD
) -> None:
    fake.fail("POST", status=502, after=True)
    store = client.create_store(*SLOT, BODY, address=ADDRESS, known_ids=())
    assert fake.count("POST") == 1
    assert list(fake.stores) == [store.id]
    assert store.config is not None  # fetched by id, not taken from the list


def test_ambiguous_create_after_a_dropped_connection_adopts_too(
    client: Client, fake: FakeLD
) -> None:
    fake.fail("POST", exc=httpx.RemoteProtocolError("server disconnected"), after=True)
    store = client.create_store(*SLOT, BODY, address=ADDRESS, known_ids=())
    assert fake.count("POST") == 1
    assert list(fake.stores) == [store.id]


def test_ambiguous_create_posts_again_when_nothing_was_made(client: Client, fake: FakeLD) -> None:
    fake.fail("POST", status=503)
    store = client.create_store(*SLOT, BODY, address=ADDRESS, known_ids=())
    assert fake.count("POST") == 2
    assert list(fake.stores) == [store.id]


def test_known_ids_prevent_adopting_a_pre_existing_store(client: Client, fake: FakeLD) -> None:
    old = fake.add(*SLOT, "Payments")
    other_env = fake.add("payments", "staging", "redis", "Payments")
    fake.fail("POST", status=503)
    store = client.create_store(
        *SLOT, BODY, address=ADDRESS, known_ids={old["_id"], other_env["_id"]}
    )
    assert fake.count("POST") == 2
    assert store.id not in (old["_id"], other_env["_id"])
    assert len(fake.stores) == 3


def test_rate_limited_create_is_retried_without_listing(client: Client, fake: FakeLD) -> None:
    fake.fail("POST", status=429, headers={"Retry-After": "1"})
    client.create_store(*SLOT, BODY, address=ADDRESS, known_ids=())
    assert fake.count("GET") == 0  # a 429 was not applied: no list before the retry
    assert fake.count("POST") == 2


# -- ambiguous patches ----------------------------------------------------------------------------


def version_patch(version: int, **values: object) -> list[dict[str, object]]:
    ops: list[dict[str, object]] = [{"op": "test", "path": "/version", "value": version}]
    return ops + [{"op": "replace", "path": f"/{k}", "value": v} for k, v in values.items()]


def test_patch_409_after_an_applied_ambiguous_attempt_is_success(
    client: Client, fake: FakeLD
) -> None:
    store = fake.add(*SLOT, "old", version=4)
    fake.fail("PATCH", status=502, after=True)
    patch = version_patch(4, name="new", on=True, tags=["b", "a"], config={"password": PASSWORD})
    result = client.patch_store(*SLOT, store["_id"], patch, address=ADDRESS)
    assert (result.name, result.on, result.tags, result.version) == ("new", True, ("b", "a"), 5)
    assert fake.count("PATCH") == 2


def test_patch_409_after_ambiguity_but_someone_elses_change_is_a_conflict(
    client: Client, fake: FakeLD
) -> None:
    store = fake.add(*SLOT, "old", version=4)
    fake.fail("PATCH", status=502)
    fake.stores[store["_id"]].update(version=5, name="theirs")
    with pytest.raises(ConflictError) as info:
        client.patch_store(*SLOT, store["_id"], version_patch(4, name="new"), address=ADDRESS)
    assert info.value.code == "optimistic_locking_error"


def test_plain_patch_409_is_a_conflict_without_rereading(client: Client, fake: FakeLD) -> None:
    store = fake.add(*SLOT, "old", version=5)
    with pytest.raises(ConflictError, match=f"^{ADDRESS}: .* HTTP 409"):
        client.patch_store(*SLOT, store["_id"], version_patch(4, name="new"), address=ADDRESS)
    assert [r.method for r in fake.requests] == ["PATCH"]


# -- pacing ---------------------------------------------------------------------------------------


class Limited:
    """``fake`` behind a fixed-window route limit that it reports, as LaunchDarkly does."""

    def __init__(self, fake: FakeLD, time: FakeTime, *, limit: int, window: float = 1.0) -> None:
        self.fake, self.time, self.limit, self.window = fake, time, limit, window
        self.index, self.used, self.rejected = -1, 0, 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        index = math.floor(self.time.now / self.window)
        if index != self.index:
            self.index, self.used = index, 0
        reset = str(round((index + 1) * self.window * 1000))
        if self.used >= self.limit:
            self.rejected += 1
            headers = {"X-Ratelimit-Route-Remaining": "0", "X-Ratelimit-Reset": reset}
            body = {"code": "rate_limited", "message": "slow down"}
            return httpx.Response(429, headers=headers, json=body)
        self.used += 1
        response = self.fake(request)
        response.headers["X-Ratelimit-Route-Remaining"] = str(self.limit - self.used)
        response.headers["X-Ratelimit-Reset"] = reset
        return response


def limited_client(fake: FakeLD, clock: FakeTime, limit: int, *, pacing: bool) -> Client:
    return Client(
        ConnectionSettings(api_host=HOST, token=TOKEN),
        transport=httpx.MockTransport(Limited(fake, clock, limit=limit)),
        sleep=clock.sleep,
        clock=clock.clock,
        rng=ZeroRng(),
        pacing=pacing,
    )


def test_the_client_paces_before_the_budget_runs_out(fake: FakeLD, clock: FakeTime) -> None:
    sent_before_sleeping = []
    sleep = clock.sleep

    def recording_sleep(seconds: float) -> None:
        sent_before_sleeping.append(len(fake.requests))
        sleep(seconds)

    clock.sleep = recording_sleep  # type: ignore[method-assign]
    client = limited_client(fake, clock, 5, pacing=True)
    for _ in range(12):
        client.list_stores()
    assert (client.request_count, client.retry_count) == (12, 0)  # not one 429
    assert sent_before_sleeping[0] < 5  # it slowed down while budget was left
    # 4 left for the second, spread evenly; the wait is looked at again just before the slot
    assert sum(clock.sleeps[:2]) == pytest.approx(1 / 4)


def test_without_pacing_the_client_only_reacts_to_429s(fake: FakeLD, clock: FakeTime) -> None:
    client = limited_client(fake, clock, 5, pacing=False)
    for _ in range(12):
        client.list_stores()
    assert client.retry_count > 0
    assert len(clock.sleeps) == client.retry_count  # every wait was after a 429
    assert client.request_count == 12 + client.retry_count


# -- secrets --------------------------------------------------------------------------------------

ECHO = {"code": "invalid_request", "message": f"bad token {TOKEN} or password {PASSWORD}"}


@pytest.mark.parametrize(
    "fault",
    [
        Fault("POST", status=400, body=ECHO),
        Fault("POST", status=400, text=f"Authorization: {TOKEN} password={PASSWORD}"),
        Fault("POST", status=500, body=ECHO),
        Fault("POST", exc=httpx.ConnectError(f"refused for {TOKEN}")),
        Fault("POST", status=429, body=ECHO),
    ],
)
def test_token_and_body_never_appear_in_errors_or_logs(
    make_client: ClientFactory,
    fake: FakeLD,
    caplog: pytest.LogCaptureFixture,
    fault: Fault,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.faults = [fault] * 3
    client = make_client(retry=RetryPolicy(max_attempts=2))
    with pytest.raises((ApiError, TransportError)) as info:
        client.create_store(*SLOT, BODY, address=ADDRESS, known_ids=())
    text = f"{info.value}\n{info.value!r}\n{caplog.text}"
    for secret in (TOKEN, PASSWORD):
        assert secret not in text
    assert "(redacted)" in text or isinstance(info.value, ApiError)


def test_clients_are_safe_to_share_between_threads(client: Client, fake: FakeLD) -> None:
    fake.add(*SLOT, "a")
    results: list[int] = []

    def work() -> None:
        for _ in range(10):
            results.append(len(client.list_stores()))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [1] * 80
    assert client.request_count == 80


def test_client_closes_as_a_context_manager(make_client: ClientFactory) -> None:
    with make_client() as client:
        client.list_stores()
    with pytest.raises(RuntimeError):
        client.list_stores()
