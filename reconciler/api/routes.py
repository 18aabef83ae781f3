"""The API's routes: the big-segment-store path prefix and how a store's path is built, and
the environment listing (not beta: its own ``LD-API-Version``).

Plain strings, no HTTP: the client requests these paths and the journal records them, so the
journal can name a request without importing the client (or httpx).
"""

from __future__ import annotations

from urllib.parse import quote

API_PREFIX = "/api/v2/integration-capabilities/big-segment-store"
PATH_PARAMS = ("{projectKey}", "{environmentKey}", "{integrationKey}", "{integrationId}")


def store_path(*segments: str) -> str:
    """``API_PREFIX/project/environment/integrationKey[/id]``, each segment %-quoted."""
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])


ENVIRONMENTS_VERSION = "20240415"
ENVIRONMENTS_ROUTE = "/api/v2/projects/{projectKey}/environments"
ENVIRONMENTS_PAGE = 20


def route_of(method: str, path: str) -> str:
    """The rate-limit route of a request: the method and the URL pattern, e.g.
    ``GET /api/v2/integration-capabilities/big-segment-store/{projectKey}/...`` or
    ``GET /api/v2/projects/{projectKey}/environments``."""
    if path.startswith(ENVIRONMENTS_ROUTE.split("{")[0]):
        return f"{method} {ENVIRONMENTS_ROUTE}"
    depth = path.removeprefix(API_PREFIX).count("/")  # segments are %-quoted
    return f"{method} {'/'.join([API_PREFIX, *PATH_PARAMS[:depth]])}"


def environments_path(project: str, offset: int = 0) -> str:
    """One page of a project's environments (``limit`` ``ENVIRONMENTS_PAGE``)."""
    base = ENVIRONMENTS_ROUTE.replace("{projectKey}", quote(project, safe=""))
    return f"{base}?limit={ENVIRONMENTS_PAGE}&offset={offset}"
