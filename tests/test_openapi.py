"""The OpenAPI schema states the real constraints: collection names, the filter grammar, error shapes."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.errors import FilterError
from rag.filters import parse_filter


@cache
def _openapi(tmp_path: Path) -> dict:
    return create_app(Settings(data_dir=tmp_path)).openapi()


def test_collection_pattern_and_error_shapes_are_stated(tmp_path: Path) -> None:
    api = _openapi(tmp_path)
    search = api["components"]["schemas"]["SearchRequest"]["properties"]
    assert {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"} in search["collection"]["anyOf"]
    form = api["components"]["schemas"]["Body_upload_documents_v1_documents_post"]["properties"]["collection"]
    delete = api["paths"]["/v1/documents/{doc_id}"]["delete"]["parameters"]
    assert form["pattern"] == next(p for p in delete if p["name"] == "collection")["schema"]["pattern"]
    upload = api["paths"]["/v1/documents"]["post"]["responses"]
    assert {"400", "409", "413", "422", "507"} <= set(upload)
    assert upload["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/HTTPValidationError")
    assert upload["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")


scalar = st.one_of(
    st.text(max_size=12), st.integers(-(2**64), 2**64), st.booleans(), st.floats(allow_nan=False), st.none()
)
condition = st.one_of(
    scalar,
    st.lists(scalar, max_size=3),
    st.fixed_dictionaries({"any": st.lists(scalar, max_size=3)}),
    st.dictionaries(
        st.sampled_from(["gte", "gt", "lte", "lt", "eq"]),
        scalar | st.sampled_from(["2024-01-01", "2024-01-01T10:00:00Z", "20240101"]),
        max_size=2,
    ),
)


@settings(max_examples=300, deadline=None)
@given(flt=st.dictionaries(st.sampled_from(["source", "year", "metadata.tag", "", "a.b"]), condition, max_size=3))
def test_every_filter_the_server_accepts_is_valid_by_the_schema(tmp_path_factory, flt) -> None:
    schema = _openapi(tmp_path_factory.getbasetemp())["components"]["schemas"]["SearchRequest"]["properties"]["filter"]
    try:
        parse_filter(flt)
    except FilterError:
        return
    jsonschema.validate(flt, schema)  # a client validating against the schema never refuses a working filter


def test_streamed_chat_completions_are_documented_as_server_sent_events(tmp_path: Path) -> None:
    content = _openapi(tmp_path)["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/event-stream"}  # schemathesis: ST105 without it
