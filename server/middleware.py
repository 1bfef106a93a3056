"""ASGI middleware for the safe defaults: which hosts and origins the server answers,
a token on ``/api``, and a request body limit.

All are plain ASGI (not ``BaseHTTPMiddleware``), so they cost nothing per streamed
chunk: they look at a request once and then hand the connection's ``send`` to the app
untouched. Their refusals are JSON in the API's one error shape.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response
from .tickets import StreamTickets

__all__ = [
    "LOOPBACK_HOSTS",
    "BodyLimitMiddleware",
    "HostMiddleware",
    "OriginMiddleware",
    "TokenMiddleware",
]

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_STREAM = re.compile(r"^/api/(sessions/[^/]+/)?events$")
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def host_name(host_header: str) -> str:
    """Return the host of a ``Host`` header value, lower case, without port or brackets
    (``[::1]:8000`` -> ``::1``, ``Example.org:80`` -> ``example.org``)."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, _, port = value.rpartition(":")
    return name if name and port.isdigit() else value


class HostMiddleware:
    """Answers only requests whose ``Host`` header names this server (400 otherwise).

    A web page cannot choose the ``Host`` its requests carry: after DNS rebinding
    (``evil.example`` re-pointed at 127.0.0.1) they still say ``evil.example``, so a
    loopback server that checks the header cannot be driven from that page. Patterns
    are Starlette's ``TrustedHostMiddleware``'s: exact names, ``*.example.org`` for
    subdomains, ``*`` for any; this class differs in answering in the API's JSON shape
    with the allowed names and the setting that adds one.

    Args:
        app: the wrapped app.
        allowed: host names or patterns; ``*`` turns the check off.
    """

    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        self.allowed = sorted({h.strip().lower().strip("[]") for h in allowed})
        self.any = "*" in self.allowed

    def allows(self, host: str) -> bool:
        """Whether ``host`` (a name, no port) matches an allowed name or pattern."""
        return self.any or any(
            host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
            for pattern in self.allowed
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.any or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"host")
        if given is not None and self.allows(host_name(given)):
            await self.app(scope, receive, send)
            return
        shown = "no Host header" if given is None else f"Host '{given}'"
        response = error_response(
            400,
            f"this server does not answer to {shown}: it answers to "
            f"{', '.join(self.allowed)}; to reach it under another name, add that name to "
            "COGPIPE_ALLOWED_HOSTS (allowed_hosts)",
        )
        await response(scope, receive, send)


class OriginMiddleware:
    """Refuses (403) requests that change something when a browser sends them from a
    page of another origin.

    Browsers send ``Origin`` with every POST/PUT/PATCH/DELETE; it must name this server
    (scheme aside, the same ``host:port`` as the ``Host`` header). A request without
    ``Origin`` (curl, scripts, the CLI) passes: it did not come from a web page. Reads
    (GET) are not checked: without CORS headers a foreign page cannot read the answer.

    Args:
        app: the wrapped app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        origin = _header(scope, b"origin") if scope["type"] == "http" else None
        if origin is None or scope["method"] not in _CHANGES or self._same(scope, origin):
            await self.app(scope, receive, send)
            return
        host = _header(scope, b"host") or "this server"
        response = error_response(
            403,
            f"{scope['method']} from a page of another origin ({origin}) is refused: this "
            f"server takes changes only from its own pages (http://{host}) or from clients "
            "that send no Origin header",
        )
        await response(scope, receive, send)

    @staticmethod
    def _same(scope: Scope, origin: str) -> bool:
        host = (_header(scope, b"host") or "").strip().lower()
        try:
            netloc = urlsplit(origin.strip()).netloc.lower()
        except ValueError:
            return False
        return bool(netloc) and netloc == host


class TokenMiddleware:
    """Requires ``token`` on every path under ``prefix``.

    A request passes with ``Authorization: Bearer <token>``. An event stream (GET
    ``/api/events`` or ``/api/sessions/{id}/events``; ``EventSource`` cannot set
    headers) passes with ``?ticket=<ticket>`` from ``POST /api/stream-tickets``
    instead (see :mod:`cogpipe.server.tickets`). A token in the URL is not accepted: it
    would end up in logs. Other paths (the HUD's static files, ``/docs``) stay public.
    Tokens are compared in constant time.

    Args:
        app: the wrapped app.
        token: the shared secret; ``None`` or empty turns the check off.
        tickets: the stream tickets handed out by this app.
        prefix: the guarded path prefix.
    """

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        tickets: StreamTickets | None = None,
        prefix: str = "/api",
    ) -> None:
        self.app = app
        self.token = (token or "").encode()
        self.tickets = tickets or StreamTickets()
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.token
            or scope["type"] not in ("http", "websocket")
            or not (scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/"))
        ):
            await self.app(scope, receive, send)
            return
        given = self._bearer(scope)
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if hmac.compare_digest(given, self.token) or self._ticket_opens(scope, query):
            await self.app(scope, receive, send)
            return
        if query.get("ticket") and not given:
            reason = "the stream ticket is unknown, used or expired: one ticket opens one stream"
        elif given:
            reason = "a wrong token was given"
        elif query.get("token"):
            reason = "a token in the URL is not accepted: it would end up in logs"
        else:
            reason = "no token was given"
        response = error_response(
            401,
            f"this server needs a token ({reason}): send 'Authorization: Bearer <token>' "
            "(the COGPIPE_TOKEN the server runs with); an event stream opens with "
            "'?ticket=<ticket>' from POST /api/stream-tickets",
        )
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)

    @staticmethod
    def _bearer(scope: Scope) -> bytes:
        value = _header(scope, b"authorization") or ""
        return value[7:].strip().encode("latin-1") if value[:7].lower() == "bearer " else b""

    def _ticket_opens(self, scope: Scope, query: dict[str, list[str]]) -> bool:
        tickets = query.get("ticket")
        return (
            bool(tickets)
            and scope.get("method") == "GET"
            and _STREAM.match(scope["path"]) is not None
            and self.tickets.redeem(tickets[-1])
        )


class BodyLimitMiddleware:
    """Answers 413 when a request body is larger than ``max_bytes``.

    A declared ``Content-Length`` over the limit is refused before anything is read; a
    body without one (chunked) is read up to the limit first, then handed to the app.

    Args:
        app: the wrapped app.
        max_bytes: the largest body accepted.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 128 * 1024) -> None:
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
