"""Redis mode: what several server processes share through one Redis (``redis_url``).

Three parts, each built on redis-py (https://redis.readthedocs.io, Redis 7 commands):

* :class:`RedisSessionStore`: sessions and run records (a :class:`SessionStore`), as
  JSON strings. It uses redis-py's synchronous client because the store protocol is
  synchronous (as SQLite's is); one call costs ~0.1-0.3 ms on a local Redis.
* :class:`RedisEventLog`: every trace event appended to two Redis Streams, one per
  session (entry id ``<seq>-0``, so a range of seqs is one ``XRANGE``; bounded with
  ``MAXLEN ~ keep``) and one for all sessions (bounded with ``MAXLEN ~ keep_all``).
  Written by a thread (:class:`QueuedWriter`): the engine only enqueues.
  :meth:`RedisEventLog.follow` reads the all-sessions stream (``XREAD BLOCK``) and
  hands every event, of this process and of the others, to an :class:`EventBus`.
* :class:`Coordinator`: this process's membership (a worker key with a lease,
  renewed every ``lease_s / 3``) and the per-session turn lock with a lease
  (redis-py's :class:`redis.asyncio.lock.Lock`, renewed while the turn runs, so it
  expires ``lease_s`` after its holder died).
* :class:`TurnQueue`: work sharing. An accepted turn is pushed on its session's list
  (``queue:<session id>``) and the session id on the ``turns`` stream; every process
  reads that stream in one consumer group, so each wake-up goes to one free process,
  which takes the session's drain lease and runs its queued turns in order.

Keys, all under ``prefix`` (default ``cogpipe:``): ``session:<id>`` (JSON),
``sessions`` (sorted set: id by creation time), ``run:<id>`` (JSON; ended records
expire after :data:`RUN_TTL_S`), ``runs:active`` (hash: run id -> worker id),
``worker:<id>`` (lease), ``lock:<session id>`` (turn lease), ``events:<session id>`` and
``events`` (streams), ``cancel`` (pub/sub channel of run ids to cancel), ``resume``
(pub/sub channel of resume requests; answers on ``reply:<random>`` lists),
``breakpoints`` (hash: session id -> its breakpoints; and the pub/sub channel that
announces a change),
``queue:<session id>`` (list of queued run ids), ``queues`` (set of sessions with queued
turns), ``drain:<session id>`` (drain lease), ``turns`` (stream of wake-ups, consumer
group ``workers``), ``paused`` (hash: run id -> paused run's snapshot and worker).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import anyio.abc
import redis
import redis.asyncio
from redis.exceptions import LockError, RedisError

from .errors import LeaseLostError, RedisUnavailableError, StoreError
from .runs import RunRecord, RunStatus
from .session import Session, jsonable
from .sinks import EventLog, QueuedWriter
from .text import dumps_clean
from .trace import EventBus, TraceEvent

__all__ = [
    "RUN_TTL_S",
    "Coordinator",
    "Keys",
    "RedisEventLog",
    "RedisSessionStore",
    "TurnQueue",
    "masked",
    "new_worker_id",
    "sync_client",
]

log = logging.getLogger(__name__)

RUN_TTL_S = 7 * 24 * 3600
"""How long an ended run record stays readable, seconds (active ones never expire)."""


def masked(url: str) -> str:
    """Return ``url`` with its password replaced by ``***`` (for messages and health)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def sync_client(url: str, timeout_s: float = 5.0) -> redis.Redis:
    """Return a synchronous client of ``url`` after checking that Redis answers.

    Raises:
        RedisUnavailableError: Redis does not answer ``PING`` (the message names the URL).
    """
    client = redis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=min(timeout_s, 2.0)
    )
    try:
        client.ping()
    except (RedisError, OSError, ValueError) as exc:
        client.close()
        raise RedisUnavailableError(masked(url), exc) from None
    return client


class Keys:
    """The Redis key names of one deployment (every name starts with ``prefix``)."""

    def __init__(self, prefix: str = "cogpipe:") -> None:
        self.prefix = prefix
        self.sessions = f"{prefix}sessions"
        self.active = f"{prefix}runs:active"
        self.events_all = f"{prefix}events"
        self.cancel = f"{prefix}cancel"
        self.resume = f"{prefix}resume"
        self.breakpoints = f"{prefix}breakpoints"
        self.queues = f"{prefix}queues"
        self.paused = f"{prefix}paused"
        self.turns = f"{prefix}turns"

    def session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def run(self, run_id: str) -> str:
        return f"{self.prefix}run:{run_id}"

    def reply(self, token: str) -> str:
        return f"{self.prefix}reply:{token}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    def lock(self, session_id: str) -> str:
        return f"{self.prefix}lock:{session_id}"

    def events(self, session_id: str) -> str:
        return f"{self.prefix}events:{session_id}"

    def queue(self, session_id: str) -> str:
        return f"{self.prefix}queue:{session_id}"

    def drain(self, session_id: str) -> str:
        return f"{self.prefix}drain:{session_id}"


def new_worker_id() -> str:
    """Return a name for this process: ``<host>:<pid>:<random>``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class RedisSessionStore:
    """Sessions and run records in Redis, shared by every process of a deployment.

    A session is one JSON string (rewritten after every turn, like SQLite's row); a run
    record is one JSON string, and while it is queued or running its id is in the hash
    ``runs:active`` with the worker that accepted it. :meth:`interrupt_active` marks the
    active records of workers whose lease expired (a crash, ``kill -9``) ``interrupted``.

    Args:
        client: a synchronous client (see :func:`sync_client`).
        keys: the deployment's key names.
        worker_id: this process's name (its records' owner).

    Every method raises :class:`StoreError` when Redis cannot be reached.
    """

    def __init__(self, client: redis.Redis, keys: Keys, worker_id: str) -> None:
        self.client, self.keys, self.worker_id = client, keys, worker_id

    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except RedisError as exc:
            raise StoreError(action, exc) from exc

    def load(self, session_id: str) -> Session | None:
        raw = self._call(
            f"load session '{session_id}'", lambda: self.client.get(self.keys.session(session_id))
        )
        return Session.from_dict(json.loads(raw)) if raw is not None else None

    def save(self, session: Session) -> None:
        data = dumps_clean(jsonable(session.to_dict()), "session store")
        pipe = self.client.pipeline()
        pipe.set(self.keys.session(session.id), data)
        pipe.zadd(self.keys.sessions, {session.id: session.created}, nx=True)
        self._call(f"save session '{session.id}'", pipe.execute)

    def ids(self) -> list[str]:
        found = self._call("list sessions", lambda: self.client.zrange(self.keys.sessions, 0, -1))
        return [i.decode() for i in found]

    def delete(self, session_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.delete(self.keys.session(session_id), self.keys.events(session_id))
        pipe.zrem(self.keys.sessions, session_id)
        self._call(f"delete session '{session_id}'", pipe.execute)

    def save_run(self, record: RunRecord) -> None:
        data = dumps_clean(jsonable(record.to_dict()), "run record")
        key = self.keys.run(record.run_id)
        pipe = self.client.pipeline()
        if record.active:
            pipe.set(key, data)
            pipe.hset(self.keys.active, record.run_id, self.worker_id)
        else:
            pipe.set(key, data, ex=RUN_TTL_S)
            pipe.hdel(self.keys.active, record.run_id)
        self._call(f"record run '{record.run_id}'", pipe.execute)

    def enqueue(self, record: RunRecord) -> None:
        """Store a ``queued`` record and queue it for any worker, in one transaction:
        on its session's list, owned by no worker (``""``: the sweeper leaves it), and a
        wake-up on the ``turns`` stream (see :class:`TurnQueue`).

        Raises:
            StoreError: Redis cannot be reached (nothing was queued).
        """
        data = dumps_clean(jsonable(record.to_dict()), "run record")
        keys, sid = self.keys, record.session_id
        pipe = self.client.pipeline()
        pipe.set(keys.run(record.run_id), data)
        pipe.hset(keys.active, record.run_id, "")
        pipe.rpush(keys.queue(sid), record.run_id)
        pipe.sadd(keys.queues, sid)
        pipe.xadd(keys.turns, {"s": sid}, maxlen=10_000, approximate=True)
        self._call(f"queue run '{record.run_id}'", pipe.execute)

    def dequeue(self, record: RunRecord) -> bool:
        """Take a queued run off its session's list before any worker took it;
        ``True`` when it was still there (the caller then owns it).

        Raises:
            StoreError: Redis cannot be reached.
        """
        key = self.keys.queue(record.session_id)
        return bool(
            self._call(
                f"dequeue run '{record.run_id}'", lambda: self.client.lrem(key, 1, record.run_id)
            )
        )

    def load_run(self, run_id: str) -> RunRecord | None:
        raw = self._call(f"load run '{run_id}'", lambda: self.client.get(self.keys.run(run_id)))
        return RunRecord.from_dict(json.loads(raw)) if raw is not None else None

    def interrupt_active(self, reason: str, spare: Collection[str] = ()) -> list[RunRecord]:
        """Mark ``interrupted`` the queued, running or paused records whose worker's
        lease has expired (except the run ids in ``spare``), and return them, oldest
        first. Safe to call from every process at once: a record is taken by the one
        process whose ``HDEL`` removed it (with its paused snapshot, if any).

        Raises:
            StoreError: Redis cannot be reached.
        """
        owners: dict[bytes, bytes] = self._call(
            "list active runs", lambda: self.client.hgetall(self.keys.active)
        )
        workers = sorted(set(owners.values()))
        if not workers:
            return []
        alive = self._call(
            "check workers",
            lambda: [self.client.exists(self.keys.worker(w.decode())) for w in workers],
        )
        dead = {w for w, up in zip(workers, alive, strict=True) if not up and w}
        found = []
        now = time.time()
        for run_id, owner in owners.items():
            if owner not in dead or run_id.decode() in spare or not self._claim(run_id.decode()):
                continue
            record = self.load_run(run_id.decode())
            if record is None or not record.active:
                continue
            record.status, record.error, record.ended = RunStatus.INTERRUPTED, reason, now
            self.save_run(record)
            found.append(record)
        return sorted(found, key=lambda r: r.queued)

    def _claim(self, run_id: str) -> bool:
        """Take an active run off ``runs:active`` (and forget its paused snapshot);
        ``True`` for the one caller that did."""
        pipe = self.client.pipeline()
        pipe.hdel(self.keys.active, run_id)
        pipe.hdel(self.keys.paused, run_id)
        return bool(self._call("claim a run", pipe.execute)[0])

    # paused runs: kept per worker; a worker that dies has its paused runs interrupted
    # (a new process has a new name, so nothing restores them in Redis mode)

    def save_paused(self, run_id: str, session_id: str, data: dict[str, Any]) -> None:
        """Store a paused run's snapshot (JSON), owned by this worker."""
        text = dumps_clean(jsonable({"worker": self.worker_id, "data": data}), "paused run")
        self._call(
            f"save paused run '{run_id}'", lambda: self.client.hset(self.keys.paused, run_id, text)
        )

    def delete_paused(self, run_id: str) -> None:
        """Forget a paused run's snapshot (no error if absent)."""
        self._call(
            f"forget paused run '{run_id}'", lambda: self.client.hdel(self.keys.paused, run_id)
        )

    def paused_runs(self) -> list[dict[str, Any]]:
        """Return the snapshots of this worker's paused runs."""
        rows: Any = self._call("list paused runs", lambda: self.client.hvals(self.keys.paused))
        kept = [json.loads(r) for r in rows]
        return [k["data"] for k in kept if k["worker"] == self.worker_id]


_APPEND = """
local added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[1] .. '-0', 'e', ARGV[3])
if type(added) == 'table' and added.err then return added end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', 'e', ARGV[3])
return added
"""
"""Append one event to its session's stream (id ``<seq>-0``) and, only if that stream
took it, to the all-sessions stream."""


class RedisEventLog(QueuedWriter, EventLog):
    """Trace events in Redis Streams: one per session and one for all sessions.

    A session's stream holds its last ~``keep`` events under the entry id ``<seq>-0``;
    the all-sessions stream holds the last ~``keep_all`` events of every session in
    the order they were written (``MAXLEN ~``: Redis trims whole macro-nodes, so a few
    more may be kept). A writer thread sends what is queued in one pipeline (a Lua
    script per event: both streams or neither); events Redis refuses (a seq not above
    the session stream's last) or that cannot be sent (Redis unreachable) are counted
    in ``failed``.

    Args:
        client: a synchronous client (the writer and :meth:`events` use it).
        keys: the deployment's key names.
        keep: events kept per session.
        keep_all: events kept in the all-sessions stream.
        max_queue: events waiting for the writer at most.
    """

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        keep: int = 2000,
        keep_all: int = 10_000,
        max_queue: int = 100_000,
    ) -> None:
        self.client, self.keys, self.keep, self.keep_all = client, keys, keep, keep_all
        self._append = client.register_script(_APPEND)
        self._start_writer("cogpipe-redis-events", max_queue)

    def _write_batch(self, events: list[TraceEvent]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for e in events:
            keys = [self.keys.events(e.session_id), self.keys.events_all]
            self._append(keys, [e.seq, self.keep, e.to_json(), self.keep_all], client=pipe)
        try:
            results = pipe.execute(raise_on_error=False)
        except Exception:  # Redis unreachable: count, go on
            self._failed(len(events), f"could not send {len(events)} trace events to Redis")
            return
        refused = [r for r in results if isinstance(r, Exception)]
        if refused:
            try:
                raise refused[0]
            except Exception:
                self._failed(len(refused), f"Redis refused {len(refused)} trace events")

    def events(self, session_id: str, after: int, before: int | None = None) -> list[TraceEvent]:
        """Return a session's kept events with ``after < seq < before``, in order.

        Raises:
            StoreError: Redis cannot be reached.
        """
        end = f"({before}-0" if before is not None else "+"
        try:
            rows: Any = self.client.xrange(self.keys.events(session_id), f"({after}-0", end)
        except RedisError as exc:
            raise StoreError(f"read the events of session '{session_id}'", exc) from exc
        return [_event(fields) for _, fields in rows]

    def last_seq(self, session_id: str) -> int:
        """Return the seq of the session's last stored event (0 when none).

        Raises:
            StoreError: Redis cannot be reached.
        """
        try:
            rows: Any = self.client.xrevrange(self.keys.events(session_id), count=1)
        except RedisError as exc:
            raise StoreError(f"read the events of session '{session_id}'", exc) from exc
        return int(rows[0][0].split(b"-")[0]) if rows else 0

    def recent(self) -> list[TraceEvent]:
        """Return what the all-sessions stream keeps, oldest first.

        Raises:
            StoreError: Redis cannot be reached.
        """
        try:
            rows: Any = self.client.xrange(self.keys.events_all)
        except RedisError as exc:
            raise StoreError("read the all-sessions event stream", exc) from exc
        return [_event(fields) for _, fields in rows]

    async def follow(
        self,
        client: redis.asyncio.Redis,
        bus: EventBus,
        on_state: Callable[[bool], None] = lambda up: None,
    ) -> None:
        """Hand every event added to the all-sessions stream from now on to ``bus``, in
        stream order, forever (run it as a task). When Redis goes away it retries every
        0.5 s from the last entry read, so nothing the stream still holds is skipped;
        ``on_state(False)`` / ``on_state(True)`` report the connection's state. While
        ``bus`` has no observer (no client of this process streams), entries are
        skipped without being parsed."""
        last = "$"
        while True:
            try:
                found: Any = await client.xread(
                    {self.keys.events_all: last}, count=1000, block=1000
                )
            except (RedisError, OSError) as exc:
                log.warning("reading the event stream from Redis failed (%s); retrying", exc)
                on_state(False)
                await anyio.sleep(0.5)
                continue
            on_state(True)
            for _, rows in found:
                if not bus.observers:  # no client listens here: only keep the position
                    last = rows[-1][0]
                    continue
                for entry_id, fields in rows:
                    last = entry_id
                    bus.publish(_event(fields))


def _event(fields: dict[bytes, bytes]) -> TraceEvent:
    return TraceEvent(**json.loads(fields[b"e"]))


class Coordinator:
    """This process's membership and the per-session turn leases (Redis mode).

    Use it as an async context manager: it sets the worker key (``worker:<id>``, expiring
    after ``lease_s``) and renews it every ``lease_s / 3`` until it exits, so other
    processes can tell that this one is alive; :meth:`hold` takes a session's turn lease.

    Args:
        client: an asyncio client.
        keys: the deployment's key names.
        worker_id: this process's name.
        lease_s: how long a lease outlives its holder, seconds (> 0).
    """

    def __init__(
        self, client: redis.asyncio.Redis, keys: Keys, worker_id: str, lease_s: float = 10.0
    ) -> None:
        if lease_s <= 0:
            raise ValueError("lease_s must be a positive number of seconds")
        self.client, self.keys, self.worker_id, self.lease_s = client, keys, worker_id, lease_s
        self.up = True
        """Whether the last call to Redis worked."""
        self._tg: anyio.abc.TaskGroup | None = None
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Coordinator:
        await self._beat()
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        self._tg.start_soon(self._heartbeat, name="redis worker lease")
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._stack.__aexit__(None, None, None)
        # a clean stop: the others need not wait for the lease to expire
        with anyio.CancelScope(shield=True), anyio.move_on_after(2), suppress(RedisError):
            await self.client.delete(self.keys.worker(self.worker_id))

    async def _beat(self) -> None:
        ms = int(self.lease_s * 1000)
        await self.client.set(self.keys.worker(self.worker_id), str(time.time()), px=ms)

    async def _heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.lease_s / 3)
            try:
                await self._beat()
                self.up = True
            except (RedisError, OSError) as exc:
                self.up = False
                log.warning("could not renew this worker's lease in Redis: %s", exc)

    @asynccontextmanager
    async def hold(self, session_id: str) -> AsyncIterator[None]:
        """Hold the turn lease of ``session_id`` for the body: wait until no other
        holder has it (polling every 20 ms), renew it every ``lease_s / 3`` while the
        body runs, release it after. The lease expires ``lease_s`` after a holder that
        died, so a session is never locked for longer by a crashed process.

        Raises:
            LeaseLostError: the lease could not be renewed in time (Redis unreachable
                for ``lease_s``, or this process stalled): the body was cancelled,
                since another process may hold the session now.
            redis.RedisError: Redis cannot be reached to take the lease.
        """
        async with self.lease(self.keys.lock(session_id), session_id, wait=True):
            yield

    @asynccontextmanager
    async def lease(self, key: str, session_id: str, *, wait: bool) -> AsyncIterator[bool]:
        """Hold the lease ``key`` for the body, as :meth:`hold` does; with
        ``wait=False`` the body runs at once with ``False`` when another holder has it.

        Raises:
            LeaseLostError: see :meth:`hold`.
            redis.RedisError: Redis cannot be reached to take the lease.
        """
        assert self._tg is not None, "use the Coordinator as 'async with'"
        lock = self.client.lock(
            key, timeout=self.lease_s, sleep=0.02, thread_local=False, raise_on_release_error=False
        )
        if not await lock.acquire(blocking=wait):
            yield False
            return
        body = anyio.CancelScope()
        renewing = anyio.CancelScope()
        self._tg.start_soon(self._renew, lock, body, renewing, name=f"lease {session_id}")
        try:
            with body:
                yield True
        finally:
            renewing.cancel()
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                try:
                    await lock.release()
                except (LockError, RedisError) as exc:
                    log.warning("releasing the lease %s: %s", key, exc)
        if body.cancelled_caught:
            raise LeaseLostError(session_id)

    async def _renew(
        self,
        lock: redis.asyncio.lock.Lock,
        body: anyio.CancelScope,
        renewing: anyio.CancelScope,
    ) -> None:
        deadline = time.monotonic() + self.lease_s
        with renewing:
            while True:
                await anyio.sleep(self.lease_s / 3)
                try:
                    await lock.reacquire()
                    deadline = time.monotonic() + self.lease_s
                    continue
                except LockError:  # expired and maybe taken: stop at once
                    log.error("lost the lease %s", lock.name)
                except (RedisError, OSError) as exc:
                    if time.monotonic() < deadline - self.lease_s / 3:
                        log.warning("could not renew the lease %s yet: %s", lock.name, exc)
                        continue
                    log.error("could not renew the lease %s: %s", lock.name, exc)
                body.cancel()
                return

    async def ping(self) -> float:
        """Return Redis's round-trip time, ms.

        Raises:
            redis.RedisError, OSError: Redis cannot be reached.
        """
        t0 = time.perf_counter()
        await self.client.ping()
        return (time.perf_counter() - t0) * 1000


_TAKE = """
local rid = redis.call('LPOP', KEYS[1])
if rid then redis.call('HSET', KEYS[2], rid, ARGV[1]) end
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
return rid
"""


class TurnQueue:
    """Work sharing: the turns accepted by any process, run by whichever is free.

    :meth:`RedisSessionStore.enqueue` puts a run on its session's list and a wake-up on
    the ``turns`` stream. Every process reads that stream in the consumer group
    ``workers`` (:meth:`next_session`: each wake-up goes to one reader), takes the
    session's drain lease without waiting, and while holding it runs the session's
    queued turns one by one, oldest first (:meth:`take`). A process that does not get
    the drain lease drops the wake-up: the holder takes every queued turn before it lets
    go, and looks again after letting go. Turns of one session so run in the order they
    were accepted, one at a time; turns of different sessions spread over processes.

    Args:
        client: an asyncio client.
        keys: the deployment's key names.
        worker_id: this process's name (its consumer name, the owner of taken runs).
    """

    GROUP = "workers"

    def __init__(self, client: redis.asyncio.Redis, keys: Keys, worker_id: str) -> None:
        self.client, self.keys, self.worker_id = client, keys, worker_id
        self._take = client.register_script(_TAKE)

    async def join(self) -> None:
        """Create the consumer group if it does not exist yet (from the stream's end).

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        try:
            await self.client.xgroup_create(self.keys.turns, self.GROUP, id="$", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def next_session(self, block_ms: int = 1000) -> str | None:
        """Wait up to ``block_ms`` for a wake-up meant for this process; return its
        session id (acknowledged at once) or ``None``.

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        found: Any = await self.client.xreadgroup(
            self.GROUP, self.worker_id, {self.keys.turns: ">"}, count=1, block=block_ms
        )
        for _, rows in found or ():
            for entry_id, fields in rows:
                await self.client.xack(self.keys.turns, self.GROUP, entry_id)
                return str(fields[b"s"].decode())
        return None

    async def take(self, session_id: str) -> str | None:
        """Take the session's oldest queued run (this worker becomes its owner in
        ``runs:active``, in the same step); ``None`` when none is queued."""
        keys = [self.keys.queue(session_id), self.keys.active, self.keys.queues]
        rid: Any = await self._take(keys=keys, args=[self.worker_id, session_id])
        return rid.decode() if rid is not None else None

    async def queued(self, session_id: str) -> int:
        """Return how many runs wait on the session's list."""
        return int(await self.client.llen(self.keys.queue(session_id)))

    async def rewake(self) -> int:
        """Send a wake-up for every session with queued runs that nobody drains (its
        drainer died, or its wake-up went to a process that stopped); return how many."""
        sent = 0
        members: Any = await self.client.smembers(self.keys.queues)
        for raw in members:
            sid = raw.decode()
            if not await self.client.exists(self.keys.drain(sid)):
                await self.client.xadd(self.keys.turns, {"s": sid}, maxlen=10_000, approximate=True)
                sent += 1
        return sent
