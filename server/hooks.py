"""Hook-style events from other agents: the federated HUD's inbound side.

Other agents (Claude Code hook scripts, another cogpipe's forwarder) POST events in the
multi-agent observability dashboard's schema (:class:`cogpipe.hooks.HookEvent`) to
``POST /api/hooks/events``; each ``source_app`` + ``session_id`` becomes an external
session the HUD's Agents dialog lists with its own event log and tool timeline. The
same token check and body limit as the rest of ``/api`` apply (the app's middleware).

Memory is bounded: :data:`MAX_SESSIONS` external sessions (the least recently active
is forgotten first), :data:`MAX_EVENTS` events each (the oldest first), and
:data:`MAX_BYTES` of events in all (past it, the oldest events of the least recently
active sessions go first). Nothing is persisted: the external agents own their history.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from cogpipe.hooks import HookEvent

from .errors import ApiError
from .models import ErrorBody, encodable_params

__all__ = ["MAX_EVENTS", "MAX_SESSIONS", "HookStore", "router"]

MAX_SESSIONS = 100
"""External sessions kept; past it the least recently active one is forgotten."""
MAX_EVENTS = 1000
"""Events kept per external session; past it the oldest are dropped."""
MAX_BYTES = 64 * 1024 * 1024
"""Bytes of events (as JSON) kept over all external sessions: bodies may be 128 KiB each,
so the counts alone would allow gigabytes."""


class ReceivedHook(HookEvent):
    """A hook event as stored: what was posted, plus when and in what order it arrived."""

    seq: int = Field(description="1, 2, 3 ... per external session, in arrival order")
    received: float = Field(description="Unix seconds when the server received it")


class ExternalSession(BaseModel):
    """One ``source_app`` + ``session_id`` that has posted hook events."""

    source_app: str
    session_id: str
    events: int = Field(description="events kept (at most 1000)")
    received: int = Field(description="events received in all")
    first: float = Field(description="Unix seconds of the first event received")
    last: float = Field(description="Unix seconds of the latest event received")
    last_type: str = Field(description="hook_event_type of the latest event")
    model_name: str | None = Field(None, description="the latest model_name sent, if any")


class HookAccepted(BaseModel):
    """Where a posted hook event was filed."""

    source_app: str
    session_id: str
    seq: int


class _Log:
    def __init__(self) -> None:
        self.events: deque[ReceivedHook] = deque()
        self.sizes: deque[int] = deque()  # each event's JSON size, bytes
        self.received = 0
        self.model_name: str | None = None


class HookStore:
    """The external sessions and their events, in memory, bounded (see module doc)."""

    def __init__(self) -> None:
        self._logs: OrderedDict[tuple[str, str], _Log] = OrderedDict()  # oldest active first
        self.bytes = 0  # JSON size of every kept event

    def add(self, event: HookEvent) -> ReceivedHook:
        """File ``event`` under its session; return it as stored."""
        key = (event.source_app, event.session_id)
        log = self._logs.pop(key, None) or _Log()
        self._logs[key] = log
        while len(self._logs) > MAX_SESSIONS:
            self._forget(next(iter(self._logs)))
        log.received += 1
        if event.model_name:
            log.model_name = event.model_name
        stored = ReceivedHook(**event.model_dump(), seq=log.received, received=time.time())
        size = len(stored.model_dump_json())
        log.events.append(stored)
        log.sizes.append(size)
        self.bytes += size
        if len(log.events) > MAX_EVENTS:
            self._drop_oldest(key)
        while self.bytes > MAX_BYTES:
            self._drop_oldest(next(iter(self._logs)))  # never the newest: at most 128 KiB
        return stored

    def _drop_oldest(self, key: tuple[str, str]) -> None:
        log = self._logs[key]
        log.events.popleft()
        self.bytes -= log.sizes.popleft()
        if not log.events:
            del self._logs[key]

    def _forget(self, key: tuple[str, str]) -> None:
        self.bytes -= sum(self._logs.pop(key).sizes)

    def sessions(self) -> list[ExternalSession]:
        """Every external session, the most recently active first."""
        return [
            ExternalSession(
                source_app=app,
                session_id=sid,
                events=len(log.events),
                received=log.received,
                first=log.events[0].received,
                last=log.events[-1].received,
                last_type=log.events[-1].hook_event_type,
                model_name=log.model_name,
            )
            for (app, sid), log in reversed(self._logs.items())
        ]

    def events(self, source_app: str, session_id: str, after: int = 0) -> list[ReceivedHook]:
        """The kept events of one external session with ``seq > after``, oldest first.

        Raises:
            ApiError: 404, no such external session.
        """
        log = self._logs.get((source_app, session_id))
        if log is None:
            raise ApiError(
                404,
                f"no hook events from source_app '{source_app}', session '{session_id}'; "
                "GET /api/hooks/sessions lists the external sessions",
            )
        return [e for e in log.events if e.seq > after]


def _store(request: Request) -> HookStore:
    return request.app.state.hooks


StoreDep = Annotated[HookStore, Depends(_store)]
router = APIRouter(
    prefix="/api/hooks",
    tags=["hooks"],
    responses={code: {"model": ErrorBody} for code in (401, 403, 404, 413, 422)},
    dependencies=[Depends(encodable_params)],
)


@router.post("/events", response_model=HookAccepted)
async def post_hook_event(event: HookEvent, store: StoreDep) -> dict[str, Any]:
    """Accept one hook-style event from another agent (the multi-agent observability
    dashboard's ``POST /events`` body); it shows in the HUD's Agents dialog. Answers 200,
    as the dashboard does (its hook script reports any other status as a failure)."""
    stored = store.add(event)
    return {"source_app": stored.source_app, "session_id": stored.session_id, "seq": stored.seq}


@router.get("/sessions", response_model=list[ExternalSession])
async def list_hook_sessions(store: StoreDep) -> list[ExternalSession]:
    """The external sessions that posted hook events, the most recently active first."""
    return store.sessions()


@router.get("/events", response_model=list[ReceivedHook])
async def list_hook_events(
    store: StoreDep,
    source_app: Annotated[str, Query(description="the external session's source_app")],
    session_id: Annotated[str, Query(description="the external session's id")],
    after: Annotated[int, Query(ge=0, description="only events with a larger seq")] = 0,
) -> list[ReceivedHook]:
    """The kept events of one external session, oldest first."""
    return store.events(source_app, session_id, after)
