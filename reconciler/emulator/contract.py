"""Runtime validation of the emulator's traffic against LaunchDarkly's OpenAPI contract.

The shipped ``openapi.json`` is a verbatim copy of
``shared/launchdarkly/big-segment-store.openapi.json``.
``load_contract`` adapts it for validation in three documented ways and no others:

* its servers are replaced by the relative server ``/``, so any emulator URL matches;
* the spec's ``format: "string"`` on path parameters (no such format exists) is accepted;
* list items may omit ``config``: the schema's ``required`` says otherwise, but its own
  description says config is "only included when requesting a single integration by ID", which
  is what LaunchDarkly does. List items are therefore checked against a copy of
  ``BigSegmentStoreIntegration`` without ``config`` in ``required``.

``ContractValidator`` checks werkzeug requests and responses and returns readable messages.
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from collections.abc import Iterator
from importlib import resources
from typing import Any

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.wrappers import Request, Response

LIST_ITEM_SCHEMA = "BigSegmentStoreIntegrationListItem"


def load_spec() -> dict[str, Any]:
    """The shipped OpenAPI document, unmodified."""
    text = resources.files("reconciler.emulator").joinpath("openapi.json").read_text("utf-8")
    spec: dict[str, Any] = json.loads(text)
    return spec


def adapt_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with the adaptations listed in the module docstring."""
    out = copy.deepcopy(spec)
    out["servers"] = [{"url": "/"}]
    schemas = out["components"]["schemas"]
    item = copy.deepcopy(schemas["BigSegmentStoreIntegration"])
    item["required"] = [r for r in item["required"] if r != "config"]
    schemas[LIST_ITEM_SCHEMA] = item
    schemas["BigSegmentStoreIntegrationCollection"]["properties"]["items"]["items"] = {
        "$ref": f"#/components/schemas/{LIST_ITEM_SCHEMA}"
    }
    return out


def load_contract(spec: dict[str, Any] | None = None) -> OpenAPI:
    """An ``OpenAPI`` object for the adapted spec (the shipped one by default)."""
    config = Config(
        extra_format_validators={"string": lambda value: isinstance(value, str)},
        extra_format_unmarshallers={"string": str},
    )
    return OpenAPI.from_dict(adapt_spec(spec if spec is not None else load_spec()), config=config)


def _describe(error: BaseException) -> Iterator[str]:
    """Flatten an openapi-core error and its causes into readable lines."""
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None)
    if schema_errors:
        for schema_error in schema_errors:
            where = "/".join(str(p) for p in schema_error.absolute_path)
            yield f"{where or '(body)'}: {schema_error.message}" if where else schema_error.message
        return
    name = getattr(error, "name", None)
    detail = str(cause) if cause is not None else ""
    text = f"{type(error).__name__}"
    if name:
        text += f" {name!r}"
    if cause is not None:
        text += f": {type(cause).__name__}"
        if detail:
            text += f" ({detail})"
    elif str(error):
        text += f": {error}"
    yield text


class ContractValidator:
    """Validates requests and responses against the contract. Thread-safe."""

    def __init__(self, spec: dict[str, Any] | None = None) -> None:
        self._api = load_contract(spec)
        self._lock = threading.Lock()

    def request_errors(self, request: Request) -> list[str]:
        """Why ``request`` breaks the contract (empty when it does not)."""
        with self._lock:
            result = self._api.unmarshal_request(WerkzeugOpenAPIRequest(request))
        return [line for error in result.errors for line in _describe(error)]

    def response_errors(
        self, request: Request, response: Response, *, undeclared_ok: bool = False
    ) -> list[str]:
        """Why ``response`` (to ``request``) breaks the contract. Exchanges for which the
        contract has no operation are not checked; with ``undeclared_ok`` a status the
        operation does not declare is accepted (injected faults)."""
        with self._lock:
            result = self._api.unmarshal_response(
                WerkzeugOpenAPIRequest(request), WerkzeugOpenAPIResponse(response)
            )
        lines: list[str] = []
        for error in result.errors:
            if isinstance(error, PathNotFound | OperationNotFound):
                continue
            if undeclared_ok and isinstance(error, ResponseNotFound):
                continue
            lines.extend(_describe(error))
        return lines


@functools.cache
def default_validator() -> ContractValidator:
    """One shared validator for the shipped contract (building one takes a while)."""
    return ContractValidator()
