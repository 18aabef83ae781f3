"""The LaunchDarkly API client: the only module that imports httpx.

It reads connection settings (token, API host) from the environment, sends every request with
exactly one ``LD-API-Version: beta`` header and the raw token, retries rate limits (429), server
errors (5xx) and connection failures with capped, jittered backoff, paces requests to spend
LaunchDarkly's rate-limit budget evenly instead of running into it (``reconciler.pacing``),
resolves creates and patches whose failed attempt may nevertheless have been applied, parses
responses into ``LiveStore`` values, and translates every failure into
``ApiError``/``ConflictError``/``TransportError`` (``raise ... from`` the httpx exception).
Neither the token nor request bodies (which hold passwords) ever reach an exception message or
a log line.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import TypeVar
from urllib.parse import quote, urlsplit

import httpx

from reconciler import __version__
from reconciler.errors import ApiError, ConfigError, ConflictError, PlanError, TransportError
from reconciler.model import LiveStore
from reconciler.pacing import Pacer
from reconciler.wire import Malformed, as_float, as_int, parse_full, parse_list

API_PREFIX = "/api/v2/integration-capabilities/big-segment-store"
DEFAULT_API_HOST = "https://app.launchdarkly.com"
TOKEN_VARS = ("LAUNCHDARKLY_ACCESS_TOKEN", "LD_ACCESS_TOKEN")
HOST_VAR = "LAUNCHDARKLY_API_HOST"
DEFAULT_USER_AGENT = f"reconciler/{__version__}"
PATH_PARAMS = ("{projectKey}", "{environmentKey}", "{integrationKey}", "{integrationId}")
RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
MIN_RATE_LIMIT_WAIT = 0.05
REDACTED = "(redacted)"

log = logging.getLogger("reconciler.client")
T = TypeVar("T")

_TOKEN_LIKE = re.compile(r"\b(?:api|sdk|mob)-[0-9A-Za-z-]{8,}")
_SECRET_KEY = re.compile(r"password|secret|token|externalid", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ConnectionSettings:
    """Where LaunchDarkly is and how to authenticate; ``repr`` never shows the token."""

    api_host: str
    token: str = field(repr=False)


def settings_from_env(env: Mapping[str, str], *, api_host: str | None = None) -> ConnectionSettings:
    """The token from ``env``; the host from ``api_host``, else ``env``, else the default."""
    token = next((env[v].strip() for v in TOKEN_VARS if env.get(v, "").strip()), "")
    if not token:
        raise ConfigError(
            "no LaunchDarkly access token: set LAUNCHDARKLY_ACCESS_TOKEN (or LD_ACCESS_TOKEN)"
            " to a personal or service access token"
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        raise ConfigError(
            "the LaunchDarkly access token holds whitespace or non-ASCII characters;"
            " check LAUNCHDARKLY_ACCESS_TOKEN / LD_ACCESS_TOKEN"
        )
    host = api_host or env.get(HOST_VAR, "").strip() or DEFAULT_API_HOST
    return ConnectionSettings(api_host=normalise_api_host(host), token=token)


def normalise_api_host(url: str) -> str:
    """``url`` without a trailing slash; refuses non-http(s) URLs and plain http off loopback."""
    text = url.strip()
    shown = repr(text) if "@" not in text else "(a URL with credentials)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError(f"API host {shown} is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"API host {shown} is not an http(s) URL such as {DEFAULT_API_HOST}")
    if parts.username is not None or parts.query or parts.fragment:
        raise ConfigError(f"API host {shown} must not hold credentials, a query or a fragment")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"refusing plain http:// API host {shown}: the access token would travel"
            " unencrypted; use https:// (http is allowed only for 127.0.0.1, ::1 or localhost)"
        )
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _is_loopback(hostname: str) -> bool:
    try:
        return hostname == "localhost" or ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry 429, 5xx and connection failures."""

    max_attempts: int = 8
    base_delay: float = 0.2
    max_delay: float = 10.0
    max_rate_limit_wait: float = 60.0
    jitter: float = 0.1


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class _Req:
    """One logical request: what errors name, and the secrets they must not echo."""

    method: str
    path: str
    address: str | None
    body: object = None
    secrets: tuple[str, ...] = ()

    @property
    def route(self) -> str:
        """The rate-limit route: the method and the URL pattern, e.g.
        ``GET /api/v2/integration-capabilities/big-segment-store/{projectKey}/...``."""
        depth = self.path.removeprefix(API_PREFIX).count("/")  # segments are %-quoted
        return f"{self.method} {'/'.join([API_PREFIX, *PATH_PARAMS[:depth]])}"


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
        self._http = httpx.Client(
            base_url=settings.api_host,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers=headers,
        )

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
        req = _Req("GET", _path(project, environment, integration_key, store_id), where)
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
        path = _path(project, environment, integration_key)
        req = _Req("POST", path, address, dict(body), _secrets(body))
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
        path = _path(project, environment, integration_key, store_id)
        body = [dict(op) for op in patch]
        req = _Req("PATCH", path, address, body, _secrets(body))
        response, ambiguous = self._call(req)
        if response.status_code == 409 and ambiguous:
            live = self.get_store(project, environment, integration_key, store_id, address=address)
            if _patch_already_applied(live, patch):
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
        req = _Req("DELETE", _path(project, environment, integration_key, store_id), address)
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
                reason = self._redact(_describe(exc), req.secrets)
                if attempt >= limit:
                    raise TransportError(
                        f"could not reach LaunchDarkly at {self._host}: {reason}"
                        f" (after {attempt} attempt{'s' if attempt != 1 else ''})"
                    ) from exc
                delay, failed_ambiguously = self._backoff(attempt), True
                log.warning("%s %s failed (%s); retrying in %.2f s", method, path, reason, delay)
            except httpx.HTTPError as exc:
                reason = self._redact(_describe(exc), req.secrets)
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
        ticket = self._pacer.before(req.route)
        response: httpx.Response | None = None
        try:
            response = self._http.request(req.method, req.path, content=content, headers=headers)
        finally:
            self._pacer.after(ticket, None if response is None else response.headers)
        return response

    def _backoff(self, attempt: int) -> float:
        policy = self._retry
        delay = min(policy.max_delay, policy.base_delay * 2.0 ** min(attempt - 1, 60))
        return delay + self._jitter(delay)

    def _rate_limit_wait(self, response: httpx.Response, attempt: int) -> float:
        """``Retry-After`` seconds, else until ``X-Ratelimit-Reset`` (epoch ms). A negative wait
        (clock skew) counts by its absolute value (API-NOTES §5); clamped, then jittered."""
        now = self._clock()
        wait = _retry_after(response.headers.get("Retry-After"), now)
        if wait is None:
            reset = as_float(response.headers.get("X-Ratelimit-Reset"))
            wait = None if reset is None else abs(reset / 1000.0 - now)
        if wait is None:
            return self._backoff(attempt)
        wait = min(max(wait, MIN_RATE_LIMIT_WAIT), self._retry.max_rate_limit_wait)
        return wait + self._jitter(wait)

    def _jitter(self, delay: float) -> float:
        return delay * self._retry.jitter * self._rng.random()

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
            return parse(response.json())
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
        for secret in (self._token, *secrets):
            text = text.replace(secret, REDACTED) if secret else text
        return _TOKEN_LIKE.sub(REDACTED, text)


def _path(*segments: str) -> str:
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])


def _describe(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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


def _retry_after(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), by absolute value."""
    if value is None:
        return None
    seconds = as_float(value)
    if seconds is None:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    return abs(seconds)


def _patch_already_applied(live: LiveStore, patch: Sequence[Mapping[str, object]]) -> bool:
    """Whether ``live`` is exactly what ``patch`` makes of the version it tests."""
    tests = [
        as_int(op.get("value"))
        for op in patch
        if (op.get("op"), op.get("path")) == ("test", "/version")
    ]
    if len(tests) != 1 or tests[0] is None or live.version != tests[0] + 1:
        return False
    observed: dict[str, object] = {"/name": live.name, "/on": live.on, "/tags": sorted(live.tags)}
    for op in patch:
        path, value = op.get("path"), op.get("value")
        if op.get("op") in ("add", "replace") and isinstance(path, str) and path in observed:
            wanted = sorted(str(t) for t in value) if isinstance(value, list) else value
            if observed[path] != wanted:
                return False
    return True


def _secrets(value: object, key: str = "") -> tuple[str, ...]:
    """Strings under secret-looking keys (``password``, ``externalId``, ...) of a request body,
    including patch ops on such paths, so that error text the server echoes can be redacted."""
    if isinstance(value, str):
        return (value,) if len(value) >= 4 and _SECRET_KEY.search(key) else ()
    if isinstance(value, Mapping):
        path = str(value.get("path", ""))
        return tuple(
            s for k, v in value.items() for s in _secrets(v, path if k == "value" else str(k))
        )
    if isinstance(value, list):
        return tuple(s for v in value for s in _secrets(v, key))
    return ()
