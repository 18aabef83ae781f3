"""LaunchDarkly's two environment reads (API-NOTES §9), as the emulator answers them.

``GET /api/v2/projects/{projectKey}/environments`` pages a project's environments in creation
order (``limit`` default 20, ``offset`` default 0, ``totalCount``, and ``_links`` ``self``,
``first``/``prev`` unless on the first page, ``next``/``last`` unless on the last);
``GET /api/v2/projects/{projectKey}/environments/{environmentKey}`` returns one environment.
An ``Environment`` carries ``_id`` (the client-side ID, the key prefix the SDKs read big
segments under), ``critical``, and the SDK and mobile keys, which LaunchDarkly returns in clear
and which the product must treat as secrets. These reads are not beta: a request sending
``LD-API-Version: beta`` or several versions is refused (400); none, or ``20240415``, is served.
A state with ``environment_read_denied`` answers 403, as for a token without the reader role.
"""

from __future__ import annotations

import hashlib
from typing import Any

from reconciler.emulator.rules import ApiProblem, invalid
from reconciler.emulator.state import EmulatorState

ENV_ROOT = "/api/v2/projects"
CURRENT_VERSION = "20240415"
DEFAULT_LIMIT = 20
JSON = "application/json"


def match_environment_route(path: str) -> tuple[str, ...] | None:
    """``(projectKey,)`` or ``(projectKey, environmentKey)`` for an environment read path."""
    if not path.startswith(ENV_ROOT + "/"):
        return None
    parts = path[len(ENV_ROOT) + 1 :].split("/")
    if any(not p for p in parts) or len(parts) not in (2, 3) or parts[1] != "environments":
        return None
    return (parts[0],) if len(parts) == 2 else (parts[0], parts[2])


def check_version(versions: list[str]) -> None:
    """400 unless the request sends at most one ``LD-API-Version``, and not ``beta``."""
    if len(versions) > 1:
        raise invalid(f"Send one LD-API-Version ({CURRENT_VERSION}), not {len(versions)} versions.")
    if versions and versions[0] != CURRENT_VERSION:
        raise invalid(
            f"LD-API-Version {versions[0]} is not supported here; this endpoint is not in beta,"
            f" use {CURRENT_VERSION}."
        )


def environment_answer(
    state: EmulatorState, params: tuple[str, ...], query: dict[str, str]
) -> dict[str, Any]:
    """The body of a successful environment read (``ApiProblem`` 403/404/400 otherwise)."""
    if state.environment_read_denied:
        raise ApiProblem(
            403, "forbidden", "Forbidden. Access to the requested resource was denied."
        )
    project = params[0]
    keys = state.environments_of(project)
    if keys is None:
        raise ApiProblem(404, "not_found", f"Unknown project: {project}")
    if len(params) == 2:
        if params[1] not in keys:
            raise ApiProblem(404, "not_found", f"Unknown environment: {params[1]}")
        return render_environment(state, project, params[1])
    limit = _int_param(query, "limit", DEFAULT_LIMIT, minimum=1)
    offset = _int_param(query, "offset", 0, minimum=0)
    page = keys[offset : offset + limit]
    return {
        "_links": page_links(project, limit, offset, len(keys)),
        "totalCount": len(keys),
        "items": [render_environment(state, project, key) for key in page],
    }


def render_environment(state: EmulatorState, project: str, key: str) -> dict[str, Any]:
    """One environment as LaunchDarkly returns it (the SDK and mobile keys in clear)."""
    details = state.environment(project, key)
    href = f"{ENV_ROOT}/{project}/environments/{key}"
    return {
        "_links": {
            "self": {"href": href, "type": JSON},
            "project": {"href": f"{ENV_ROOT}/{project}", "type": JSON},
        },
        "_id": state.client_side_id(project, key),
        "key": key,
        "name": key.replace("-", " ").replace("_", " ").title(),
        "apiKey": details.api_key,
        "mobileKey": details.mobile_key,
        "color": hashlib.sha256(key.encode()).hexdigest()[:6].upper(),
        "defaultTtl": 0,
        "secureMode": False,
        "defaultTrackEvents": False,
        "requireComments": False,
        "confirmChanges": False,
        "tags": [],
        "critical": details.critical,
    }


def page_links(project: str, limit: int, offset: int, total: int) -> dict[str, Any]:
    """``self``, and ``first``/``prev``/``next``/``last`` where those pages exist."""
    base = f"{ENV_ROOT}/{project}/environments"

    def link(at: int) -> dict[str, str]:
        return {"href": f"{base}?limit={limit}&offset={at}", "type": JSON}

    links = {"self": link(offset)}
    if offset > 0:
        links["first"] = link(0)
        links["prev"] = link(max(0, offset - limit))
    if offset + limit < total:
        links["next"] = link(offset + limit)
        links["last"] = link(((total - 1) // limit) * limit)
    return links


def _int_param(query: dict[str, str], name: str, default: int, *, minimum: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise invalid(f"The {name} parameter must be a whole number of at least {minimum}.")
    return int(text)
