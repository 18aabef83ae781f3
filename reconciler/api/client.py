"""The LaunchDarkly API client (with ``reconciler.api.transport``, all that imports httpx).

Every request carries the raw token and one ``LD-API-Version`` (``beta``; ``20240415`` for the
environment reads), is held to ``NetLimits`` (``transport.exchange``), retried as
``reconciler.api.retry`` decides (refused, DNS, TLS and timeouts fail fast), paced by
``reconciler.api.pacing``; answers become ``LiveStore`` values, failures
``ApiError``/``ConflictError``/``TransportError``. Neither the token nor request bodies ever
reach an exception or a log line (``reconciler.api.redact``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from reconciler import __version__
from reconciler.api.attempt import Answer, Unanswered, error_details, open_wire, unreachable
from reconciler.api.limits import DEFAULT_LIMITS, NetLimits, decode_json
from reconciler.api.pacing import Pacer
from reconciler.api.redact import REDACTED, redact, request_secrets
from reconciler.api.retry import (
    DEFAULT_RETRY,
    MIN_RATE_LIMIT_WAIT,
    RETRYABLE_STATUSES,
    RetryPolicy,
    backoff,
    create_made,
    patch_already_applied,
    rate_limit_wait,
)
from reconciler.api.routes import (
    API_PREFIX,
    PATH_PARAMS,
    ApiRequest,
    ResponseObserver,
    request_headers,
    store_path,
)
from reconciler.api.settings import (
    DEFAULT_API_HOST,
    HOST_VAR,
    TOKEN_VARS,
    ConnectionSettings,
    normalise_api_host,
    settings_from_env,
)
from reconciler.api.wire import Malformed, parse_full, parse_list
from reconciler.errors import ApiError, ConflictError, PlanError, TransportError
from reconciler.model import LiveStore

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_PREFIX",
    "DEFAULT_API_HOST",
    "DEFAULT_RETRY",
    "DEFAULT_USER_AGENT",
    "HOST_VAR",
    "MIN_RATE_LIMIT_WAIT",
    "PATH_PARAMS",
    "REDACTED",
    "RETRYABLE_STATUSES",
    "TOKEN_VARS",
    "Client",
    "ConnectionSettings",
    "RetryPolicy",
    "normalise_api_host",
    "settings_from_env",
]

DEFAULT_USER_AGENT = f"reconciler/{__version__}"

log = logging.getLogger("reconciler.client")
T = TypeVar("T")
Body = Mapping[str, object]


class _Adopted(Exception):
    """Ends the retry loop of an ambiguous create with the store it had in fact created."""

    def __init__(self, store: LiveStore) -> None:
        super().__init__(store.id)
        self.store = store


class Client:
    """A thread-safe client for the five big-segment-store endpoints.

    GET is retried freely. DELETE is retried, and 404 counts as success (already gone).

    POST (create) is not idempotent: after an attempt fails with a 5xx or a transport error the
    store may or may not exist, so before retrying the client lists the stores and adopts one in
    the same project/environment/integration with the requested ``name`` and tags whose id is
    not in ``known_ids`` (the ids that existed before). Only when there is none does it POST again.

    PATCH is retried as-is. If an earlier attempt was in fact applied, the retry's
    ``test /version`` op fails with 409; after such an ambiguous failure the client re-reads the
    store and returns it as success when its version is exactly the tested version + 1 and the
    patch's ``name``/``on``/``tags`` values are reflected (``config`` is masked on read, so for
    it the version step is the only evidence). Otherwise the 409 is a ``ConflictError``.

    With ``pacing`` (the default) every request first waits for its slot from a shared ``Pacer``,
    which learns the rate-limit budgets from every response; without it, only 429s slow it down.
    Idle connections are kept for any thread's next request (``reconciler.api.keepalive``);
    behind a proxy or with a ``transport``, ``connections`` is how many idle ones httpx's pool
    keeps: the CLI passes its ``--parallelism``. ``observer`` (e.g. metrics) hears of every
    attempt's route and status.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        pacing: bool = True,
        connections: int = 16,
        limits: NetLimits = DEFAULT_LIMITS,
        observer: ResponseObserver = lambda route, code, headers: None,
    ) -> None:
        self._host = settings.api_host
        self._limits = limits
        self._observer = observer
        self._token = settings.token
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._pacer = Pacer(clock=clock, sleep=sleep, enabled=pacing)
        self._lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        headers = {"Authorization": settings.token}
        headers |= {"Accept": "application/json", "User-Agent": user_agent}
        # Kept-alive connections any thread reuses; behind a proxy or with a ``transport``, an
        # httpx.Client whose pool keeps one idle connection per worker (``connections``).
        self._http = open_wire(settings.api_host, headers, limits, transport, connections)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        with self._lock:
            return self._requests

    @property
    def retry_count(self) -> int:
        """Retries (a wait, then another attempt) so far."""
        with self._lock:
            return self._retries

    def list_stores(self) -> list[LiveStore]:
        """Every store of the account (``config`` is ``None`` when the list omits it)."""
        req = ApiRequest("GET", API_PREFIX, None)
        return self._parse(req, self._call(req)[0], parse_list)

    def read(self, path: str, parse: Callable[[object], T], *, version: str) -> T:
        """GET ``path`` outside the store API with ``LD-API-Version: version`` (its rate-limit
        route is ``routes.route_of``); the checked JSON body, parsed."""
        req = ApiRequest("GET", path, None, version=version)
        return self._parse(req, self._call(req)[0], parse)

    def get_store(
        self,
        project: str,
        environment: str,
        integration_key: str,
        store_id: str,
        *,
        address: str | None = None,
    ) -> LiveStore:
        """One store by id, with its (masked) ``config``."""
        where = address or f"{project}/{environment}/{integration_key}"
        req = ApiRequest("GET", store_path(project, environment, integration_key, store_id), where)
        return self._parse(req, self._call(req)[0], parse_full)

    def create_store(
        self,
        project: str,
        environment: str,
        integration_key: str,
        body: Mapping[str, object],
        *,
        address: str,
        known_ids: Collection[str],
        secrets: Collection[str] = (),
    ) -> LiveStore:
        """Create a store; see the class docstring for how an ambiguous failure is resolved.
        ``secrets``: more values error text must never show (besides secret-looking keys)."""
        path = store_path(project, environment, integration_key)
        req = ApiRequest("POST", path, address, dict(body), (*request_secrets(body), *secrets))
        known = frozenset(known_ids)

        def adopt_if_created() -> None:
            found = self._find_created(project, environment, integration_key, body, known, address)
            if found is not None:
                raise _Adopted(found)

        try:
            response, _ = self._call(req, before_retry=adopt_if_created)
        except _Adopted as adopted:
            log.warning("%s: the failed create made store %s; adopting it", address, adopted)
            return adopted.store
        return self._parse(req, response, parse_full)

    def patch_store(
        self,
        project: str,
        environment: str,
        integration_key: str,
        store_id: str,
        patch: Sequence[Mapping[str, object]],
        *,
        address: str,
        secrets: Collection[str] = (),
    ) -> LiveStore:
        """Apply a JSON Patch; see the class docstring for how a retried PATCH is resolved.
        ``secrets``: more values error text must never show (besides secret-looking keys)."""
        path = store_path(project, environment, integration_key, store_id)
        body = [dict(op) for op in patch]
        req = ApiRequest("PATCH", path, address, body, (*request_secrets(body), *secrets))
        response, ambiguous = self._call(req)
        if response.status_code == 409 and ambiguous:
            live = self.get_store(project, environment, integration_key, store_id, address=address)
            if patch_already_applied(live, patch):
                log.info("%s: an earlier PATCH attempt was applied; 409 on retry is ok", address)
                return live
        return self._parse(req, response, parse_full)

    def delete_store(
        self,
        project: str,
        environment: str,
        integration_key: str,
        store_id: str,
        *,
        address: str,
    ) -> None:
        """Delete a store; one that is already gone (404) counts as deleted."""
        req = ApiRequest(
            "DELETE", store_path(project, environment, integration_key, store_id), address
        )
        response, _ = self._call(req)
        if response.status_code == 404:
            log.debug("%s: DELETE %s -> 404, already gone", address, req.path)
            return
        self._check(req, response)

    def _call(
        self, req: ApiRequest, *, before_retry: Callable[[], None] | None = None
    ) -> tuple[Answer, bool]:
        """Send with retries. Returns the final answer (any status but a retried one) and
        whether some attempt failed in a way that may have been applied (5xx, transport).
        Refused connections, DNS and TLS failures, timeouts and oversized bodies are not
        retried; no retry starts once the sequence would outlast ``NetLimits.retry_budget``."""
        body = req.body
        content = None if body is None else json.dumps(body).encode()
        headers = request_headers(req.version, body is not None)
        method, path, route = req.method, req.path, req.route
        limit, debug = max(1, self._retry.max_attempts), log.isEnabledFor(logging.DEBUG)
        budget = max(self._limits.retry_budget, self._limits.timeout)
        ambiguous, attempt, started = False, 0, self._clock()
        while True:
            attempt += 1
            with self._lock:
                self._requests += 1
            try:
                response = self._send(req, route, content, headers)
            except Unanswered as exc:
                reason = self._redact(exc.description, req.secrets)
                if not exc.transport:
                    raise TransportError(
                        f"request to LaunchDarkly at {self._host} failed: {reason}"
                    ) from exc.__cause__
                out_of_time = self._clock() - started >= budget
                if attempt >= limit or out_of_time or exc.fails_fast:
                    where = (self._host, req.method, req.path, self._limits.timeout)
                    raise unreachable(exc, *where, reason, attempt) from exc.__cause__
                delay, failed_ambiguously = self._backoff(attempt), True
                log.warning("%s %s failed (%s); retrying in %.2f s", method, path, reason, delay)
            else:
                status = response.status_code
                if debug:
                    log.debug("%s %s -> %d (attempt %d)", method, path, status, attempt)
                if attempt >= limit or (status != 429 and status not in RETRYABLE_STATUSES):
                    return response, ambiguous
                if status == 429:
                    delay, failed_ambiguously = self._rate_limit_wait(response, attempt), False
                else:
                    delay, failed_ambiguously = self._backoff(attempt), True
                if self._clock() - started + delay > budget:
                    log.warning("%s %s -> %d; retry budget spent", method, path, status)
                    return response, ambiguous
                if status == 429:
                    self._pacer.on_rate_limited(route, self._clock() + delay)
                    log.info("rate limited on %s %s; waiting %.2f s", method, path, delay)
                else:
                    log.warning("%s %s -> %d; retrying in %.2f s", method, path, status, delay)
            ambiguous = ambiguous or failed_ambiguously
            with self._lock:
                self._retries += 1
            self._sleep(delay)
            if failed_ambiguously and before_retry is not None:
                before_retry()

    def _send(
        self, req: ApiRequest, route: str, content: bytes | None, headers: Mapping[str, str]
    ) -> Answer:
        """One HTTP attempt in its paced slot; the pacer learns from whatever comes back."""
        ticket = self._pacer.before(route)
        answer: Answer | None = None
        try:
            answer = self._http.send(req.method, req.path, content, headers)
        finally:
            seen = None if answer is None else answer.headers
            self._pacer.after(ticket, seen)
            self._observer(route, "error" if answer is None else str(answer.status_code), seen)
        return answer

    def _backoff(self, attempt: int) -> float:
        return backoff(self._retry, attempt, self._rng)

    def _rate_limit_wait(self, response: Answer, attempt: int) -> float:
        return rate_limit_wait(self._retry, response.headers, attempt, self._clock(), self._rng)

    def _find_created(
        self, project: str, env: str, key: str, body: Body, known: frozenset[str], address: str
    ) -> LiveStore | None:
        """The store an ambiguous create made, if any: same slot, name and tags, an unknown id."""
        try:
            stores = self.list_stores()
        except ApiError as exc:
            raise exc.for_address(address) from exc
        new = [
            s
            for s in stores
            if s.slot == (project, env, key) and s.id not in known and create_made(s, body)
        ]
        if len(new) > 1:
            ids = ", ".join(sorted(s.id for s in new))
            raise PlanError(
                f"{address}: a create failed ambiguously and {len(new)} new stores with its"
                f" name now exist ({ids}); delete the extra ones and run again"
            )
        if not new:
            log.info("%s: the failed create made no store; creating again", address)
            return None
        return self.get_store(project, env, key, new[0].id, address=address)

    def _check(self, req: ApiRequest, response: Answer) -> None:
        """Raise ``ApiError`` (409: ``ConflictError``) unless the status is 2xx; a redirect
        says where it led (never followed: the token stays with its host)."""
        if response.is_success:
            return
        if 300 <= response.status_code < 400:  # httpx parses where it led
            from reconciler.api.transport import redirect_details

            raise self._error(req, response, *redirect_details(response.headers))
        raise self._error(req, response, *error_details(response))

    def _parse(self, req: ApiRequest, response: Answer, parse: Callable[[object], T]) -> T:
        """The checked response's JSON body, parsed; a body of the wrong shape is an ApiError."""
        self._check(req, response)
        try:
            return parse(decode_json(response.content))
        except Malformed as exc:
            message = f"the response body has an unexpected shape: {exc}"
            raise self._error(req, response, "unexpected_response", message) from exc

    def _error(self, req: ApiRequest, response: Answer, code: str, message: str) -> ApiError:
        cls = ConflictError if response.status_code == 409 else ApiError
        return cls(
            status=response.status_code,
            code=self._redact(code, req.secrets),
            message=self._redact(message, req.secrets),
            method=req.method,
            path=req.path,
            address=req.address,
        )

    def _redact(self, text: str, secrets: Collection[str] = ()) -> str:
        return redact(text, (self._token, *secrets))
