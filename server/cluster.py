"""Redis mode's server side: what one process does so that several share the work.

:class:`Cluster` runs these background tasks next to the app (``app.state.cluster``):

* **turns**: one consumer of the shared turn queue (:class:`TurnQueue`): while fewer
  than ``slots`` sessions are being drained here, it waits for a wake-up and drains
  that session (runs its queued turns in the order they were accepted, whichever
  process accepted them). One blocked reader per process: Redis hands wake-ups to
  blocked readers in turn, so free processes share them.

* **events**: reads the all-sessions Redis stream and hands every event, whichever
  process emitted it, to :attr:`Cluster.bus`, where this process's SSE clients listen
  (:class:`server.streams.EventStreams` with ``shared=``). Every process's clients so
  see the same events in the same order.
* **commands**: listens on the ``cancel`` and ``resume`` pub/sub channels; the process
  that runs the run named there cancels it, or resumes it and answers on a reply list
  (:meth:`Cluster.cancel` and :meth:`Cluster.resume` publish them); and on
  ``breakpoints``: every process applies a session's breakpoints set on any process
  (:meth:`Cluster.share_breakpoints`; kept in Redis for processes that start later).
* **sweeper**: every ``lease_s / 2``, marks ``interrupted`` the runs of workers whose
  lease expired (``kill -9``, a lost machine) and records them in their sessions
  (taking each session's turn lease first, so no turn runs meanwhile), then wakes the
  sessions whose queued turns nobody drains any more: a turn that had not started when
  its worker died runs on another (at most once for a started turn, and a queued one
  is not lost).

See ``docs/deploy.md`` for what each failure does.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import time
from typing import Any

import anyio
import anyio.abc
from redis.exceptions import RedisError

from cogpipe.engine import EventBus, ResumeError, RunStatus, Runtime, StoreError
from cogpipe.engine import RunRecord as StoredRun
from cogpipe.engine.distributed import TurnQueue
from cogpipe.engine.errors import LeaseLostError
from cogpipe.engine.pauses import Breakpoints
from cogpipe.engine.session import jsonable
from cogpipe.redis_mode import RedisMode

from .runs import INTERRUPTED, RunRegistry

__all__ = ["Cluster"]

log = logging.getLogger(__name__)


class Cluster:
    """One process's part in a Redis deployment.

    Args:
        redis: the open connections (:func:`cogpipe.redis_mode.open_redis`).
        runtime: the runtime (its store is ``redis.store``).
        runs: the run registry of this process (its accepted runs go to the queue).
        slots: turns this process runs at once from the shared queue.
    """

    def __init__(
        self, redis: RedisMode, runtime: Runtime, runs: RunRegistry, slots: int = 32
    ) -> None:
        self.redis, self.runtime, self.runs, self.slots = redis, runtime, runs, slots
        self.queue = TurnQueue(redis.client, redis.keys, redis.worker_id)
        runs.share, runs.worker = redis.store.enqueue, redis.worker_id
        self.bus = EventBus()
        """Every event of every process, in the all-sessions stream's order."""
        self.events_up = True
        """Whether the event stream reader is connected."""
        self.interrupted = 0
        """Runs of dead workers this process marked ``interrupted``."""

    def start(self, tg: anyio.abc.TaskGroup) -> None:
        """Load the shared breakpoints, then start the background tasks in ``tg`` (they
        run until it is cancelled).

        Raises:
            StoreError: Redis cannot be reached.
        """
        try:
            kept: Any = self.redis.store.client.hgetall(self.redis.keys.breakpoints)
        except RedisError as exc:
            raise StoreError("load the breakpoints", exc) from exc
        for sid in kept:
            self._apply_breakpoints(sid.decode(), kept[sid])
        tg.start_soon(self.redis.events.follow, self.redis.client, self.bus, self._events_state)
        tg.start_soon(self._commands, tg, name="redis commands")
        tg.start_soon(self._sweep, name="redis sweeper")
        tg.start_soon(self._consume, tg, name="redis turns")

    def _events_state(self, up: bool) -> None:
        self.events_up = up

    async def cancel(self, run_id: str, wait_s: float = 2.0) -> StoredRun | None:
        """Ask whichever process runs ``run_id`` to cancel it; return its record once it
        ended, or as it is after ``wait_s`` seconds (``None``: no such record).

        Raises:
            StoreError: Redis cannot be reached.
        """
        store = self.runtime.store
        record = store.load_run(run_id)
        if record is not None and self.redis.store.dequeue(record):  # no worker took it
            record.status, record.ended = RunStatus.CANCELLED, time.time()
            store.save_run(record)
            return record
        try:
            await self.redis.client.publish(self.redis.keys.cancel, run_id)
        except RedisError as exc:
            raise StoreError(f"send the cancel of run '{run_id}'", exc) from exc
        deadline = time.monotonic() + wait_s
        while (record := store.load_run(run_id)) is not None and record.active:
            if time.monotonic() > deadline:
                break
            await anyio.sleep(0.05)
        return record

    async def resume(
        self, run_id: str, action: str, inputs: dict[str, Any] | None, wait_s: float = 5.0
    ) -> dict[str, Any] | None:
        """Ask whichever process runs ``run_id`` to resume it; return its answer
        (``{"ok": true}``, or ``{"error": "invalid", "message", "problems"}``, or
        ``{"error": "not paused"}``), or ``None`` when no process answered in ``wait_s``.

        Raises:
            StoreError: Redis cannot be reached.
        """
        reply = self.redis.keys.reply(secrets.token_hex(8))
        request = {"run_id": run_id, "action": action, "inputs": inputs, "reply": reply}
        try:
            await self.redis.client.publish(self.redis.keys.resume, json.dumps(request))
            answer: Any = await self.redis.client.blpop([reply], timeout=wait_s)
        except RedisError as exc:
            raise StoreError(f"send the resume of run '{run_id}'", exc) from exc
        return json.loads(answer[1]) if answer else None

    async def _commands(self, tg: anyio.abc.TaskGroup) -> None:
        keys = self.redis.keys
        while True:
            try:
                async with self.redis.client.pubsub(ignore_subscribe_messages=True) as ps:
                    await ps.subscribe(keys.cancel, keys.resume, keys.breakpoints)
                    async for message in ps.listen():
                        if message["channel"].decode() == keys.breakpoints:
                            sid = message["data"].decode()
                            raw = await self.redis.client.hget(keys.breakpoints, sid)
                            self._apply_breakpoints(sid, raw)
                            continue
                        if message["channel"].decode() == keys.cancel:
                            record = self.runs.get(message["data"].decode())
                            if record is not None and record.active:
                                self.runs.cancel(record)
                            continue
                        request = json.loads(message["data"])
                        if self.runs.get(request["run_id"]) is not None:  # it runs here
                            tg.start_soon(self._resume_here, request)
            except (RedisError, OSError, ValueError) as exc:
                log.warning("listening for commands in Redis failed (%s); retrying", exc)
                await anyio.sleep(0.5)

    async def share_breakpoints(self, session_id: str, points: Breakpoints) -> None:
        """Keep a session's breakpoints (just set here) in Redis and have every process
        apply them.

        Raises:
            StoreError: Redis cannot be reached.
        """
        keys, data = self.redis.keys, dataclasses.asdict(points)
        pipe = self.redis.client.pipeline()
        if data["before"] or data["after"]:
            pipe.hset(keys.breakpoints, session_id, json.dumps(data))
        else:
            pipe.hdel(keys.breakpoints, session_id)
        pipe.publish(keys.breakpoints, session_id)
        try:
            await pipe.execute()
        except RedisError as exc:
            raise StoreError(f"share the breakpoints of session '{session_id}'", exc) from exc

    def _apply_breakpoints(self, session_id: str, raw: bytes | None) -> None:
        data = json.loads(raw) if raw else {"before": [], "after": []}
        try:
            self.runtime.set_breakpoints(session_id, data["before"], data["after"])
        except (LookupError, ValueError) as exc:  # the session or its nodes are gone
            log.warning("breakpoints of session '%s' not applied: %s", session_id, exc)

    async def _resume_here(self, request: dict[str, Any]) -> None:
        """Resume a run of this process for another one; answer on its reply list once
        the run took the decision (or after 2 s)."""
        answer: dict[str, Any] = {"ok": True}
        try:
            pause = self.runtime.resume(request["run_id"], request["action"], request["inputs"])
            with anyio.move_on_after(2.0):
                await pause.taken.wait()
        except ResumeError as exc:
            answer = {"error": "invalid", "message": exc.message, "problems": exc.problems}
        except LookupError:
            answer = {"error": "not paused"}
        try:
            pipe = self.redis.client.pipeline()
            pipe.rpush(request["reply"], json.dumps(jsonable(answer), default=str))
            pipe.expire(request["reply"], 60)
            await pipe.execute()
        except RedisError as exc:
            log.warning("could not answer a resume of run %s: %s", request["run_id"], exc)

    async def _consume(self, tg: anyio.abc.TaskGroup) -> None:
        """Take a wake-up whenever a slot is free and drain its session in ``tg``."""
        slots = anyio.Semaphore(self.slots)
        joined = False
        while True:
            await slots.acquire()
            try:
                if not joined:
                    await self.queue.join()
                    joined = True
                sid = await self.queue.next_session()
            except (RedisError, OSError) as exc:
                slots.release()
                joined = False  # a Redis that restarted empty has no group
                log.warning("taking turns from Redis failed (%s); retrying", exc)
                await anyio.sleep(0.5)
                continue
            if sid is None:
                slots.release()
            else:
                tg.start_soon(self._slot, sid, slots, name=f"drain {sid}")

    async def _slot(self, session_id: str, slots: anyio.Semaphore) -> None:
        try:
            await self._drain(session_id)
        except (RedisError, StoreError, LeaseLostError, OSError) as exc:
            log.warning("running the turns of session '%s' failed: %s", session_id, exc)
        finally:
            slots.release()

    async def _drain(self, session_id: str) -> None:
        """Run the session's queued turns in order while holding its drain lease; look
        again after letting go (a turn queued meanwhile may have had its wake-up
        dropped by a process that did not get the lease)."""
        coordinator, key = self.redis.coordinator, self.redis.keys.drain(session_id)
        while True:
            async with coordinator.lease(key, session_id, wait=False) as held:
                if not held:
                    return
                while (run_id := await self.queue.take(session_id)) is not None:
                    record = self.runtime.store.load_run(run_id)
                    if record is not None and record.active:
                        await self.runs.adopt(record)
            if not await self.queue.queued(session_id):
                return

    async def _sweep(self) -> None:
        while True:
            try:
                await self.sweep()
            except (RedisError, StoreError, OSError) as exc:
                log.warning("could not check for interrupted runs: %s", exc)
            await anyio.sleep(self.redis.coordinator.lease_s / 2)

    async def sweep(self) -> list[StoredRun]:
        """Mark the active runs of dead workers ``interrupted`` and record each in its
        session's history (``run.interrupted`` goes to the event streams); return them.

        Raises:
            StoreError: Redis cannot be reached.
        """
        found = self.runtime.store.interrupt_active(INTERRUPTED)
        for record in found:
            log.warning("run %s: its worker's lease expired; interrupted", record.run_id)
            try:
                async with self.runtime.exclusive(record.session_id) as session:
                    self.runs.record_interrupted(session, record)
            except LookupError:
                continue  # the session was deleted
        self.interrupted += len(found)
        await self.queue.rewake()
        return found

    async def health(self) -> dict[str, Any]:
        """Return Redis mode's state for ``/api/health``: ``{url, up, latency_ms,
        error, worker, lease_s, events_up, interrupted}``."""
        info: dict[str, Any] = {
            "url": self.redis.url,
            "worker": self.redis.worker_id,
            "lease_s": self.redis.coordinator.lease_s,
            "events_up": self.events_up,
            "interrupted": self.interrupted,
            "latency_ms": None,
            "error": None,
        }
        try:
            with anyio.fail_after(1):
                info["latency_ms"] = round(await self.redis.coordinator.ping(), 3)
            info["up"] = True
        except (RedisError, OSError, TimeoutError) as exc:
            info["up"], info["error"] = False, f"{type(exc).__name__}: {exc}"
        return info
