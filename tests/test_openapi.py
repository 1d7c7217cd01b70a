"""The OpenAPI document and the docs page, as the running server serves them."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

import aiohttp
import msgspec

from chapar.protocol.methods import METHODS
from tests.server import ServerProcess


async def fetch_doc(server: ServerProcess, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.get(f"{server.url}/api/openapi.json") as r:
        assert r.status == 200
        assert r.content_type == "application/json"
        doc: dict[str, Any] = await r.json()
    return doc


def refs(node: Any) -> Iterator[str]:
    """Every "$ref" anywhere in a JSON value."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, ref
        node = node[part]
    return node


async def test_openapi_document_lists_every_method(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    doc = await fetch_doc(server, http)
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"]
    assert set(doc["paths"]) == {f"/api/{name}" for name in METHODS}
    op_ids = [item["post"]["operationId"] for item in doc["paths"].values()]
    assert len(op_ids) == len(set(op_ids)) == len(METHODS)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
    for name, spec in METHODS.items():
        item = doc["paths"][f"/api/{name}"]
        assert set(item) == {"post"}, name
        op = item["post"]
        assert op["summary"] == spec.summary
        assert ("security" in op) == spec.auth, name
        if spec.auth:
            assert op["security"] == [{"bearer": []}]
        body = op["requestBody"]
        assert body["required"] is True
        params = resolve(doc, body["content"]["application/json"]["schema"]["$ref"])
        assert params["type"] == "object"
        # The params schema matches the method table: its fields, required ones, no extras.
        fields = {f.encode_name for f in msgspec.structs.fields(spec.params)}
        required = {f.encode_name for f in msgspec.structs.fields(spec.params) if f.required}
        assert set(params.get("properties", {})) == fields, name
        assert set(params.get("required", [])) == required, name
        assert params.get("additionalProperties") is False, name
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["required"] == ["ok", "result"] and ok["properties"]["ok"] == {"const": True}
        error = op["responses"]["4XX"]["content"]["application/json"]["schema"]
        err_body = resolve(doc, error["properties"]["error"]["$ref"])
        assert {"code", "type", "message"} <= set(err_body["required"])


async def test_every_reference_resolves(server: ServerProcess, http: aiohttp.ClientSession) -> None:
    doc = await fetch_doc(server, http)
    found = list(refs(doc))
    assert found
    for ref in found:
        target = resolve(doc, ref)
        assert isinstance(target, dict) and target, ref
    # Update types are documented as the tagged union the wire carries.
    schemas = doc["components"]["schemas"]
    assert "UpdateNewMessage" in schemas
    assert schemas["UpdateNewMessage"]["properties"]["type"] == {"enum": ["updateNewMessage"]}


async def test_docs_page_is_html_listing_the_methods(
    server: ServerProcess, http: aiohttp.ClientSession
) -> None:
    async with http.get(f"{server.url}/api/docs") as r:
        assert r.status == 200
        assert r.content_type == "text/html"
        page = await r.text()
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "/api/openapi.json" in page
    for name, spec in METHODS.items():
        assert f"<code>{html.escape(name)}</code>" in page, name
        assert html.escape(spec.summary) in page, name
    # Self-contained: the page works on networks without internet access.
    assert "<script src" not in page.lower() and "https://" not in page
