"""One-time tickets that open an event stream without putting the token in a URL.

A browser's ``EventSource`` cannot send an ``Authorization`` header, so the token used
to travel as ``?token=`` and ended up in access logs, proxy logs and browser history.
Instead, the page asks ``POST /api/stream-tickets`` (with its bearer token) for a
ticket and opens ``/api/events?ticket=...``: a ticket opens one stream, once, within
:data:`TICKET_TTL_S` seconds, so a ticket that is logged is already spent.

A ticket was chosen over an HttpOnly ``SameSite=Strict`` cookie because browsers scope
cookies by host, not port: a cookie set by a cogpipe server on ``127.0.0.1:8000`` is
also sent to every other service on ``127.0.0.1``, and it would authenticate every
request (a CSRF surface), not one stream.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["TICKET_TTL_S", "StreamTickets"]

TICKET_TTL_S = 60.0
"""Seconds a stream ticket stays valid."""


class StreamTickets:
    """The tickets handed out and not yet used or expired.

    Args:
        ttl_s: seconds a ticket stays valid.
        max_open: tickets kept at most; past it the oldest are dropped (a client that
            asks for tickets and never uses them cannot grow memory).
        clock: monotonic seconds (a test may pass its own).
    """

    def __init__(
        self,
        ttl_s: float = TICKET_TTL_S,
        max_open: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_open = max_open
        self._clock = clock
        self._open: OrderedDict[str, float] = OrderedDict()  # ticket -> expiry, oldest first

    def issue(self) -> str:
        """Return a new ticket (32 URL-safe characters, 192 random bits)."""
        self._expire()
        ticket = secrets.token_urlsafe(24)
        self._open[ticket] = self._clock() + self.ttl_s
        while len(self._open) > self.max_open:
            self._open.popitem(last=False)
        return ticket

    def redeem(self, ticket: str) -> bool:
        """Use ``ticket`` up: ``True`` once for a ticket issued less than ``ttl_s`` ago,
        ``False`` for an unknown, expired or already used one."""
        self._expire()
        return self._open.pop(ticket, None) is not None

    def _expire(self) -> None:
        now = self._clock()
        while self._open and next(iter(self._open.values())) <= now:
            self._open.popitem(last=False)
