"""The API's routes: the big-segment-store and environment paths, and how they are built.

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


ENVIRONMENTS_PREFIX = "/api/v2/projects"
ENVIRONMENTS_API_VERSION = "20240415"
"""The environment reads are not beta: they take the current dated version (API-NOTES §9)."""
ENVIRONMENTS_ROUTE = f"GET {ENVIRONMENTS_PREFIX}/{{projectKey}}/environments"


def environments_path(project: str) -> str:
    """``/api/v2/projects/{project}/environments``, the project key %-quoted."""
    return f"{ENVIRONMENTS_PREFIX}/{quote(project, safe='')}/environments"
