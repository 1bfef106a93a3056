"""Forward trace events as hook-style events to a dashboard (``COGPIPE_HOOKS_URL``).

:class:`HookForwarder` is a trace observer: the engine hands it each event, it maps it
(:func:`cogpipe.hooks.to_hook_event`) and appends it to a bounded queue, and returns;
one background task POSTs the queue's events in order, one per request (the
dashboard's ``POST /events`` takes one event per request, so there is nothing to
batch), over one keep-alive connection (``httpx2``, the httpx the openai and mcp SDKs
use). A run never waits for the receiver: when the queue is full the oldest event is
dropped. Counters: ``sent``, ``dropped`` (queue overflow), ``failed`` (given up after
retries, or refused with a 4xx); ``GET /api/health`` shows them under ``hooks``.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from typing import Any

import anyio
import anyio.abc
import httpx2

from cogpipe.engine import Observer, TraceEvent
from cogpipe.engine.text import clean_json

from .hooks import to_hook_event

__all__ = ["HookForwarder"]

log = logging.getLogger(__name__)

_RETRY_STATUSES = {408, 425, 429}


class HookForwarder(Observer):
    """POSTs every trace event, as a hook-style event, to ``url``.

    Use it as an async context manager (it owns the sending task) and add it to the
    runtime's observers. Leaving it waits up to ``flush_s`` for the queue to drain, so a
    short-lived process (``cogpipe run``) still delivers its events.

    Args:
        url: the receiver, e.g. ``http://localhost:4000/events``.
        source_app: the ``source_app`` of every event.
        max_queue: events waiting at most; past it the oldest is dropped.
        timeout_s: time limit of one POST, seconds.
        retries: attempts after the first for a connection error, a 5xx, 408, 425 or
            429; a 4xx otherwise is final (the receiver will not take that event).
        backoff_s: the first retry's wait, doubled for each further one (with jitter).
        flush_s: how long leaving waits for queued events to be delivered, seconds.
    """

    def __init__(
        self,
        url: str,
        source_app: str = "cogpipe",
        *,
        max_queue: int = 10_000,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        flush_s: float = 2.0,
    ) -> None:
        if max_queue < 1:
            raise ValueError("max_queue must be at least 1")
        self.url, self.source_app = url, source_app
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.flush_s = flush_s
        self._posting = False  # a POST (or its retries) is under way
        self.sent = self.dropped = self.failed = 0
        self._queue: deque[dict[str, Any]] = deque()
        self._max = max_queue
        self._wake: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._first_failure = True

    def stats(self) -> dict[str, Any]:
        """Return ``{url, source_app, sent, dropped, failed, queued}``."""
        return {
            "url": self.url,
            "source_app": self.source_app,
            "sent": self.sent,
            "dropped": self.dropped,
            "failed": self.failed,
            "queued": len(self._queue),
        }

    def on_event(self, event: TraceEvent) -> None:
        hook = to_hook_event(event, self.source_app)
        if hook is None:
            return
        if len(self._queue) >= self._max:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(hook)
        if self._wake is not None:
            self._wake.set()

    async def __aenter__(self) -> HookForwarder:
        self._wake = anyio.Event()
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._send_all, name="hook forwarder")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            with anyio.move_on_after(self.flush_s):
                while self._queue or self._posting:
                    await anyio.sleep(0.02)
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    async def _send_all(self) -> None:
        async with httpx2.AsyncClient(timeout=self.timeout_s) as client:
            while True:
                assert self._wake is not None
                await self._wake.wait()
                self._wake = anyio.Event()
                while self._queue:
                    self._posting = True
                    try:
                        await self._post(client, self._queue.popleft())
                    finally:
                        self._posting = False

    async def _post(self, client: httpx2.AsyncClient, hook: dict[str, Any]) -> None:
        """Deliver one event, retrying what may pass later; count the outcome."""
        body = clean_json(hook)  # a lone surrogate in user text cannot fail the POST
        headers = {"Content-Type": "application/json"}
        for attempt in range(self.retries + 1):
            try:
                response = await client.post(self.url, content=body, headers=headers)
            except httpx2.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    self.sent += 1
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code < 500 and response.status_code not in _RETRY_STATUSES:
                    break  # the receiver refuses this event: retrying will not help
            if attempt < self.retries:
                await anyio.sleep(self.backoff_s * 2**attempt * (1 - 0.25 * random.random()))
        self.failed += 1
        if self._first_failure:  # once, not once per event while a receiver is down
            self._first_failure = False
            log.warning("hook events to %s are not delivered: %s", self.url, problem)
