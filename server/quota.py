"""How many sessions one client may create per minute (``sessions_per_minute``).

The counting is the ``limits`` library's moving window over its in-memory storage
(which expires old entries itself, so memory stays bounded): a client past its quota
gets 429 with ``Retry-After`` in seconds (RFC 9110, section 10.2.3).
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from .errors import ApiError

__all__ = ["SessionQuota"]


class SessionQuota:
    """Counts the sessions each client creates in a moving window of one minute.

    Args:
        per_minute: sessions one client may create per minute; 0 turns the limit off.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._item = RateLimitItemPerMinute(max(per_minute, 1))
        self._limiter = MovingWindowRateLimiter(MemoryStorage()) if per_minute else None

    def take(self, client: str) -> None:
        """Count one session created by ``client`` (its address).

        Raises:
            ApiError: 429 with a ``Retry-After`` header when the quota is used up.
        """
        if self._limiter is None or self._limiter.hit(self._item, "sessions", client):
            return
        reset = self._limiter.get_window_stats(self._item, "sessions", client).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        raise ApiError(
            429,
            f"too many new sessions: at most {self.per_minute} per minute from one client "
            f"(setting sessions_per_minute); retry in {wait} s or reuse a session",
            headers={"Retry-After": str(wait)},
            retry_after_s=wait,
        )
