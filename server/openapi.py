"""The OpenAPI document at ``/openapi.json``: what FastAPI derives from the routes, plus
what only the running app knows.

* **Security schemes**: the token (``token``, HTTP bearer) and the stream ticket
  (``streamTicket``, query parameter ``ticket``). When the server runs with a token,
  every ``/api`` operation and ``/metrics`` require it (event streams: it or a ticket).
* **Graph names**: a request body that names a graph (``SessionCreate.graph``,
  ``SwitchGraph.graph``, ``GraphChoice.name``) takes one of the valid graphs of the
  running server, so the schema lists them as an ``enum`` (Swagger UI shows a menu; a
  client generator or a fuzzer knows what is accepted). The catalog is read when the
  server starts, so the list holds until it restarts.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["finish_openapi"]

_STREAM_PATHS = ("/api/events", "/api/sessions/{session_id}/events")
_GRAPH_FIELDS = {"SessionCreate": "graph", "SwitchGraph": "graph", "GraphChoice": "name"}
_SCHEMES = {
    "token": {
        "type": "http",
        "scheme": "bearer",
        "description": "COGPIPE_TOKEN, as 'Authorization: Bearer <token>'",
    },
    "streamTicket": {
        "type": "apiKey",
        "in": "query",
        "name": "ticket",
        "description": "a one-time ticket from POST /api/stream-tickets (event streams)",
    },
}


def finish_openapi(app: FastAPI, guarded: bool) -> None:
    """Make ``app.openapi()`` add the security schemes and, once the runtime is up, the
    valid graph names (see the module docstring).

    Args:
        app: the app; its ``state.runtime`` is read when the schema is asked for.
        guarded: whether the server runs with a token.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached; the changes below are the same every time
        schema.setdefault("components", {})["securitySchemes"] = _SCHEMES
        if guarded:
            for path, operations in schema["paths"].items():
                if path.startswith("/api/") or path == "/metrics":
                    stream = [{"streamTicket": []}] if path in _STREAM_PATHS else []
                    for operation in operations.values():
                        operation["security"] = [{"token": []}, *stream]
        runtime = getattr(app.state, "runtime", None)
        if runtime is not None and runtime.catalog.names():  # an enum needs a member
            _graph_names(schema, runtime.catalog.names())
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _graph_names(schema: dict[str, Any], names: list[str]) -> None:
    """Give the string form of each body field that names a graph ``enum: names``."""
    models = schema.get("components", {}).get("schemas", {})
    for model, field in _GRAPH_FIELDS.items():
        prop = models.get(model, {}).get("properties", {}).get(field)
        if prop is None:
            continue
        for form in prop.get("anyOf", [prop]):
            if form.get("type") == "string":
                form["enum"] = names
