"""The emulator's WSGI app: LaunchDarkly's five big-segment-store routes, the two environment
reads (``environments.py``), plus the side door.

For an API request the app applies, in order: injected latency; the rate limiter (429); injected
faults (5xx answers, dropped connections); routing (unknown path 404, wrong method 405); the
checks LaunchDarkly makes, in its order: token (401), exactly one ``LD-API-Version: beta`` header
and the big-segments entitlement (403), project/environment/kind/id existence (404), then the
body: JSON syntax, the OpenAPI contract and the integration's config rules (400), and finally
the operation itself (409 for failed ``test`` ops). Every answer for a contract operation is
validated against the contract too; a violation is recorded in
``state.contract_violations``. Paths under ``/__emulator`` are the side door (``sidedoor.py``).
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from reconciler.emulator.contract import ContractValidator
from reconciler.emulator.environments import (
    check_version,
    environment_answer,
    match_environment_route,
)
from reconciler.emulator.faults import FaultInjector
from reconciler.emulator.limits import RateLimiter
from reconciler.emulator.rules import API_ROOT, ApiProblem, invalid
from reconciler.emulator.sidedoor import SIDE_DOOR, SideDoor
from reconciler.emulator.state import EmulatorState, RequestRecord

WSGIEnvironment = dict[str, Any]
FAULT_HEADER = "X-Emulator-Fault"
ERROR_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "optimistic_locking_error",
    429: "rate_limited",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}
ROUTES = {
    0: ("list", API_ROOT, ("GET",)),
    3: ("create", API_ROOT + "/{projectKey}/{environmentKey}/{integrationKey}", ("POST",)),
    4: (
        "item",
        API_ROOT + "/{projectKey}/{environmentKey}/{integrationKey}/{integrationId}",
        ("GET", "PATCH", "DELETE"),
    ),
}


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, content_type="application/json"
    )


def error_response(status: int, message: str, code: str | None = None) -> Response:
    code = code or ERROR_CODES.get(status, "error")
    return json_response(status, {"code": code, "message": message})


@dataclass(frozen=True, slots=True)
class Route:
    """A matched API route: ``kind`` is list/create/item, ``key`` is method plus pattern."""

    kind: str
    key: str
    allowed: tuple[str, ...]
    params: tuple[str, ...]


def match_route(method: str, path: str) -> Route | None:
    """The API route of ``path`` (even when ``method`` is wrong for it), or ``None``."""
    if path == API_ROOT:
        segments: list[str] = []
    elif path.startswith(API_ROOT + "/"):
        segments = path[len(API_ROOT) + 1 :].split("/")
        if any(not s for s in segments):
            return None
    else:
        env_params = match_environment_route(path)
        if env_params is None:
            return None
        pattern = "/api/v2/projects/{projectKey}/environments"
        if len(env_params) == 2:
            pattern += "/{environmentKey}"
        return Route("environments", f"{method} {pattern}", ("GET",), env_params)
    entry = ROUTES.get(len(segments))
    if entry is None:
        return None
    kind, pattern, allowed = entry
    return Route(kind, f"{method} {pattern}", allowed, tuple(segments))


class EmulatorApp:
    """The WSGI callable. ``contract=None`` turns runtime contract validation off."""

    def __init__(
        self,
        state: EmulatorState,
        *,
        faults: FaultInjector,
        limiter: RateLimiter,
        contract: ContractValidator | None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.limiter = limiter
        self.contract = contract
        self.side_door = SideDoor(state, faults, limiter)

    def __call__(self, environ: WSGIEnvironment, start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        if request.path == SIDE_DOOR or request.path.startswith(SIDE_DOOR + "/"):
            response = self.side_door.handle(request)
        elif request.path.startswith("/api/"):
            return self._api(_method_override(request), environ, start_response)
        else:
            response = error_response(404, f"No such path: {request.path}")
        return response(environ, start_response)

    def _api(
        self, request: Request, environ: WSGIEnvironment, start_response: Any
    ) -> Iterable[bytes]:
        try:
            return self._api_unguarded(request, environ, start_response)
        except Exception:
            self.state.record_violation(
                f"{request.method} {request.path}: unhandled error\n{traceback.format_exc()}"
            )
            response = error_response(500, "Internal emulator error")
            return response(environ, start_response)

    def _api_unguarded(
        self, request: Request, environ: WSGIEnvironment, start_response: Any
    ) -> Iterable[bytes]:
        started = self.state.now_ms()
        latency = self.faults.apply_latency()
        route = match_route(request.method, request.path)
        decision = self.limiter.hit(route.key if route else f"{request.method} (unmatched)")
        fault: str | None = None
        if decision is not None and not decision.allowed:
            response = error_response(429, "You've exceeded the API rate limit. Try again later.")
        else:
            injected = self.faults.decide(request.method, request.path)
            if injected is not None and injected.action == "drop":
                self._log(request, None, f"drop:{injected.reason}", latency, started)
                return _drop(environ, start_response)
            if injected is not None:
                fault = f"error:{injected.reason}"
                response = error_response(injected.status, "Injected fault")
            else:
                response, fault = self._respond(request, route)
        if fault is not None:
            response.headers[FAULT_HEADER] = fault
        if decision is not None:
            response.headers.update(decision.headers())
        if route is not None and request.method in route.allowed and self.contract is not None:
            for problem in self.contract.response_errors(
                request, response, undeclared_ok=fault is not None
            ):
                self.state.record_violation(
                    f"{request.method} {request.path} -> {response.status_code}: {problem}"
                )
        self._log(request, response.status_code, fault, latency, started)
        return response(environ, start_response)

    def _respond(self, request: Request, route: Route | None) -> tuple[Response, str | None]:
        if route is None:
            return error_response(404, f"No such path: {request.path}"), None
        if request.method not in route.allowed:
            response = error_response(405, f"{request.method} is not allowed on this path")
            response.headers["Allow"] = ", ".join(route.allowed)
            return response, None
        try:
            return self._operation(request, route)
        except ApiProblem as problem:
            return error_response(problem.status, problem.message, problem.code), None
        except Exception:
            self.state.record_violation(
                f"{request.method} {request.path}: unhandled error\n{traceback.format_exc()}"
            )
            return error_response(500, "Internal emulator error"), None

    def _operation(self, request: Request, route: Route) -> tuple[Response, str | None]:
        state = self.state
        if not state.token_accepted(request.headers.get("Authorization")):
            raise ApiProblem(401, "unauthorized", "Invalid access token")
        versions = [
            v.strip() for h in request.headers.getlist("LD-API-Version") for v in h.split(",")
        ]
        if route.kind == "environments":
            check_version(versions)
            self._check_request(request)
            answer = environment_answer(state, route.params, dict(request.args))
            return json_response(200, answer), None
        if versions != ["beta"]:
            raise ApiProblem(
                403,
                "forbidden",
                "This beta endpoint needs exactly one LD-API-Version: beta header"
                f" (got {', '.join(versions) or 'none'})",
            )
        if not state.entitlement:
            raise ApiProblem(403, "forbidden", "Big segments are not enabled for this account")
        params = route.params
        if route.kind == "item":
            state.find_store(*params)
        elif route.kind == "create":
            state.check_scope(*params)
        body: Any = None
        if request.method in ("POST", "PATCH"):
            try:
                body = json.loads(request.get_data())
            except ValueError as exc:
                raise invalid(f"The request body is not valid JSON: {exc}") from exc
        self._check_request(request)
        if route.kind == "list":
            collection = {
                "_links": {
                    "self": {"href": API_ROOT, "type": "application/json"},
                    "parent": {"href": "/api/v2", "type": "application/json"},
                },
                "items": state.list_stores(),
            }
            return json_response(200, collection), None
        if route.kind == "create":
            created = state.create_api(params[0], params[1], params[2], body)
            ambiguous = self.faults.take_ambiguous_create()
            if ambiguous is not None:
                return error_response(ambiguous, "Injected fault after create"), "ambiguous_create"
            return json_response(201, created), None
        if request.method == "GET":
            return json_response(200, state.get_store(*params)), None
        if request.method == "PATCH":
            return json_response(
                200, state.patch_store(params[0], params[1], params[2], params[3], body)
            ), None
        state.delete_store(*params)
        response = Response(status=204)
        del response.headers["Content-Type"]
        return response, None

    def _check_request(self, request: Request) -> None:
        """400 if ``request`` breaks the OpenAPI contract (when validation is on)."""
        if self.contract is not None:
            errors = self.contract.request_errors(request)
            if errors:
                raise invalid("Invalid request: " + "; ".join(errors))

    def _log(
        self,
        request: Request,
        status: int | None,
        fault: str | None,
        latency: int,
        started: int,
    ) -> None:
        data = request.get_data()
        body: Any = None
        if data:
            try:
                body = json.loads(data)
            except ValueError:
                body = data.decode("utf-8", "replace")
        headers: dict[str, list[str]] = {}
        for name, value in request.headers.items():
            headers.setdefault(name, []).append(value)
        self.state.record_request(
            RequestRecord(
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                headers=headers,
                body=body,
                status=status,
                fault=fault,
                latency_ms=latency,
                time_ms=started,
                client=f"{request.remote_addr}:{request.environ.get('REMOTE_PORT', '')}",
            )
        )


def _method_override(request: Request) -> Request:
    """Honour ``X-HTTP-Method-Override: PATCH|DELETE`` on a POST, as LaunchDarkly does."""
    override = (request.headers.get("X-HTTP-Method-Override") or "").upper()
    if request.method != "POST" or override not in ("PATCH", "DELETE"):
        return request
    data = request.get_data()
    environ = dict(request.environ)
    environ.update(
        REQUEST_METHOD=override, CONTENT_LENGTH=str(len(data)), **{"wsgi.input": io.BytesIO(data)}
    )
    return Request(environ)


def _drop(environ: WSGIEnvironment, start_response: Any) -> Iterable[bytes]:
    """Close the connection without an answer. Werkzeug's dev server exposes the socket; the
    failed write that follows is treated by it as a dropped connection."""
    sock = environ.get("werkzeug.socket")
    if sock is None:
        raise ConnectionAbortedError("emulator fault: connection dropped")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    start_response("500 Dropped", [("Content-Length", "0")])
    return [b""]
