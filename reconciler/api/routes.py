"""The API's routes: the big-segment-store path prefix and how a store's path is built.

Plain strings, no HTTP: the client requests these paths and the journal records them, so the
journal can name a request without importing the client (or httpx). ``ApiRequest`` is one
request as the client describes it, with its rate-limit route.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

API_PREFIX = "/api/v2/integration-capabilities/big-segment-store"
PATH_PARAMS = ("{projectKey}", "{environmentKey}", "{integrationKey}", "{integrationId}")


def store_path(*segments: str) -> str:
    """``API_PREFIX/project/environment/integrationKey[/id]``, each segment %-quoted."""
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])


@dataclass(frozen=True, slots=True)
class ApiRequest:
    """One logical API request: its rate-limit route, what errors name, and the secrets they
    must not echo (the client sends it)."""

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
