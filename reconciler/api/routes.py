"""The API's routes: the big-segment-store and environment paths, how they are built, the
rate-limit route of a request (``route_of``), and the observer of requests by route.

Plain strings, no HTTP: the client requests these paths and the journal records them, so the
journal can name a request without importing the client (or httpx). ``ApiRequest`` is one
request as the client describes it, with its rate-limit route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from urllib.parse import quote

API_PREFIX = "/api/v2/integration-capabilities/big-segment-store"
PATH_PARAMS = ("{projectKey}", "{environmentKey}", "{integrationKey}", "{integrationId}")

ResponseObserver = Callable[[str, str, Mapping[str, str] | None], None]
"""What the client calls after every HTTP attempt: its route (method + URL pattern, never a
URL with keys or ids), the status code as text (``"error"`` when no answer came) and the
answer's headers. Metrics listen this way, so the API package never imports them."""


def store_path(*segments: str) -> str:
    """``API_PREFIX/project/environment/integrationKey[/id]``, each segment %-quoted (in one
    call when no segment holds a ``/``, the one character quoted then that is not here)."""
    joined = "/".join(segments)
    if joined.count("/") == len(segments) - 1:
        return f"{API_PREFIX}/{quote(joined, safe='/')}"
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])


@cache
def request_headers(version: str, with_body: bool) -> Mapping[str, str]:
    """The headers of one request besides the client's own: its ``LD-API-Version`` (one per
    request, never a client default) and, with a body, its JSON ``Content-Type``; read-only,
    built once per pair."""
    extra = {"Content-Type": "application/json"} if with_body else {}
    return MappingProxyType({"LD-API-Version": version, **extra})


ENVIRONMENTS_VERSION = "20240415"
"""The environment reads are not beta: they take the current dated version (API-NOTES §9)."""
ENVIRONMENTS_ROUTE = "/api/v2/projects/{projectKey}/environments"
ENVIRONMENTS_PAGE = 20
"""Environments per page: LaunchDarkly's default."""


def route_of(method: str, path: str) -> str:
    """The rate-limit route of a request: the method and the URL pattern, e.g.
    ``GET /api/v2/integration-capabilities/big-segment-store/{projectKey}/...`` or
    ``GET /api/v2/projects/{projectKey}/environments``."""
    if path.startswith(ENVIRONMENTS_ROUTE.split("{")[0]):
        return f"{method} {ENVIRONMENTS_ROUTE}"
    depth = path.removeprefix(API_PREFIX).count("/")  # segments are %-quoted
    return f"{method} {'/'.join([API_PREFIX, *PATH_PARAMS[:depth]])}"


def environments_path(project: str, offset: int | None = None) -> str:
    """A project's environments (``/api/v2/projects/{project}/environments``, the key
    %-quoted); with ``offset``, one page of them (``limit`` ``ENVIRONMENTS_PAGE``)."""
    base = ENVIRONMENTS_ROUTE.replace("{projectKey}", quote(project, safe=""))
    return base if offset is None else f"{base}?limit={ENVIRONMENTS_PAGE}&offset={offset}"


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One logical request: what errors name, and the secrets they must not echo."""

    method: str
    path: str
    address: str | None
    body: object = None
    secrets: tuple[str, ...] = ()
    version: str = "beta"  # the LD-API-Version: one per request, never a client default

    @property
    def route(self) -> str:
        """The rate-limit route: the method and the URL pattern (``route_of``)."""
        return route_of(self.method, self.path)
