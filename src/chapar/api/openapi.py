"""The OpenAPI 3.1 document, generated from the method table (protocol/methods.py), and a
self-contained HTML page that lists the methods (no external scripts: the docs work on
networks without internet access)."""

from __future__ import annotations

import html
from typing import Any

import msgspec

from chapar import __version__
from chapar.protocol import methods as m
from chapar.protocol.envelope import ErrorBody


def build_openapi() -> dict[str, Any]:
    specs = list(m.METHODS.values())
    types: list[Any] = [s.params for s in specs] + [s.result for s in specs] + [ErrorBody]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    params_refs, result_refs = schemas[: len(specs)], schemas[len(specs) : 2 * len(specs)]
    error_ref = schemas[-1]
    error_envelope = {
        "type": "object",
        "required": ["ok", "error"],
        "properties": {"ok": {"const": False}, "error": error_ref},
    }
    paths: dict[str, Any] = {}
    for spec, p_ref, r_ref in zip(specs, params_refs, result_refs, strict=True):
        op: dict[str, Any] = {
            "operationId": spec.name.replace(".", "_"),
            "summary": spec.summary,
            "tags": [spec.name.split(".")[0]],
            "requestBody": {"required": True, "content": {"application/json": {"schema": p_ref}}},
            "responses": {
                "200": {
                    "description": "success",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["ok", "result"],
                                "properties": {"ok": {"const": True}, "result": r_ref},
                            }
                        }
                    },
                },
                "4XX": {
                    "description": "client error",
                    "content": {"application/json": {"schema": error_envelope}},
                },
            },
        }
        if spec.auth:
            op["security"] = [{"bearer": []}]
        paths[f"/api/{spec.name}"] = {"post": op}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Chapar API",
            "version": __version__,
            "description": "Every method is POST /api/<method> with a JSON object body, and the same "
            "method over the WebSocket at /api/ws as {id, method, params}.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def docs_html(doc: dict[str, Any]) -> str:
    rows = []
    for path, item in doc["paths"].items():
        op = item["post"]
        name = path.removeprefix("/api/")
        lock = "yes" if "security" in op else "no"
        params = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[
            -1
        ]
        fields = doc["components"]["schemas"][params].get("properties", {})
        plist = ", ".join(html.escape(k) for k in fields) or "—"
        rows.append(
            f"<tr><td><code>{html.escape(name)}</code></td><td>{html.escape(op['summary'])}</td>"
            f"<td>{plist}</td><td>{lock}</td></tr>"
        )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Chapar API</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}"
        "td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:left}</style></head>"
        f"<body><h1>Chapar API {html.escape(doc['info']['version'])}</h1>"
        f"<p>{html.escape(doc['info']['description'])} The full schema is in "
        "<a href='/api/openapi.json'>/api/openapi.json</a>.</p>"
        "<table><tr><th>method</th><th>what it does</th><th>params</th><th>needs sign-in</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
