"""Built-in trace observers: an in-memory ring, subscriptions, callbacks, JSONL files."""

from __future__ import annotations

import logging
import logging.handlers
import queue
import threading
from collections import deque
from collections.abc import Callable
from io import TextIOWrapper
from pathlib import Path

import anyio

from .files import private_file, private_folder
from .trace import Observer, TraceEvent

__all__ = [
    "CallbackObserver",
    "EventLog",
    "JsonlSink",
    "QueuedWriter",
    "RingBuffer",
    "Subscription",
]

log = logging.getLogger(__name__)


class RingBuffer(Observer):
    """The last ``size`` events of every session, kept in memory for resume.

    Args:
        size: events kept per session; older ones are dropped.
        max_total: events kept over all sessions; past it, the rings of the sessions
            whose ring was started longest ago are dropped whole (an
            :class:`EventLog`, when there is one, still has their events). The total
            is counted by :meth:`settle` (the runtime calls it at the end of every turn
            and for every session-level event), not per event, so that keeping events
            costs the engine's hot path nothing more. ``None``: no global limit.
    """

    def __init__(self, size: int = 5000, max_total: int | None = None) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size = size
        self.max_total = max_total
        self.total = 0
        """Events held, over all sessions, as last counted by :meth:`settle`."""
        self._rings: dict[str, deque[TraceEvent]] = {}
        self._counted: dict[str, int] = {}

    def on_event(self, event: TraceEvent) -> None:
        ring = self._rings.get(event.session_id)
        if ring is None:
            ring = self._rings[event.session_id] = deque(maxlen=self.size)
        ring.append(event)

    def settle(self, session_id: str) -> None:
        """Count a session's events into :attr:`total`; past ``max_total``, drop the
        oldest rings but this session's."""
        ring = self._rings.get(session_id)
        held = len(ring) if ring is not None else 0
        self.total += held - self._counted.get(session_id, 0)
        self._counted[session_id] = held
        if self.max_total is not None and self.total > self.max_total:
            for sid in list(self._rings):
                if self.total <= self.max_total:
                    return
                if sid != session_id:
                    self.forget(sid)

    def events(self, session_id: str, after: int = 0) -> list[TraceEvent]:
        """Return the kept events of a session with ``seq > after``, oldest first."""
        ring = self._rings.get(session_id, ())
        if after <= 0:
            return list(ring)
        newer = []
        for event in reversed(ring):  # seq grows along the ring: stop at the first old one
            if event.seq <= after:
                break
            newer.append(event)
        newer.reverse()
        return newer

    def forget(self, session_id: str) -> None:
        """Drop a session's events."""
        self._rings.pop(session_id, None)
        self.total -= self._counted.pop(session_id, 0)

    def sessions(self) -> int:
        """Return how many sessions have events here."""
        return len(self._rings)


class EventLog(Observer):
    """Where trace events outlive the process (a session database's ``events`` table):
    the runtime reads it to resume a stream past what its ring holds. This base keeps
    nothing; :class:`~cogpipe.engine.store.SqliteEventLog` is the real one."""

    failed = 0
    """Events that could not be stored."""
    dropped = 0
    """Events not handed to the store (its writer was too far behind)."""

    def events(self, session_id: str, after: int, before: int | None = None) -> list[TraceEvent]:
        """Return the stored events of a session with ``after < seq < before``, in order."""
        return []

    def last_seq(self, session_id: str) -> int:
        """Return the highest stored ``seq`` of a session (0 when none)."""
        return 0


class CallbackObserver(Observer):
    """Calls ``callback(event)`` for every event; the callback must not block."""

    def __init__(self, callback: Callable[[TraceEvent], None]) -> None:
        self.callback = callback

    def on_event(self, event: TraceEvent) -> None:
        self.callback(event)


class Subscription(Observer):
    """A bounded queue of events for one consumer (an SSE client, a test).

    When the consumer falls behind and the queue is full, new events are dropped and
    counted in ``lost``, so a stalled consumer never slows the engine or grows memory.
    Iterate with ``async for event in sub`` on the same event loop as the engine; use it
    as a context manager (``with Subscription() as sub``) so both ends get closed.

    Args:
        session_id: only events of this session; ``None`` for every session.
        max_buffer: events held at most before dropping.
    """

    def __init__(self, session_id: str | None = None, max_buffer: int = 1000) -> None:
        self.session_id = session_id
        self.lost = 0
        self._send, self._receive = anyio.create_memory_object_stream[TraceEvent](max_buffer)

    def on_event(self, event: TraceEvent) -> None:
        if self.session_id is not None and event.session_id != self.session_id:
            return
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            self.lost += 1
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass

    async def receive(self) -> TraceEvent:
        """Wait for the next event.

        Raises:
            anyio.EndOfStream: after :meth:`close`, once the queue is drained.
        """
        return await self._receive.receive()

    async def batch(self) -> list[TraceEvent]:
        """Return every queued event at once, waiting for one if none is queued.

        A consumer that fell behind then handles its backlog in one step (one network
        write for an SSE client) instead of one per event.

        Raises:
            anyio.EndOfStream: after :meth:`close`, once the queue is drained.
        """
        events: list[TraceEvent] = []
        self._take_queued(events)
        if not events:
            # wait only when nothing is queued: receive() always yields to the loop
            events.append(await self._receive.receive())
            self._take_queued(events)
        return events

    def _take_queued(self, events: list[TraceEvent]) -> None:
        """Append what is queued to ``events``; raise EndOfStream only if it stays empty."""
        try:
            while True:
                events.append(self._receive.receive_nowait())
        except anyio.WouldBlock:
            pass
        except anyio.EndOfStream:
            if not events:
                raise

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> TraceEvent:
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            self._receive.close()
            raise StopAsyncIteration from None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
        self._receive.close()

    def close(self) -> None:
        """End the stream: the consumer receives what is queued, then the end."""
        self._send.close()

    def pending(self) -> int:
        """Return how many events wait in the queue."""
        return self._receive.statistics().current_buffer_used


class QueuedWriter(Observer):
    """An observer whose events are written by its own thread: the engine only puts them
    on a bounded queue (``on_event`` never touches a disk), and the thread takes what is
    queued, up to 1000 events at once, and hands it to :meth:`_write_batch`.

    If the thread falls ``max_queue`` events behind, further events are counted in
    ``dropped``. A subclass counts events it could not write with :meth:`_failed` (the
    first failure is logged, later ones only counted in ``failed``) and goes on: one
    bad event or a full disk never ends the thread. Call :meth:`_start_writer` at the end
    of ``__init__``.
    """

    failed = 0
    """Events that could not be written."""
    dropped = 0
    """Events the writer was too far behind to take."""

    def _start_writer(self, name: str, max_queue: int) -> None:
        self._queue: queue.Queue[TraceEvent | None] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def on_event(self, event: TraceEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def _open_writer(self) -> None:
        """Set up what the writer thread needs (called in that thread, first)."""

    def _close_writer(self) -> None:
        """Release what :meth:`_open_writer` set up (called in the thread, last)."""

    def _write_batch(self, events: list[TraceEvent]) -> None:
        """Write ``events`` (called in the writer thread; must not raise)."""
        raise NotImplementedError

    def _failed(self, count: int, message: str) -> None:
        """Count ``count`` events not written; log the first failure with ``message``
        and the exception being handled."""
        self.failed += count
        if self.failed == count:
            log.exception("%s; later failures are counted only (failed)", message)

    def _run(self) -> None:
        self._open_writer()
        try:
            stop = False
            while not stop:
                batch: list[TraceEvent] = []
                item = self._queue.get()
                while item is not None:
                    batch.append(item)
                    if len(batch) == 1000:
                        break
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                stop = item is None
                if batch:
                    self._write_batch(batch)
                for _ in range(len(batch) + stop):
                    self._queue.task_done()
        finally:
            self._close_writer()

    def flush(self) -> None:
        """Block until every queued event is written (for tests and shutdown)."""
        if self._thread.is_alive():
            self._queue.join()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class JsonlSink(QueuedWriter):
    """Appends events as JSON lines to ``directory/prefix.jsonl`` with size-bounded rotation.

    Rotation is :class:`logging.handlers.RotatingFileHandler`'s: when a write would pass
    ``max_bytes`` the file becomes ``.1`` (``.1`` becomes ``.2`` ...), keeping
    ``backups`` old files, so disk use stays under ``max_bytes * (backups + 1)``. Lines
    are serialised and written by a writer thread (see :class:`QueuedWriter`: events it
    falls behind on are counted in ``dropped``). An event that cannot be written
    (whatever the reason: a full disk, a removed folder, a failing value) is counted in
    ``failed`` and the first failure is logged; the writer goes on with the next event.
    Files are created 0600 in a 0700 folder (see :mod:`engine.files`): traces hold user
    text and model output.

    Args:
        directory: where files go (created if missing).
        prefix: file name stem.
        max_bytes: size of one file before it rotates; must be > 0.
        backups: rotated files kept.
        max_queue: events waiting for the writer at most.
    """

    def __init__(
        self,
        directory: str | Path,
        prefix: str = "cogpipe",
        max_bytes: int = 10_000_000,
        backups: int = 4,
        max_queue: int = 100_000,
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be a positive number of bytes")
        self.path = private_folder(directory, "trace folder") / f"{prefix}.jsonl"
        self._handler = _PrivateRotatingFile(  # opened by the first write: a file that
            # cannot be opened is a counted failure, not a server that does not start
            self.path,
            maxBytes=max_bytes,
            backupCount=backups,
            encoding="utf-8",
            delay=True,
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._start_writer("cogpipe-jsonl", max_queue)

    def _write_batch(self, events: list[TraceEvent]) -> None:
        for event in events:
            try:
                self._handler.handle(logging.makeLogRecord({"msg": event.to_json()}))
            except Exception:  # one event must never end the writer: count, go on
                self._failed(1, f"could not write a {event.type} event to {self.path}")

    def flush(self) -> None:
        super().flush()
        self._handler.flush()

    def files(self) -> list[Path]:
        """Return the current file and its rotated backups that exist."""
        return sorted(self.path.parent.glob(self.path.name + "*"))

    def close(self) -> None:
        super().close()
        self._handler.close()


class _PrivateRotatingFile(logging.handlers.RotatingFileHandler):
    """A rotating file whose files are created 0600 and whose write errors reach the
    caller (:meth:`JsonlSink._write_batch` counts them) instead of being printed to stderr."""

    def _open(self) -> TextIOWrapper:
        private_file(self.baseFilename)
        return super()._open()

    def handleError(self, record: logging.LogRecord) -> None:
        raise  # called inside emit()'s except block: re-raises the error being handled
