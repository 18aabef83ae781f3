"""LaunchDarkly's environment reads, and the client-side IDs ``verify`` finds through them.

``list_environments`` pages ``GET /api/v2/projects/{p}/environments`` (``LD-API-Version:
20240415``, not beta) into ``Environment`` values: key, ``critical`` and ``_id``, the client-side
ID that is the key prefix LaunchDarkly's SDKs read big segments under (API-NOTES §9). The SDK
and mobile keys in the same answers are secrets: they are never kept, logged or shown.
``find_client_side_ids`` asks once per project for the environments a command needs and says,
as warnings, what it could not find: a token that may not read environments (403), an unknown
project (404) or environment. Any other failure is the caller's ``ApiError``/``TransportError``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from reconciler.api.client import Client
from reconciler.api.routes import ENVIRONMENTS_API_VERSION, ENVIRONMENTS_ROUTE, environments_path
from reconciler.api.wire import parse_environments
from reconciler.errors import ApiError
from reconciler.model import Environment

PAGE_SIZE = 20
"""Environments per page: LaunchDarkly's default."""
MAX_PAGES = 500
"""A server that keeps answering full pages is not followed further than this."""


def list_environments(client: Client, project: str) -> list[Environment]:
    """Every environment of ``project``, page by page (``ApiError`` 404: unknown project)."""
    found: list[Environment] = []
    for _ in range(MAX_PAGES):
        path = f"{environments_path(project)}?limit={PAGE_SIZE}&offset={len(found)}"
        page, total = client.read(
            path,
            lambda data: parse_environments(data, project),
            route=ENVIRONMENTS_ROUTE,
            version=ENVIRONMENTS_API_VERSION,
        )
        found.extend(page)
        if len(page) < PAGE_SIZE or (total is not None and len(found) >= total):
            break
    return found


@dataclass(frozen=True, slots=True)
class Discovery:
    """Client-side IDs by ``(project, environment)``, and why some could not be found."""

    ids: Mapping[tuple[str, str], str]
    warnings: tuple[str, ...]


def find_client_side_ids(client: Client, slots: Collection[tuple[str, str]]) -> Discovery:
    """The client-side ID of every ``(project, environment)`` in ``slots`` that LaunchDarkly
    knows; a 403 stops asking (the token cannot read environments anywhere)."""
    ids: dict[tuple[str, str], str] = {}
    warnings: list[str] = []
    for project in sorted({p for p, _ in slots}):
        wanted = sorted(e for p, e in slots if p == project)
        try:
            known = {env.key: env.client_side_id for env in list_environments(client, project)}
        except ApiError as error:
            if error.status == 403:
                warnings.append(
                    "the access token may not read environments (403 on"
                    f" {environments_path(project)}), so client-side IDs are unknown: give the"
                    " token the Reader role, or pass --client-side-id PROJECT/ENV=ID"
                )
                break
            if error.status != 404:
                raise
            warnings.append(f"project {project!r} is not in LaunchDarkly (404)")
            continue
        for environment in wanted:
            if environment in known:
                ids[(project, environment)] = known[environment]
            else:
                warnings.append(f"environment {project}/{environment} is not in LaunchDarkly")
    return Discovery(ids=ids, warnings=tuple(warnings))
