"""The access log never prints a secret: query values are redacted.

uvicorn logs every request line with its query string (``GET /api/events?ticket=...``).
A stream ticket is spent once used, but tokens pasted into URLs by hand, or keys of
other clients, are not; a log file outlives them all. :class:`RedactQuery` keeps the
names of query parameters and the values of the few that are known to be harmless.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

__all__ = ["KEPT", "RedactQuery", "redact", "redact_access_log"]

KEPT = frozenset({"last_event_id", "limit"})
"""Query parameters whose values the log may show."""


def redact(target: str) -> str:
    """Return a request target (``/path?query``) with every query value but those in
    :data:`KEPT` replaced by ``[redacted]``."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    shown = [(k, v if k in KEPT else "[redacted]") for k, v in pairs]
    return f"{path}?{urlencode(shown, safe='[]')}"


class RedactQuery(logging.Filter):
    """A filter for uvicorn's ``uvicorn.access`` logger, whose records carry
    ``(client, method, target, http_version, status)`` as their arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True


def redact_access_log(logger: logging.Logger | None = None) -> None:
    """Add :class:`RedactQuery` to uvicorn's access logger (once; call it after uvicorn
    configured logging, e.g. in the app's lifespan)."""
    logger = logger or logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in logger.filters):
        logger.addFilter(RedactQuery())
