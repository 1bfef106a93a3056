"""Bounded memory: idle sessions leave memory (session object, events, lock, node
instances) and come back from the store; a cap on sessions and on events held."""

from __future__ import annotations

from pathlib import Path

import anyio

from cogpipe.engine import RingBuffer, Runtime, TraceEvent
from cogpipe.engine.store import SqliteEventLog, SqliteSessionStore

from .kinds import Ticker
from .test_runtime import catalog


async def test_an_idle_session_is_evicted_and_comes_back_from_the_store(tmp_path: Path) -> None:
    Ticker.stopped.clear()
    store = SqliteSessionStore(tmp_path / "s.db")
    async with Runtime(catalog(), store=store, idle_s=0.2) as rt:
        session = rt.create_session("ticker")
        await rt.run(session.id, "message", "one")
        assert rt.memory()["sessions"] == 1 and rt.ring.events(session.id)
        with anyio.fail_after(5):
            while rt.memory()["sessions"]:
                await anyio.sleep(0.02)
        memory = rt.memory()
        held = {k: memory[k] for k in ("sessions", "active_sessions", "events", "evicted")}
        assert held == {"sessions": 0, "active_sessions": 0, "events": 0, "evicted": 1}
        assert rt.ring.events(session.id) == [] and rt._locks == {}
        await anyio.sleep(0.01)
        assert Ticker.stopped == ["ticker"]  # its node instances were stopped
        back = rt.session(session.id)  # reloaded from the store, history and state kept
        assert back is not session and [t.input for t in back.history] == ["one"]
        # saved as it was when evicted; the hook, cancelled then, may land one last tick
        # on the object that left memory (asyncio delivers a cancellation at the next step)
        saved, left = back.state["ticker"]["ticks"], session.state["ticker"]["ticks"]
        assert back.seq == session.seq and 0 < saved <= left <= saved + 1
        result = await rt.run(session.id, "message", "two")
        assert result.status == "finished" and len(back.history) == 2
    store.close()


async def test_a_running_session_is_not_evicted() -> None:
    async with Runtime(catalog(sleep=0.4), max_sessions=1) as rt:
        busy = rt.create_session()
        async with anyio.create_task_group() as tg:
            tg.start_soon(rt.run, busy.id, "message", "slow")
            await anyio.sleep(0.05)
            other = rt.create_session()  # past the cap, but the busy one is running
            assert rt.memory()["sessions"] == 2 and rt.evicted == 0
        third = rt.create_session()  # now both others are idle: the oldest goes first
        assert rt.memory()["sessions"] == 1 and rt.evicted == 2
        assert rt.session(other.id).id == other.id and len(rt.session(busy.id).history) == 1
        assert third.id in rt.session_ids()


def test_the_ring_drops_whole_sessions_past_its_total() -> None:
    ring = RingBuffer(size=4, max_total=10)
    for sid in ("a", "b", "c"):
        for seq in range(1, 5):
            ring.on_event(TraceEvent(seq, 0.0, sid, "", "g", "tick"))
        ring.settle(sid)  # counted per turn, not per event
    assert ring.total == 8 and ring.sessions() == 2  # 'a' went when the total passed 10
    assert ring.events("a") == [] and len(ring.events("c")) == 4
    for seq in range(5, 9):  # a full ring replaces its events: the total stays
        ring.on_event(TraceEvent(seq, 0.0, "c", "", "g", "tick"))
    ring.settle("c")
    assert ring.total == 8
    ring.forget("b")
    assert ring.total == 4


async def test_events_dropped_from_memory_are_read_from_the_event_log(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = SqliteSessionStore(db)
    log = SqliteEventLog(db)
    async with Runtime(catalog(), store=store, event_log=log, max_events=20) as rt:
        first = rt.create_session()
        await rt.run(first.id, "message", "one")
        later = rt.create_session()
        await rt.run(later.id, "message", "two")  # the first session's ring is dropped
        assert rt.ring.events(first.id) == []
        log.flush()
        events = rt.events(first.id, 2)
        assert [e.seq for e in events] == list(range(3, first.seq + 1))
        rt.evict_session(first.id)
        assert rt.session(first.id).seq == first.seq
    store.close()
