"""The side door: seeding, inspection and out-of-band changes, under ``/__emulator``.

No authentication, no LaunchDarkly headers, JSON in and out, never rate-limited or faulted, not
in the request log. Errors are ``{"code", "message"}`` with status 400 or 404.

=========================================  =====================================================
``GET /__emulator/state``                  the account, unmasked, in seed format
``POST /__emulator/state``                 replace the account with a seed document
``GET|POST /__emulator/stores``            list stores (unmasked) / add one (seed store format)
``GET|PATCH|DELETE /__emulator/stores/ID`` read / change as a UI edit would / delete one store;
                                           PATCH takes ``{name?, on?, tags?, config?, status?}``
``GET|DELETE /__emulator/requests``        the API request log / clear it
``GET|PUT /__emulator/faults``             fault settings (``FaultConfig.from_dict`` keys)
``GET|PUT /__emulator/ratelimit``          rate-limit settings (``RateLimitConfig.from_dict``)
``GET|PATCH /__emulator/settings``         ``{tokens, revokedTokens, entitlement, uniqueNames,
                                           maskStyle, listConfig, environmentReadDenied}``
``GET|PATCH /__emulator/environments/P/E`` one environment (seed format); PATCH takes
                                           ``{critical?, clientSideId?, apiKey?, mobileKey?}``
``GET /__emulator/violations``             contract violations found so far
=========================================  =====================================================
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from reconciler.emulator.faults import FaultConfig, FaultInjector
from reconciler.emulator.limits import RateLimitConfig, RateLimiter
from reconciler.emulator.manifests import MASK_STYLES
from reconciler.emulator.rules import ApiProblem, invalid
from reconciler.emulator.state import EmulatorState

SIDE_DOOR = "/__emulator"
SWITCHES = ("entitlement", "uniqueNames", "listConfig", "environmentReadDenied")
SETTINGS = ("tokens", "revokedTokens", "maskStyle", *SWITCHES)


def _json(status: int, payload: Any) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


class SideDoor:
    """Handles ``/__emulator`` requests against one state, fault injector and limiter."""

    def __init__(self, state: EmulatorState, faults: FaultInjector, limiter: RateLimiter) -> None:
        self.state = state
        self.faults = faults
        self.limiter = limiter

    def handle(self, request: Request) -> Response:
        from reconciler.emulator.seed import SeedError  # seed imports state; avoid a cycle

        parts = request.path[len(SIDE_DOOR) :].strip("/").split("/")
        try:
            return self._route(request, parts)
        except ApiProblem as problem:
            return _json(problem.status, {"code": problem.code, "message": problem.message})
        except SeedError as exc:
            return _json(400, {"code": "invalid_seed", "message": str(exc)})
        except ValueError as exc:
            return _json(400, {"code": "invalid_request", "message": str(exc)})

    def _body(self, request: Request) -> Any:
        try:
            return json.loads(request.get_data() or b"null")
        except ValueError as exc:
            raise invalid(f"not valid JSON: {exc}") from exc

    def _route(self, request: Request, parts: list[str]) -> Response:
        from reconciler.emulator.seed import add_seed_store, state_from_seed

        state, method = self.state, request.method
        name = parts[0]
        if name == "state" and len(parts) == 1:
            if method == "POST":
                fresh = state_from_seed(self._body(request), clock=state.clock)
                state.replace_contents(fresh)
                return _json(200, state.snapshot())
            if method == "GET":
                return _json(200, state.snapshot())
        elif name == "stores" and len(parts) == 1:
            if method == "GET":
                return _json(200, [state.export_store(s) for s in state.stores()])
            if method == "POST":
                store = add_seed_store(state, self._body(request))
                return _json(201, state.export_store(store))
        elif name == "stores" and len(parts) == 2:
            return self._store(request, parts[1])
        elif name == "requests" and len(parts) == 1:
            if method == "GET":
                return _json(200, [r.to_dict() for r in list(state.requests)])
            if method == "DELETE":
                state.clear_requests()
                return Response(status=204)
        elif name == "faults" and len(parts) == 1:
            if method == "PUT":
                self.faults.configure(FaultConfig.from_dict(self._object(request)))
            if method in ("GET", "PUT"):
                return _json(200, self.faults.config.to_dict())
        elif name == "ratelimit" and len(parts) == 1:
            if method == "PUT":
                self.limiter.configure(RateLimitConfig.from_dict(self._object(request)))
            if method in ("GET", "PUT"):
                return _json(200, self.limiter.snapshot())
        elif name == "settings" and len(parts) == 1:
            if method == "PATCH":
                self._settings(self._object(request))
            if method in ("GET", "PATCH"):
                snap = state.snapshot()
                return _json(200, {k: snap[k] for k in SETTINGS})
        elif name == "environments" and len(parts) == 3:
            return self._environment(request, parts[1], parts[2])
        elif name == "violations" and len(parts) == 1 and method == "GET":
            return _json(200, list(state.contract_violations))
        else:
            raise ApiProblem(404, "not_found", f"no side-door path {request.path}")
        raise ApiProblem(405, "method_not_allowed", f"{method} is not allowed on {request.path}")

    def _object(self, request: Request) -> dict[str, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise invalid("the body must be a JSON object")
        return body

    def _store(self, request: Request, store_id: str) -> Response:
        state = self.state
        try:
            store = state.store(store_id)
        except KeyError:
            raise ApiProblem(404, "not_found", f"no store {store_id}") from None
        if request.method == "GET":
            return _json(200, state.export_store(store))
        if request.method == "PATCH":
            state.mutate_store(store_id, self._object(request))
            return _json(200, state.export_store(store))
        if request.method == "DELETE":
            state.remove_store(store_id)
            return Response(status=204)
        raise ApiProblem(405, "method_not_allowed", f"{request.method} is not allowed here")

    def _environment(self, request: Request, project: str, key: str) -> Response:
        state = self.state
        if not state.has_environment(project, key):
            raise ApiProblem(404, "not_found", f"no environment {project}/{key}")
        if request.method == "PATCH":
            body = self._object(request)
            fields = {"critical", "clientSideId", "apiKey", "mobileKey"}
            unknown = sorted(set(body) - fields)
            if unknown:
                raise invalid(
                    f"cannot change {', '.join(unknown)} (fields: {', '.join(sorted(fields))})"
                )
            if not isinstance(body.get("critical", False), bool):
                raise invalid("critical must be a boolean")
            for name in ("clientSideId", "apiKey", "mobileKey"):
                if name in body and not (isinstance(body[name], str) and body[name]):
                    raise invalid(f"{name} must be a non-empty string")
            state.set_environment(
                project,
                key,
                critical=body.get("critical"),
                client_side_id=body.get("clientSideId"),
                api_key=body.get("apiKey"),
                mobile_key=body.get("mobileKey"),
            )
        elif request.method != "GET":
            raise ApiProblem(405, "method_not_allowed", f"{request.method} is not allowed here")
        projects = state.snapshot()["projects"]
        envs = next(p["environments"] for p in projects if p["key"] == project)
        return _json(200, next(e for e in envs if e["key"] == key))

    def _settings(self, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - set(SETTINGS))
        if unknown:
            raise invalid(f"unknown setting(s): {', '.join(unknown)}")
        for key in SWITCHES:
            if key in body and not isinstance(body[key], bool):
                raise invalid(f"{key} must be a boolean")
        if "maskStyle" in body and body["maskStyle"] not in MASK_STYLES:
            raise invalid(f"maskStyle must be one of {', '.join(MASK_STYLES)}")
        for key in ("tokens", "revokedTokens"):
            value = body.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(t, str) for t in value)
            ):
                raise invalid(f"{key} must be a list of strings")
        if "tokens" in body:
            self.state.set_tokens(body["tokens"])
        for token in body.get("revokedTokens") or []:
            self.state.revoke_token(token)
        if "entitlement" in body:
            self.state.entitlement = body["entitlement"]
        if "uniqueNames" in body:
            self.state.unique_names = body["uniqueNames"]
        if "listConfig" in body:
            self.state.list_config = body["listConfig"]
        if "environmentReadDenied" in body:
            self.state.environment_read_denied = body["environmentReadDenied"]
        if "maskStyle" in body:
            self.state.mask_style = body["maskStyle"]
