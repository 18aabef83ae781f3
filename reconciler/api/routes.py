"""The API's routes: the big-segment-store path prefix, how a store's path is built, and the
observer of requests by route.

Plain strings, no HTTP: the client requests these paths and the journal records them, so the
journal can name a request without importing the client (or httpx).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

API_PREFIX = "/api/v2/integration-capabilities/big-segment-store"
PATH_PARAMS = ("{projectKey}", "{environmentKey}", "{integrationKey}", "{integrationId}")

ResponseObserver = Callable[[str, str, Mapping[str, str] | None], None]
"""What the client calls after every HTTP attempt: its route (method + URL pattern, never a
URL with keys or ids), the status code as text (``"error"`` when no answer came) and the
answer's headers. Metrics listen this way, so the API package never imports them."""


def store_path(*segments: str) -> str:
    """``API_PREFIX/project/environment/integrationKey[/id]``, each segment %-quoted."""
    return "/".join([API_PREFIX, *(quote(s, safe="") for s in segments)])
