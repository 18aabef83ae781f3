"""LaunchDarkly's environment reads (API-NOTES §9): which projects and environments exist, which
are critical, and the client-side IDs ``verify`` needs.

``list_environments`` pages through ``GET /api/v2/projects/{p}/environments`` (not beta: it
sends ``LD-API-Version: 20240415``) into ``Environment`` values holding only the key,
``critical`` and ``_id`` (the client-side ID, the key prefix LaunchDarkly's SDKs read big
segments under); the SDK and mobile keys in the same answers are secrets and are never parsed,
logged or kept. ``read_environments`` does that for every project a plan touches: a 404 means
the project does not exist, and a 403 (a token that may not read environments) turns into a
warning instead of an answer, so existence is simply not checked. ``find_client_side_ids`` asks
once per project for the environments ``verify`` needs and says, as warnings, what it could not
find. Any other failure is the caller's ``ApiError``/``TransportError``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from reconciler.api.client import Client
from reconciler.api.fanout import each
from reconciler.api.routes import ENVIRONMENTS_PAGE, ENVIRONMENTS_VERSION, environments_path
from reconciler.api.wire import parse_environments
from reconciler.errors import ApiError
from reconciler.model import Environment, ProjectEnvironments

PAGE_SIZE = ENVIRONMENTS_PAGE
"""Environments asked for per page: LaunchDarkly's default."""
MAX_PAGES = 500
"""A listing that has not ended after this many pages is a server error, not a loop."""


def list_environments(client: Client, project: str) -> tuple[Environment, ...]:
    """Every environment of ``project``, all pages, in LaunchDarkly's order (a key listed twice
    is kept once). The listing ends at ``totalCount``, or, when the server gives none, at a
    short page. ``ApiError`` 404: no such project; 403: the token may not read environments."""
    found: dict[str, Environment] = {}
    offset = 0
    for _ in range(MAX_PAGES):
        page, total = client.read(
            environments_path(project, offset),
            lambda data: parse_environments(data, project),
            version=ENVIRONMENTS_VERSION,
        )
        for environment in page:
            found.setdefault(environment.key, environment)
        offset += len(page)
        if not page or (offset >= total if total is not None else len(page) < PAGE_SIZE):
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
    results = each(one, ordered, parallelism)
    found = {r.project: r for r in results if isinstance(r, ProjectEnvironments)}
    return EnvironmentReads(found, tuple(r for r in results if isinstance(r, str)))


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
