"""LaunchDarkly's environment reads (API-NOTES §9): which projects and environments exist.

``list_environments`` pages through ``GET /api/v2/projects/{p}/environments`` (not beta: it
sends ``LD-API-Version: 20240415``) and returns ``Environment`` values holding only the key,
``critical`` and ``_id`` (the client-side ID); the SDK and mobile keys in the same answers are
secrets and are never parsed, logged or kept. ``read_environments`` does that for every project
in scope: a 404 means the project does not exist, and a 403 (a token that may not read
environments) turns into a warning instead of an answer, so existence is simply not checked.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reconciler.api.client import Client
from reconciler.api.routes import ENVIRONMENTS_VERSION, environments_path
from reconciler.api.wire import parse_environment_page
from reconciler.errors import ApiError
from reconciler.model import Environment, ProjectEnvironments

MAX_PAGES = 500
"""A listing that has not ended after this many pages is a server error, not a loop."""


def list_environments(client: Client, project: str) -> tuple[Environment, ...]:
    """Every environment of ``project``, all pages, in LaunchDarkly's order. ``ApiError``
    404: no such project; 403: the token may not read environments."""
    found: dict[str, Environment] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        page, total = client.read(
            environments_path(project, offset),
            parse_environment_page,
            version=ENVIRONMENTS_VERSION,
        )
        for environment in page:
            found.setdefault(environment.key, environment)
        offset += len(page)
        if not page or offset >= total:
            return tuple(found.values())
    raise ApiError(
        status=200, code="unexpected_response", method="GET",
        path=environments_path(project, offset),
        message=f"the environment listing did not end after {MAX_PAGES} pages",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EnvironmentReads:
    """What the environment reads found: ``projects`` maps each project that could be read to
    what LaunchDarkly says of it; a project missing from it was not checked (``warnings``)."""

    projects: dict[str, ProjectEnvironments]
    warnings: tuple[str, ...] = ()


def read_environments(
    client: Client, projects: Collection[str], *, parallelism: int = 8
) -> EnvironmentReads:
    """One paginated listing per project; 404 is an unknown project, 403 a warning."""

    def one(project: str) -> ProjectEnvironments | str:
        try:
            return ProjectEnvironments(project, True, list_environments(client, project))
        except ApiError as error:
            if error.status == 404:
                return ProjectEnvironments(project, False)
            if error.status == 403:
                return (
                    f"cannot read the environments of project {project} (HTTP 403: the token"
                    " may not read environments); not checking that its environments exist"
                    " or which are critical"
                )
            raise

    ordered = sorted(set(projects))
    with ThreadPoolExecutor(max_workers=max(1, min(parallelism, len(ordered) or 1))) as pool:
        results = list(pool.map(one, ordered))
    found = {r.project: r for r in results if isinstance(r, ProjectEnvironments)}
    return EnvironmentReads(found, tuple(r for r in results if isinstance(r, str)))
