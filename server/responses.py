"""JSON answers that cannot fail on one bad value.

Starlette's :class:`~starlette.responses.JSONResponse` raises when the content holds
a lone surrogate (UTF-8 cannot encode it) or ``NaN`` (JSON has no such number); such a
value can come from a model's reply stored in a session or a run's outputs. A raise
there is a 500 for that resource on every later request. :class:`SafeJSONResponse`
repairs the content instead (see :mod:`cogpipe.engine.text`) and logs where.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from cogpipe.engine.text import clean, report

__all__ = ["SafeJSONResponse"]


class SafeJSONResponse(JSONResponse):
    """A JSON answer whose content is repaired, not refused, when it cannot be encoded.

    The app's default response class: FastAPI then renders every route's result
    through :meth:`render` (instead of its faster pydantic path, which would raise).
    """

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except ValueError:  # UnicodeEncodeError (a lone surrogate) or NaN/Infinity
            report("HTTP response")
            return super().render(clean(content))
