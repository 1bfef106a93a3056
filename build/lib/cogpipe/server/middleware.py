"""ASGI middleware for the safe defaults: a token on ``/api`` and a request body limit.

Both are plain ASGI (not ``BaseHTTPMiddleware``), so they cost nothing per streamed
chunk: they look at a request once and then hand the connection's ``send`` to the app
untouched.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

__all__ = ["BodyLimitMiddleware", "TokenMiddleware"]


class TokenMiddleware:
    """Requires ``token`` on every path under ``prefix``.

    A request passes with ``Authorization: Bearer <token>`` or, for ``EventSource``
    (which cannot set headers), the query parameter ``?token=<token>``. Other paths
    (the HUD's static files, ``/docs``) stay public. Tokens are compared in constant
    time.

    Args:
        app: the wrapped app.
        token: the shared secret; ``None`` or empty turns the check off.
        prefix: the guarded path prefix.
    """

    def __init__(self, app: ASGIApp, token: str | None, prefix: str = "/api") -> None:
        self.app = app
        self.token = (token or "").encode()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.token
            or scope["type"] not in ("http", "websocket")
            or not (scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/"))
            or self._allowed(scope)
        ):
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        reason = "a wrong token was given" if given else "no token was given"
        response = error_response(
            401,
            f"this server needs a token ({reason}): send 'Authorization: Bearer <token>' "
            "or add '?token=<token>'; the token is the COGPIPE_TOKEN the server runs with",
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)

    def _given(self, scope: Scope) -> bytes:
        for name, value in scope.get("headers", ()):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return value[7:].strip()
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        values = query.get("token")
        return values[-1].encode() if values else b""

    def _allowed(self, scope: Scope) -> bool:
        return hmac.compare_digest(self._given(scope), self.token)


class BodyLimitMiddleware:
    """Answers 413 when a request body is larger than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    body without one (chunked) is read up to the limit first, then handed to the app.

    Args:
        app: the wrapped app.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None:
            if not length.isdigit() or int(length) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body too large: the limit is {self.max_bytes // 1024} KiB; "
            "send less (messages are limited to 8000 characters)",
        )
        await response(scope, receive, send)
