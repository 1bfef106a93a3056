"""engine.distributed against a real Redis, in-process: leases, the store's claim on the
runs of dead workers, and the event streams' ids."""

from __future__ import annotations

import secrets
import time

import anyio
import pytest
import redis.asyncio

from cogpipe.engine import RunRecord, Session, TraceEvent
from cogpipe.engine.distributed import (
    Coordinator,
    Keys,
    RedisEventLog,
    RedisSessionStore,
    masked,
)
from cogpipe.engine.errors import LeaseLostError
from tests.helpers.redis_server import RedisServer


def _keys() -> Keys:
    return Keys(f"u{secrets.token_hex(4)}:")


def test_masked_hides_only_the_password() -> None:
    assert masked("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert masked("redis://user:pw@h/1") == "redis://user:***@h/1"
    assert masked("redis://h:6379/0") == "redis://h:6379/0"


async def test_a_lease_that_cannot_be_renewed_stops_the_body(redis_server: RedisServer) -> None:
    keys = _keys()
    async with (
        redis.asyncio.Redis.from_url(redis_server.url) as client,
        Coordinator(client, keys, "w1", lease_s=0.3) as coordinator,
    ):
        reached = False
        with pytest.raises(LeaseLostError, match="session 's1'"):
            async with coordinator.hold("s1"):
                await client.delete(keys.lock("s1"))  # as if it expired and was taken
                await anyio.sleep(2)
                reached = True
        assert not reached
        # a lease held by a live holder is renewed past lease_s; the next holder waits
        order: list[str] = []

        async def second() -> None:
            async with coordinator.hold("s2"):
                order.append("second")

        async def first() -> None:
            async with coordinator.hold("s2"):
                await anyio.sleep(0.8)  # more than twice the lease
                order.append("first")

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await anyio.sleep(0.1)
            tg.start_soon(second)
        assert order == ["first", "second"]


async def test_only_runs_of_dead_workers_are_interrupted(redis_server: RedisServer) -> None:
    keys = _keys()
    with redis_server.client() as sync:
        alive = RedisSessionStore(sync, keys, "alive")
        dead = RedisSessionStore(sync, keys, "dead")
        sync.set(keys.worker("alive"), "1", px=10_000)
        now = time.time()
        mine = RunRecord("r1", "s", "g", "message", "hi", "running", now)
        theirs = RunRecord("r2", "s", "g", "message", "ho", "queued", now + 1)
        alive.save_run(mine)
        dead.save_run(theirs)
        found = alive.interrupt_active("gone")
        assert [(r.run_id, r.status, r.error) for r in found] == [("r2", "interrupted", "gone")]
        assert alive.load_run("r1").status == "running"  # type: ignore[union-attr]
        assert alive.interrupt_active("gone") == []  # taken once only
        session = Session("s", "g")
        alive.save(session)
        assert alive.ids() == ["s"] and alive.load("s") == session


def test_event_stream_ids_are_seqs(redis_server: RedisServer) -> None:
    keys = _keys()
    with redis_server.client() as sync:
        log = RedisEventLog(sync, keys, keep=100)
        for seq in (1, 2, 3, 2):  # the repeated seq is refused and counted
            log.on_event(TraceEvent(seq, 0.0, "s", "r", "g", "x", data={"n": seq}))
        log.flush()
        assert [e.seq for e in log.events("s", 1)] == [2, 3]
        assert [e.seq for e in log.events("s", 0, 3)] == [1, 2]
        assert log.last_seq("s") == 3 and log.last_seq("other") == 0
        assert [e.data for e in log.recent()] == [{"n": 1}, {"n": 2}, {"n": 3}]
        assert log.failed == 1
        log.close()
