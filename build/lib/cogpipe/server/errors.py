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
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from cogpipe.engine import (
    GraphValidationError,
    SessionBusyError,
    UnknownEntryError,
    UnknownGraphError,
    UnknownSessionError,
)

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
        **extra: more fields for the body (``known``, ``problems`` ...).
    """

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(status: int, message: str, **extra: Any) -> JSONResponse:
    """Return the JSON error answer ``{"error": message, **extra}``."""
    return JSONResponse({"error": message, **jsonable_encoder(extra)}, status_code=status)


def problem_texts(exc: GraphValidationError) -> list[str]:
    """Return each problem of an invalid graph as one text (``line N: what`` + details)."""
    return [textwrap.dedent(p.render()).strip() for p in exc.problems]


def invalid_graph(exc: GraphValidationError) -> ApiError:
    """Return the 400 answer for a graph that exists but cannot be run."""
    name = exc.graph or exc.source
    count = len(exc.problems)
    return ApiError(
        400,
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
    if isinstance(exc, UnknownEntryError):
        return ApiError(400, exc.message, known=exc.known)
    raise TypeError(f"no API answer for {type(exc).__name__}")


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    err = exc if isinstance(exc, ApiError) else _from_engine(exc)
    return error_response(err.status, err.message, **err.extra)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    text = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404:
        text = f"no such path: {request.url.path}; the API is described at /docs"
    elif exc.status_code == 405:
        text = f"{request.method} is not allowed on {request.url.path}; see /docs"
    response = error_response(exc.status_code, text)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
    if first.get("type") == "json_invalid":  # its loc ends in a character position
        where = "body"
    return error_response(
        422,
        f"invalid request: {where}: {first['msg']} (see 'detail' for every problem)",
        detail=[{k: v for k, v in e.items() if k != "ctx"} for e in errors],
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` answer ``{"error": ...}`` with a fitting status."""
    app.add_exception_handler(ApiError, _api_error)
    for cls in (
        UnknownGraphError,
        UnknownSessionError,
        GraphValidationError,
        SessionBusyError,
        UnknownEntryError,
    ):
        app.add_exception_handler(cls, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
