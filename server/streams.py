"""Server-Sent Events: one stream per session and one for every session, with resume.

How a stream works (the contract is ``docs/api.md``, "Event streams"):

* **Subscribe, then replay, then live.** When a stream starts, its bounded
  :class:`StreamSubscription` joins the runtime's event bus first; in the same step
  (no ``await`` in between, so no event can slip past) the events after the client's
  ``Last-Event-ID`` are taken from the runtime's ring (session stream) or from the
  server's arrival-ordered :class:`Timeline` (all-sessions stream). Replayed events
  are sent, then live ones; a live event whose ``seq`` is not above the last one
  replayed for its session is skipped, so nothing is lost or repeated.
* **Slow consumers.** Each client has its own bounded queue
  (:class:`engine.sinks.Subscription`). The engine only ever puts into it and never
  waits; when a client stops reading, its queue fills, later events are dropped and
  counted, and the client gets ``{"type": "stream.lost", "data": {"lost": n}}`` as
  soon as it reads again (at the gap, after what was queued before it).
* **Cheap fan-out.** A client that falls behind gets everything queued in one write
  (one chunk of many SSE messages), and each event is serialised once per stream kind
  and shared by every client (:class:`FrameCache`), not once per client.
* **Clean-up.** Leaving the generator (disconnect, error, shutdown) removes the
  subscription from the bus; a ``: ping`` comment every ``ping_s`` seconds keeps
  proxies from closing idle streams.
* **Redis mode** (``shared``): clients subscribe to the bus the cluster feeds from the
  all-sessions Redis stream (every process's events, in one order), and replay reads
  the Redis streams (a session's stream by seq, the all-sessions stream in place of
  the timeline), so a client resumes on any process.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette import EventSourceResponse, ServerSentEvent

from cogpipe.engine import Observer, Runtime, Subscription, TraceEvent
from cogpipe.engine.text import clean_text

from .models import ErrorBody, StreamTicket, encodable_params
from .tickets import StreamTickets

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = [
    "EventStreams",
    "FrameCache",
    "StreamOptions",
    "StreamSubscription",
    "Timeline",
    "router",
]

log = logging.getLogger(__name__)

Frame = Callable[[TraceEvent], bytes]
Marks = dict[str, int]


@dataclass(frozen=True)
class StreamOptions:
    """Tuning of the event streams.

    Attributes:
        ping_s: seconds between ``: ping`` comments on an idle stream (0: none).
        buffer: events queued per client before its events are dropped.
        timeline: events the all-sessions stream keeps, in arrival order, for resume.
        cache: serialised events kept for sharing between clients.
    """

    ping_s: float = 15.0
    buffer: int = 1000
    timeline: int = 10_000
    cache: int = 4096


class StreamSubscription(Subscription):
    """The bounded subscription of one SSE client (its own type, so the server and the
    benchmark can count open streams on the event bus)."""


class Timeline(Observer):
    """The last ``size`` events of every session in the order they were published.

    The all-sessions stream resumes from here: ``seq`` orders one session's events but
    not events of different sessions.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.events: deque[TraceEvent] = deque(maxlen=size)

    def on_event(self, event: TraceEvent) -> None:
        self.events.append(event)

    def after(self, session_id: str, seq: int) -> tuple[list[TraceEvent], bool]:
        """Return the events published after ``session_id``'s event ``seq``.

        Returns:
            ``(events, found)``. When that event is no longer kept (or is from before
            a restart), ``events`` is everything kept except ``session_id``'s events
            up to ``seq``, and ``found`` is ``False``.
        """
        kept = list(self.events)
        for i in range(len(kept) - 1, -1, -1):
            e = kept[i]
            if e.seq == seq and e.session_id == session_id:
                return kept[i + 1 :], True
        return [e for e in kept if e.session_id != session_id or e.seq > seq], False


class FrameCache:
    """SSE messages (``id:`` + ``data:`` lines) built once per event, shared by clients.

    Args:
        frame: builds the message of one event.
        size: messages kept; the oldest are dropped first.
    """

    def __init__(self, frame: Frame, size: int = 4096) -> None:
        self._frame = frame
        self._size = size
        self._kept: OrderedDict[int, tuple[TraceEvent, bytes]] = OrderedDict()

    def __call__(self, event: TraceEvent) -> bytes:
        # Keyed by identity: a kept entry holds its event, so the id cannot be reused
        # while the entry exists, and the identity check rejects a reused id after.
        hit = self._kept.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        data = self._frame(event)
        kept = self._kept
        kept[id(event)] = (event, data)
        if len(kept) > self._size:
            kept.popitem(last=False)
        return data


def _session_frame(event: TraceEvent) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (event.seq, event.to_json().encode())


def _all_frame(event: TraceEvent) -> bytes:
    return b"id: %s:%d\ndata: %s\n\n" % (
        clean_text(event.session_id).encode(),
        event.seq,
        event.to_json().encode(),
    )


def lost_frame(count: int) -> bytes:
    """Return the ``stream.lost`` message (no ``id:``: it is not a stored event)."""
    return b'data: {"type":"stream.lost","data":{"lost":%d}}\n\n' % count


def _ping() -> ServerSentEvent:
    return ServerSentEvent(comment="ping", sep="\n")


def parse_seq(text: str | None) -> int | None:
    """Return a session stream's ``Last-Event-ID`` as a seq, or ``None`` if malformed."""
    if text is None:
        return None
    text = text.strip().rpartition(":")[2]  # an all-sessions id works too
    return int(text) if text.isdigit() else None


def parse_global(text: str | None) -> tuple[str, int] | None:
    """Return an all-sessions ``Last-Event-ID`` (``<session_id>:<seq>``) as a pair."""
    if text is None:
        return None
    sid, sep, seq = text.strip().rpartition(":")
    return (sid, int(seq)) if sep and sid and seq.isdigit() else None


class EventStreams:
    """Opens event streams over a runtime; one per app (``app.state.streams``).

    Args:
        runtime: whose bus and ring the streams read.
        options: tuning.
        shared: Redis mode's cluster: its bus and the Redis streams replace the
            runtime's bus, ring and the timeline.
    """

    def __init__(
        self,
        runtime: Runtime,
        options: StreamOptions | None = None,
        shared: Cluster | None = None,
    ) -> None:
        self.runtime = runtime
        self.options = options or StreamOptions()
        self.shared = shared
        self.bus = shared.bus if shared is not None else runtime.bus
        """Where the streams' subscriptions listen."""
        self.timeline = Timeline(self.options.timeline)
        if shared is None:
            runtime.bus.add(self.timeline)
        self._session_frames = FrameCache(_session_frame, self.options.cache)
        self._all_frames = FrameCache(_all_frame, self.options.cache)

    def close(self) -> None:
        """Stop recording the timeline."""
        self.runtime.bus.remove(self.timeline)

    def session_stream(self, session_id: str, last_event_id: str | None) -> EventSourceResponse:
        """Return the response streaming one session's events.

        Args:
            session_id: an existing session (the caller checks).
            last_event_id: the client's ``Last-Event-ID``: replay what came after it
                (``0`` replays the whole ring); ``None`` or malformed: live only.
        """
        after = parse_seq(last_event_id)

        def replay() -> tuple[list[TraceEvent], int, Marks]:
            if after is None:
                return [], 0, {}
            last = self._clamp(session_id, after)
            if self.shared is not None:
                events = self.shared.redis.events.events(session_id, last)
            else:
                events = self.runtime.events(session_id, last)
            first = events[0].seq if events else self._next_seq(session_id, last)
            gap = max(0, first - last - 1) if last > 0 else 0
            return events, gap, {session_id: events[-1].seq if events else last}

        return self._response(self._run(session_id, replay, self._session_frames))

    def all_stream(self, last_event_id: str | None) -> EventSourceResponse:
        """Return the response streaming every session's events.

        Args:
            last_event_id: ``<session_id>:<seq>`` of the last event the client has
                (``0`` replays the whole timeline); ``None`` or malformed: live only.
        """
        position = parse_global(last_event_id)
        whole = last_event_id is not None and last_event_id.strip() == "0"

        def replay() -> tuple[list[TraceEvent], int, Marks]:
            timeline = self.timeline
            if self.shared is not None and (whole or position is not None):
                timeline = Timeline(self.options.timeline)
                timeline.events.extend(self.shared.redis.events.recent())
            if whole:
                events, gap, marks = list(timeline.events), 0, {}
            elif position is None:
                return [], 0, {}
            else:
                sid, seq = position
                seq = self._clamp(sid, seq)
                events, found = timeline.after(sid, seq)
                first = next((e.seq for e in events if e.session_id == sid), None)
                if first is None:  # none kept: its next event is the session's next seq
                    first = self._next_seq(sid, seq)
                gap, marks = (0 if found else max(0, first - seq - 1)), {sid: seq}
            for e in events:
                marks[e.session_id] = e.seq
            return events, gap, marks

        return self._response(self._run(None, replay, self._all_frames))

    def _next_seq(self, session_id: str, default: int) -> int:
        """Return the seq the session's next event gets (``default + 1`` when unknown)."""
        try:
            return self.runtime.session(session_id).seq + 1
        except LookupError:
            return default + 1

    def _clamp(self, session_id: str, seq: int) -> int:
        """Limit a client's position to the session's last seq: a client that is ahead
        saw events from before a restart that the store had not kept, and the numbers
        after the stored seq are used again for new events, which it must get."""
        try:
            return min(seq, self.runtime.session(session_id).seq)
        except LookupError:
            return seq

    def _response(self, body: AsyncIterator[bytes]) -> EventSourceResponse:
        return EventSourceResponse(
            body, ping=self.options.ping_s, sep="\n", ping_message_factory=_ping
        )

    async def _run(
        self,
        session_id: str | None,
        replay: Callable[[], tuple[list[TraceEvent], int, Marks]],
        frame: Frame,
    ) -> AsyncIterator[bytes]:
        # Everything happens inside the generator: a client that leaves before the
        # stream starts leaves nothing behind.
        bus = self.bus
        with StreamSubscription(session_id, self.options.buffer) as sub:
            bus.add(sub)
            try:
                events, gap, marks = replay()  # same step as subscribing: nothing slips by
                if gap:
                    yield lost_frame(gap)
                for start in range(0, len(events), 500):
                    yield b"".join(map(frame, events[start : start + 500]))
                async for chunk in self._live(sub, frame, marks):
                    yield chunk
            finally:
                bus.remove(sub)

    async def _live(
        self, sub: StreamSubscription, frame: Frame, marks: Marks
    ) -> AsyncIterator[bytes]:
        reported = 0
        while True:
            try:
                events = await sub.batch()
            except anyio.EndOfStream:  # the runtime is shutting down
                return
            if marks:
                events = _skip_replayed(events, marks)
            chunk = b"".join(map(frame, events))
            # Drops happen only while the queue is full, i.e. after everything that was
            # queued; once the queue is drained the notice sits exactly at the gap.
            if sub.lost > reported and sub.pending() == 0:
                chunk += lost_frame(sub.lost - reported)
                reported = sub.lost
            if chunk:
                yield chunk


def _skip_replayed(events: list[TraceEvent], marks: Marks) -> list[TraceEvent]:
    """Drop events already replayed; forget a session's mark once it is passed."""
    kept = []
    for e in events:
        mark = marks.get(e.session_id)
        if mark is None:
            kept.append(e)
        elif e.seq > mark:
            del marks[e.session_id]
            kept.append(e)
    return kept


# -- routes ------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 422)
}
router = APIRouter(
    prefix="/api", tags=["events"], responses=_ERRORS, dependencies=[Depends(encodable_params)]
)

_SSE = {
    200: {
        "description": "text/event-stream: `id:` and `data:` (one trace event as JSON) per "
        "message, `: ping` comments",
        "content": {"text/event-stream": {}},
    },
}
LastEventId = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="resume after this event (browsers send it)"),
]
LastEventQuery = Annotated[
    str | None,
    Query(
        description="the same as the Last-Event-ID header, for a first connection "
        "(`0`: replay everything kept)"
    ),
]


@router.post("/stream-tickets", status_code=201, response_model=StreamTicket)
async def new_stream_ticket(request: Request) -> dict[str, Any]:
    """A one-time ticket for an event stream: open it as ``?ticket=<ticket>`` within
    ``expires_in`` seconds. It is how a browser's ``EventSource``, which cannot send the
    ``Authorization`` header, gets in without the token in its URL."""
    tickets: StreamTickets = request.app.state.tickets
    return {"ticket": tickets.issue(), "expires_in": tickets.ttl_s}


@router.get("/sessions/{session_id}/events", response_class=EventSourceResponse, responses=_SSE)
async def session_events(
    session_id: str,
    request: Request,
    last_event_id_header: LastEventId = None,
    last_event_id: LastEventQuery = None,
) -> EventSourceResponse:
    """One session's trace events as Server-Sent Events; ``id`` is the event's seq."""
    streams: EventStreams = request.app.state.streams
    streams.runtime.session(session_id)  # 404 for an unknown session
    return streams.session_stream(session_id, last_event_id_header or last_event_id)


@router.get("/events", response_class=EventSourceResponse, responses=_SSE)
async def all_events(
    request: Request,
    last_event_id_header: LastEventId = None,
    last_event_id: LastEventQuery = None,
) -> EventSourceResponse:
    """Every session's trace events; ``id`` is ``<session_id>:<seq>``."""
    streams: EventStreams = request.app.state.streams
    return streams.all_stream(last_event_id_header or last_event_id)
