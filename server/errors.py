"""Error answers of the HTTP API: one JSON shape, ``{"error": "<sentence>", ...extra}``.

Route code raises :class:`ApiError` (or lets an engine error through); the handlers
installed by :func:`install_error_handlers` turn every error into that shape with a
fitting status, so a client never has to parse two formats.
"""

from __future__ import annotations

import textwrap
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cogpipe.engine import (
    GraphValidationError,
    SessionBusyError,
    StoreError,
    UnknownEntryError,
    UnknownGraphError,
    UnknownSessionError,
)
from cogpipe.engine.text import clean, first_unencodable

from .responses import SafeJSONResponse

__all__ = [
    "ApiError",
    "error_response",
    "install_error_handlers",
    "invalid_graph",
    "problem_texts",
]


class ApiError(Exception):
    """An error answer: HTTP ``status``, one actionable sentence, and extra JSON fields.

    Args:
        status: the HTTP status code.
        message: what went wrong and what to do about it.
        headers: response headers (``Retry-After`` ...).
        **extra: more fields for the body (``known``, ``problems`` ...).
    """

    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> SafeJSONResponse:
    """Return the JSON error answer ``{"error": message, **extra}`` (a message or an extra
    value that echoes bad input is repaired, never a reason to fail)."""
    return SafeJSONResponse({"error": message, **jsonable_encoder(extra)}, status_code=status)


def problem_texts(exc: GraphValidationError) -> list[str]:
    """Return each problem of an invalid graph as one text (``line N: what`` + details)."""
    return [textwrap.dedent(p.render()).strip() for p in exc.problems]


def invalid_graph(exc: GraphValidationError) -> ApiError:
    """Return the 409 answer for a graph that exists but cannot be run: the request is
    well formed, and what it names conflicts with the server's state (a broken file)."""
    name = exc.graph or exc.source
    count = len(exc.problems)
    return ApiError(
        409,
        f"graph '{name}' is invalid ({count} problem{'s' if count != 1 else ''}); fix "
        f"{exc.source} and restart the server, or choose another graph",
        problems=problem_texts(exc),
    )


def _from_engine(exc: Exception) -> ApiError:
    if isinstance(exc, UnknownGraphError):
        return ApiError(404, exc.message, known=exc.known)
    if isinstance(exc, UnknownSessionError):
        return ApiError(
            404,
            f"{exc.message}; create one with POST /api/sessions or list them with "
            "GET /api/sessions",
        )
    if isinstance(exc, GraphValidationError):
        return invalid_graph(exc)
    if isinstance(exc, SessionBusyError):
        return ApiError(409, exc.message)
    if isinstance(exc, UnknownEntryError):  # the session's graph takes no such event
        return ApiError(409, exc.message, known=exc.known)
    if isinstance(exc, StoreError):  # a full disk, a read-only database: try again later
        return ApiError(503, exc.message, headers={"Retry-After": "5"})
    raise TypeError(f"no API answer for {type(exc).__name__}")


async def _api_error(request: Request, exc: Exception) -> SafeJSONResponse:
    err = exc if isinstance(exc, ApiError) else _from_engine(exc)
    response = error_response(err.status, err.message, **err.extra)
    response.headers.update(err.headers)
    return response


_BODY_UNREADABLE = "There was an error parsing the body"  # FastAPI's words, routing.py


async def _http_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    text = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 404:
        text = f"no such path: {request.url.path}; the API is described at /docs"
    elif status == 405:
        allowed = allowed_methods(request) or headers.get("Allow", "").split(", ")
        headers["Allow"] = ", ".join(allowed)
        text = (
            f"{request.method} is not allowed on {request.url.path}; it answers "
            f"{', '.join(allowed)} (see /docs)"
        )
    elif status == 400 and text == _BODY_UNREADABLE:
        # The body is not JSON text at all (not UTF-8, nested past the parser's limit):
        # the same 422 as any other body that is not what the route takes.
        status = 422
        text = "invalid request: body: not JSON in UTF-8 (see 'detail')"
        return error_response(status, text, detail=[_body_problem(exc)])
    response = error_response(status, text)
    response.headers.update(headers)
    return response


def _body_problem(exc: StarletteHTTPException) -> dict[str, Any]:
    cause = exc.__cause__
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else _BODY_UNREADABLE
    return {"type": "json_invalid", "loc": ["body"], "msg": clean(reason)}


def allowed_methods(request: Request) -> list[str]:
    """Return the methods the OpenAPI schema lists for the request's path (sorted), or
    ``[]`` when the path is not in it; a 405's ``Allow`` header (RFC 9110, 15.5.6)
    must name every method of the path, not only one route's."""
    segments = request.url.path.split("/")
    for path, operations in request.app.openapi().get("paths", {}).items():
        template = path.split("/")
        if len(template) == len(segments) and all(
            t == s or (t.startswith("{") and s) for t, s in zip(template, segments, strict=True)
        ):
            return sorted(m.upper() for m in operations)
    return []


async def _validation_error(request: Request, exc: Exception) -> SafeJSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [_unencodable(e) for e in exc.errors()]
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    if first.get("type") == "json_invalid":  # its loc ends in a character position
        where = "body"
    elif first.get("type") == "unencodable_text":  # names the place inside the field
        where = first["ctx"]["where"]
    return error_response(
        422,
        f"invalid request: {where}: {first['msg']} (see 'detail' for every problem)",
        detail=[clean({k: v for k, v in e.items() if k != "ctx"}) for e in errors],
    )


def _unencodable(error: dict[str, Any]) -> dict[str, Any]:
    """Say what pydantic's ``string_unicode`` error about a str field means and where."""
    if error.get("type") != "string_unicode":
        return error
    field = [p for p in error["loc"] if p != "body"]
    bad = first_unencodable(error.get("input"), tuple(field))
    if bad is None:
        return error
    return {**error, "type": "unencodable_text", "msg": bad[1], "ctx": {"where": bad[0]}}


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer ``{"error": ...}`` with a fitting status."""
    app.add_exception_handler(ApiError, _api_error)
    for cls in (
        UnknownGraphError,
        UnknownSessionError,
        GraphValidationError,
        SessionBusyError,
        UnknownEntryError,
        StoreError,
    ):
        app.add_exception_handler(cls, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
