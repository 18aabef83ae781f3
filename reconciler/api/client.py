"""The LaunchDarkly API client (with ``reconciler.api.keepalive``, all that imports httpx).

It connects with ``ConnectionSettings`` (``reconciler.api.settings``), sends every request with
exactly one ``LD-API-Version: beta`` header and the raw token, retries 429, 5xx and connection
failures as ``reconciler.api.retry`` decides, paces requests to spend LaunchDarkly's rate-limit
budget evenly (``reconciler.api.pacing``), resolves creates and patches whose failed attempt may
nevertheless have been applied, parses responses into ``LiveStore`` values, and translates every
failure into ``ApiError``/``ConflictError``/``TransportError`` (``raise ... from`` the httpx
exception). Neither the token nor request bodies (which hold passwords) ever reach an exception
message or a log line (``reconciler.api.redact``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import TypeVar, cast

import httpx
import orjson

from reconciler import __version__
from reconciler.api.keepalive import KeepAliveTransport, proxied
from reconciler.api.pacing import Pacer
from reconciler.api.redact import REDACTED, describe, redact, request_secrets
from reconciler.api.retry import (
    DEFAULT_RETRY,
    MIN_RATE_LIMIT_WAIT,
    RETRYABLE_STATUSES,
    RetryPolicy,
    backoff,
    patch_already_applied,
    rate_limit_wait,
)
from reconciler.api.routes import API_PREFIX, PATH_PARAMS, store_path
from reconciler.api.routes import ApiRequest as _Req
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
    the same project/environment/integration with the requested ``name`` whose id is not in
    ``known_ids`` (the ids that existed before). Only when there is none does it POST again.

    PATCH is retried as-is. If an earlier attempt was in fact applied, the retry's
    ``test /version`` op fails with 409; after such an ambiguous failure the client re-reads the
    store and returns it as success when its version is exactly the tested version + 1 and the
    patch's ``name``/``on``/``tags`` values are reflected (``config`` is masked on read, so for
    it the version step is the only evidence). Otherwise the 409 is a ``ConflictError``.

    With ``pacing`` (the default) every request first waits for its slot from a shared ``Pacer``,
    which learns the rate-limit budgets from every response; without it, only 429s slow it down.
    Each calling thread keeps its own connection (``reconciler.api.keepalive``); behind a proxy,
    ``connections`` is how many idle ones httpx's pool keeps: the CLI passes its ``--parallelism``.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        pacing: bool = True,
        connections: int = 16,
    ) -> None:
        self._host = settings.api_host
        self._token = settings.token
        self._retry = retry
        self._sleep = sleep
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._pacer = Pacer(clock=clock, sleep=sleep, enabled=pacing)
        self._lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        headers = {"Authorization": settings.token, "LD-API-Version": "beta"}
        headers |= {"Accept": "application/json", "User-Agent": user_agent}
        # Requests are built once per call from these prebuilt headers and handed straight to
        # the transport: no cookie jar, no redirects, no pool lock (reconciler.api.keepalive).
        self._headers = headers
        self._json_headers = {**headers, "Content-Type": "application/json"}
        self._transport = transport
        self._http: httpx.Client | None = None
        self._closed = False
        if transport is None and proxied(settings.api_host):  # httpx reads the proxy settings
            self._http = httpx.Client(
                base_url=settings.api_host,
                timeout=httpx.Timeout(timeout),
                follow_redirects=False,
                headers=headers,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=connections),
            )
        elif transport is None:
            self._transport = KeepAliveTransport(settings.api_host, timeout)

    def close(self) -> None:
        self._closed = True
        if self._transport is not None:
            self._transport.close()
        if self._http is not None:
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
        """Every store of the account (``config`` is ``None``: the list omits it)."""
        req = _Req("GET", API_PREFIX, None)
        return self._parse(req, self._call(req)[0], parse_list)

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
        req = _Req("GET", store_path(project, environment, integration_key, store_id), where)
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
    ) -> LiveStore:
        """Create a store; see the class docstring for how an ambiguous failure is resolved."""
        path = store_path(project, environment, integration_key)
        req = _Req("POST", path, address, dict(body), request_secrets(body))
        known, name = frozenset(known_ids), body.get("name")

        def adopt_if_created() -> None:
            found = self._find_created(project, environment, integration_key, name, known, address)
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
    ) -> LiveStore:
        """Apply a JSON Patch; see the class docstring for how a retried PATCH is resolved."""
        path = store_path(project, environment, integration_key, store_id)
        body = [dict(op) for op in patch]
        req = _Req("PATCH", path, address, body, request_secrets(body))
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
        req = _Req("DELETE", store_path(project, environment, integration_key, store_id), address)
        response, _ = self._call(req)
        if response.status_code == 404:
            log.debug("%s: DELETE %s -> 404, already gone", address, req.path)
            return
        self._check(req, response)

    def _call(
        self, req: _Req, *, before_retry: Callable[[], None] | None = None
    ) -> tuple[httpx.Response, bool]:
        """Send with retries. Returns the final response (any status but a retried one) and
        whether some attempt failed in a way that may have been applied (5xx, transport)."""
        body = req.body
        content = None if body is None else json.dumps(body).encode()
        headers = None if body is None else {"Content-Type": "application/json"}
        method, path, limit = req.method, req.path, max(1, self._retry.max_attempts)
        ambiguous, attempt = False, 0
        while True:
            attempt += 1
            with self._lock:
                self._requests += 1
            try:
                response = self._send(req, content, headers)
            except httpx.TransportError as exc:
                reason = self._redact(describe(exc), req.secrets)
                if attempt >= limit:
                    raise TransportError(
                        f"could not reach LaunchDarkly at {self._host}: {reason}"
                        f" (after {attempt} attempt{'s' if attempt != 1 else ''})"
                    ) from exc
                delay, failed_ambiguously = self._backoff(attempt), True
                log.warning("%s %s failed (%s); retrying in %.2f s", method, path, reason, delay)
            except httpx.HTTPError as exc:
                reason = self._redact(describe(exc), req.secrets)
                raise TransportError(f"request to LaunchDarkly failed: {reason}") from exc
            else:
                status = response.status_code
                log.debug("%s %s -> %d (attempt %d)", method, path, status, attempt)
                if attempt >= limit or (status != 429 and status not in RETRYABLE_STATUSES):
                    return response, ambiguous
                if status == 429:
                    delay, failed_ambiguously = self._rate_limit_wait(response, attempt), False
                    self._pacer.on_rate_limited(req.route, self._clock() + delay)
                    log.info("rate limited on %s %s; waiting %.2f s", method, path, delay)
                else:
                    delay, failed_ambiguously = self._backoff(attempt), True
                    log.warning("%s %s -> %d; retrying in %.2f s", method, path, status, delay)
            ambiguous = ambiguous or failed_ambiguously
            with self._lock:
                self._retries += 1
            self._sleep(delay)
            if failed_ambiguously and before_retry is not None:
                before_retry()

    def _send(
        self, req: _Req, content: bytes | None, headers: dict[str, str] | None
    ) -> httpx.Response:
        """One HTTP attempt in its paced slot; the pacer learns from whatever comes back."""
        if self._closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        ticket = self._pacer.before(req.route)
        response: httpx.Response | None = None
        try:
            sent = self._json_headers if headers else self._headers
            if self._http is not None:
                response = self._http.request(
                    req.method, req.path, content=content, headers=headers
                )
            elif isinstance(self._transport, KeepAliveTransport):  # no httpx.Request: faster
                response = self._transport.send(req.method, req.path, sent, content)
            else:
                request = httpx.Request(
                    req.method, self._host + req.path, headers=sent, content=content
                )
                response = cast(httpx.BaseTransport, self._transport).handle_request(request)
                response.read()
        finally:
            self._pacer.after(ticket, None if response is None else response.headers)
        return response

    def _backoff(self, attempt: int) -> float:
        return backoff(self._retry, attempt, self._rng)

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        return rate_limit_wait(self._retry, response.headers, attempt, self._clock(), self._rng)

    def _find_created(
        self, project: str, env: str, key: str, name: object, known: frozenset[str], address: str
    ) -> LiveStore | None:
        """The store an ambiguous create made, if any: same slot and name, an unknown id."""
        try:
            stores = self.list_stores()
        except ApiError as exc:
            raise exc.for_address(address) from exc
        new = [
            s
            for s in stores
            if s.slot == (project, env, key) and s.id not in known and name in (None, s.name)
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

    def _check(self, req: _Req, response: httpx.Response) -> None:
        """Raise ``ApiError`` (409: ``ConflictError``) unless the status is 2xx."""
        if not response.is_success:
            raise self._error(req, response, *_error_details(response))

    def _parse(self, req: _Req, response: httpx.Response, parse: Callable[[object], T]) -> T:
        """The checked response's JSON body, parsed; a body of the wrong shape is an ApiError."""
        self._check(req, response)
        try:
            return parse(orjson.loads(response.content))  # as json.loads, several times faster
        except ValueError as exc:  # not JSON, or Malformed
            why = str(exc) if isinstance(exc, Malformed) else "not JSON"
            message = f"the response body has an unexpected shape: {why}"
            raise self._error(req, response, "unexpected_response", message) from exc

    def _error(self, req: _Req, response: httpx.Response, code: str, message: str) -> ApiError:
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


def _error_details(response: httpx.Response) -> tuple[str, str]:
    """LaunchDarkly's ``code`` and ``message``; for a non-JSON body, its first 200 chars."""
    try:
        data: object = response.json()
    except ValueError:
        return "", " ".join(response.text.split())[:200]
    if not isinstance(data, dict):
        return "", ""
    code, message = data.get("code"), data.get("message")
    return (str(code) if code else "", str(message)[:500] if message else "")
