"""Fuzzing the API response parser: any body gives a valid result or the project's own error.

The pure chain (``netlimits.decode_json`` then ``wire.parse_list`` / ``parse_full``) must
return stores or raise ``Malformed``; the client over ``httpx.MockTransport`` must return
stores or raise ``ApiError``/``TransportError``, whatever the status and body. Inputs: random
JSON-ish values (huge integers, floats, wrong types, lone surrogates), store-shaped objects
with random field values, random bytes and deep nesting. Valid results must be printable and
JSON-encodable (no integers beyond 64 bits, no invalid Unicode).

The default run is short (``RECONCILER_FUZZ_EXAMPLES``, default 150 examples per test);
``RECONCILER_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_responses.py`` runs longer.
"""

from __future__ import annotations

import json
import os
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import escape
from reconciler.api.client import API_PREFIX, Client, ConnectionSettings, RetryPolicy
from reconciler.api.limits import decode_json
from reconciler.api.wire import Malformed, parse_full, parse_list
from reconciler.errors import ApiError, TransportError
from reconciler.model import LiveStore

EXAMPLES = int(os.environ.get("RECONCILER_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
INT64 = 2**63

any_text = st.text(st.characters(codec=None), max_size=30)  # surrogates and controls too
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
    | st.sampled_from(["1", "1.0", "1e400", "-5", "NaN", "12345678901234567890123"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=20,
)
FIELDS = ("_id", "projectKey", "environmentKey", "integrationKey", "name", "on", "tags")
store_like = st.fixed_dictionaries(
    {},
    optional={
        **{key: json_values | st.text(min_size=1, max_size=8) for key in FIELDS},
        "version": st.integers() | json_values,
        "config": json_values,
        "_status": st.fixed_dictionaries(
            {},
            optional={
                key: json_values
                for key in ("available", "potentiallyStale", "lastSync", "lastError", "errors")
            },
        )
        | json_values,
    },
)
documents = (
    json_values
    | store_like
    | st.builds(lambda items: {"items": items}, st.lists(store_like | json_values, max_size=4))
)


def encode(document: object, ascii_only: bool) -> bytes:
    """JSON bytes; ``ascii_only=False`` may write lone surrogates as (invalid) raw UTF-8."""
    text = json.dumps(document, ensure_ascii=ascii_only, allow_nan=True)
    return text.encode("utf-8", "surrogatepass")


def nested(depth: int, opener: str) -> bytes:
    closer = {"[": "]", '{"a":': "}"}[opener]
    return (opener * depth + "1" + closer * depth).encode()


bodies = (
    st.builds(encode, documents, st.booleans())
    | st.binary(max_size=200)
    | st.builds(nested, st.integers(1, 3000), st.sampled_from(["[", '{"a":']))
    | st.builds(lambda n: b'{"items": [' + b"9" * n + b"]}", st.integers(1, 6000))
)


def assert_printable(store: LiveStore) -> None:
    """What renderers and the JSON plan need of a parsed store."""
    assert -INT64 < store.version < INT64
    for number in (store.status.last_sync, store.status.last_error):
        assert number is None or -INT64 < number < INT64
    values = [store.id, store.name, *store.tags, *(e.message for e in store.status.errors)]
    for value in values:
        assert "\n" not in escape.text(value) and "\x1b" not in escape.text(value)
    orjson.dumps({"name": store.name, "tags": list(store.tags), "config": store.config})


@FUZZ
@given(bodies)
def test_any_body_parses_to_stores_or_a_malformed_error(body: bytes) -> None:
    for parse in (parse_list, parse_full):
        try:
            result: Any = parse(decode_json(body))
        except Malformed as exc:
            assert str(exc)
            continue
        for store in result if isinstance(result, list) else [result]:
            assert_printable(store)


STATUSES = st.sampled_from([200, 201, 204, 301, 302, 400, 404, 409, 429, 500, 503])
HEADERS = st.dictionaries(
    st.sampled_from(["Content-Type", "Location", "Retry-After", "X-Ratelimit-Reset"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


@FUZZ
@given(STATUSES, HEADERS, bodies)
def test_the_client_answers_any_response_with_stores_or_its_own_error(
    status: int, headers: dict[str, str], body: bytes
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, content=body)

    settings_ = ConnectionSettings(api_host="https://ld.example.com", token="api-fuzz-token")
    with Client(
        settings_,
        transport=httpx.MockTransport(handler),
        retry=RetryPolicy(max_attempts=1),
        pacing=False,
    ) as client:
        try:
            stores = client.list_stores()
            store = client.get_store("p", "e", "redis", "id")
        except (ApiError, TransportError) as exc:
            message = str(exc)
            assert API_PREFIX in message or "ld.example.com" in message
            assert "api-fuzz-token" not in message
            assert "\n" not in message and "\x1b" not in message
            return
    for live in [*stores, store]:
        assert_printable(live)
