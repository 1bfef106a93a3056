"""Durable turns: a run accepted with 202 is in the session store before the answer, a
restart turns the runs it cut short into ``interrupted``, and a session's event stream
resumes across a restart from the store's ``events`` table. Real SQLite files, real
uvicorn servers on 127.0.0.1."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from cogpipe.engine import MemorySessionStore, RunRecord, RunStatus, TraceEvent
from cogpipe.engine.store import SqliteEventLog, SqliteSessionStore

from .conftest import SSEReader, new_session, run_to_end, send, wait_for


def _stored_run(db: Path, run_id: str) -> dict[str, Any] | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT data FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return json.loads(row[0]) if row else None


async def test_an_accepted_run_is_stored_before_the_202(serve, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    running = serve(settings={"session_db": db})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c, "slow")
        run_id = await send(c, sid, "keep me")
        stored = _stored_run(db, run_id)  # read at once, by another connection
        assert stored is not None and stored["status"] in ("queued", "running")
        assert stored["session_id"] == sid and stored["input"] == "keep me"
        assert len(run_id) == 16 and int(run_id, 16) >= 0  # random hex, not a counter
        await run_to_end(c, run_id)
    stored = await wait_for(lambda: (r := _stored_run(db, run_id)) and r["ended"] and r)
    assert stored["status"] == "finished"
    assert stored["outputs"] == {"response": "echo: keep me"}
    assert stored["extra"]["progress"] == {"done": 2, "skipped": 0, "total": 2}


async def test_a_restart_marks_cut_short_runs_interrupted(serve, tmp_path: Path) -> None:
    db = tmp_path / "restart.db"
    first = serve(settings={"session_db": db})
    async with httpx2.AsyncClient(base_url=first.url) as c:
        sid = await new_session(c)
        done = await send(c, sid, "before")
        await run_to_end(c, done)
    first.stop()
    # what a process killed mid-turn leaves behind: a run recorded as running
    store = SqliteSessionStore(db)
    store.save_run(RunRecord("cafe0001", sid, "chat", "message", "lost?", RunStatus.RUNNING, 1.0))
    store.close()

    second = serve(settings={"session_db": db})
    async with httpx2.AsyncClient(base_url=second.url) as c:
        run = (await c.get("/api/runs/cafe0001")).json()
        assert run["status"] == "interrupted"
        assert "stopped before this run ended" in run["error"]
        assert (await c.get(f"/api/runs/{done}")).json()["status"] == "finished"
        history = (await c.get(f"/api/sessions/{sid}")).json()["history"]
        assert [(t["run_id"], t["status"]) for t in history][-1] == ("cafe0001", "interrupted")
        assert history[-1]["input"] == "lost?"
        r = await c.post("/api/runs/cafe0001/cancel")
        assert r.status_code == 409 and r.json()["run"]["status"] == "interrupted"
        # the next turn works, and the stream told what happened
        again = await run_to_end(c, await send(c, sid, "after"))
        assert again["status"] == "finished"
        async with c.stream("GET", f"/api/sessions/{sid}/events?last_event_id=0") as resp:
            reader = SSEReader(resp)
            got = await reader.until("run.finished")  # the first turn's
            got += await reader.until("run.finished")  # the turn after the restart
    types = [m.event["type"] for m in got]
    assert types[0] == "session.started"  # from the store: this process never had it
    assert "run.interrupted" in types
    assert [m.event["seq"] for m in got] == list(range(1, len(got) + 1))  # no gap, no repeat


async def _one_turn_then_restart(serve: Any, db: Path) -> tuple[Any, str, int]:
    """Run one turn on a server over ``db``, stop it, start another on the same ``db``;
    return the second server, the session and its last seq."""
    first = serve(settings={"session_db": db})
    async with httpx2.AsyncClient(base_url=first.url) as c:
        sid = await new_session(c)
        await run_to_end(c, await send(c, sid, "one"))
        seq = (await c.get(f"/api/sessions/{sid}")).json()["seq"]
    first.stop()
    return serve(settings={"session_db": db}), sid, seq


async def test_a_stream_resumes_across_a_restart(serve, tmp_path: Path) -> None:
    second, sid, seq = await _one_turn_then_restart(serve, tmp_path / "resume.db")
    async with httpx2.AsyncClient(base_url=second.url) as c:
        headers = {"Last-Event-ID": "3"}
        async with c.stream("GET", f"/api/sessions/{sid}/events", headers=headers) as resp:
            reader = SSEReader(resp)
            replayed = [await reader.next_event() for _ in range(seq - 3)]
            await send(c, sid, "two")
            live = await reader.until("run.finished")
    assert [m.event["seq"] for m in replayed] == list(range(4, seq + 1))
    assert replayed[-1].event["type"] == "run.finished"
    assert live[0].event["seq"] == seq + 1  # numbers go on, never reused


async def test_the_all_sessions_stream_says_what_a_restart_lost(serve, tmp_path: Path) -> None:
    second, sid, seq = await _one_turn_then_restart(serve, tmp_path / "all.db")
    async with httpx2.AsyncClient(base_url=second.url) as c:
        # this stream resumes from its own record of this process's events only
        headers = {"Last-Event-ID": f"{sid}:3"}
        async with c.stream("GET", "/api/events", headers=headers) as resp:
            notice = await SSEReader(resp).next_event()
        assert notice.event == {"type": "stream.lost", "data": {"lost": seq - 3}}
        headers = {"Last-Event-ID": "nobody:3"}  # an unknown session: live, nothing lost
        async with c.stream("GET", "/api/events", headers=headers) as resp:
            reader = SSEReader(resp)
            await send(c, sid, "two")
            assert (await reader.next_event()).event["type"] == "run.started"


async def test_a_store_that_cannot_be_written_answers_503(serve, tmp_path: Path) -> None:
    db = tmp_path / "locked.db"
    running = serve(settings={"session_db": db, "session_db_timeout_s": 0.1})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c)
        blocker = sqlite3.connect(db, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the database
        try:
            r = await c.post(f"/api/sessions/{sid}/messages", json={"text": "refused"})
            assert r.status_code == 503, r.text
            assert r.json()["error"].startswith("the session store could not record run")
            assert "nothing was accepted" in r.json()["error"]
            assert r.headers["Retry-After"] == "5"
            assert running.app.state.runs.recent() == []  # nothing was accepted
            r = await c.post("/api/sessions", json={})
            assert r.status_code == 503
            assert r.json()["error"].startswith("the session store could not save session")
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        run = await run_to_end(c, await send(c, sid, "accepted"))
        assert run["status"] == "finished"
        assert len((await c.get("/api/sessions")).json()) == 1  # the refused one is not there


async def test_health_shows_memory_and_write_failures(serve) -> None:
    running = serve(settings={"max_sessions": 7, "max_events": 900, "session_idle_min": 2})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        await new_session(c)
        health = (await c.get("/api/health")).json()
    memory = health["memory"]
    assert memory["sessions"] == 1 and memory["max_sessions"] == 7
    assert memory["max_events"] == 900 and memory["events"] >= 1
    assert memory["idle_s"] == 120 and memory["sessions_per_minute"] == 60
    assert health["failures"]["trace"]["failed"] == 0
    assert health["failures"]["event_log"] == {"failed": 0, "dropped": 0}


async def test_too_many_new_sessions_answer_429(serve) -> None:
    running = serve(settings={"sessions_per_minute": 2})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        await new_session(c)
        await new_session(c)
        r = await c.post("/api/sessions", json={})
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert "at most 2 per minute" in r.json()["error"]
        assert len((await c.get("/api/sessions")).json()) == 2  # nothing half-created


# -- the store and the event log on their own ----------------------------------------------


def _event(sid: str, seq: int) -> TraceEvent:
    return TraceEvent(seq, float(seq), sid, "r", "g", "tick", data={"n": seq})


def test_event_log_keeps_the_last_events_of_each_session(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    SqliteSessionStore(db).close()
    log = SqliteEventLog(db, keep=8)
    for seq in range(1, 41):
        log.on_event(_event("a", seq))
        log.on_event(_event("b", seq))
    log.flush()
    assert log.last_seq("a") == 40 and log.last_seq("nobody") == 0
    kept = [e.seq for e in log.events("a", 0)]
    assert kept[-1] == 40 and 8 <= len(kept) <= 10  # pruned every keep/4 events
    assert [e.seq for e in log.events("b", 35, 39)] == [36, 37, 38]
    assert log.events("b", 39)[0] == _event("b", 40)
    log.close()


def test_event_log_counts_failed_writes_and_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "full.db"
    SqliteSessionStore(db).close()
    log = SqliteEventLog(db, timeout_s=0.1)
    blocker = sqlite3.connect(db, timeout=0, isolation_level=None)
    blocker.execute("PRAGMA busy_timeout = 0")
    blocker.execute("BEGIN EXCLUSIVE")
    log.on_event(_event("a", 1))
    deadline = time.monotonic() + 30
    while log.failed == 0:  # the writer waited its busy timeout, then gave up
        assert time.monotonic() < deadline
        time.sleep(0.05)
    blocker.execute("ROLLBACK")
    blocker.close()
    log.on_event(_event("a", 2))
    log.flush()
    assert log.failed == 1 and [e.seq for e in log.events("a", 0)] == [2]
    log.close()


@pytest.mark.parametrize(
    "make", [lambda p: SqliteSessionStore(p / "s.db"), lambda p: MemorySessionStore()]
)
def test_interrupt_active_marks_only_unfinished_runs(make: Any, tmp_path: Path) -> None:
    store = make(tmp_path)
    statuses = ["queued", "running", "finished", "cancelled", "paused", "paused"]
    for i, status in enumerate(statuses):
        store.save_run(RunRecord(f"r{i}", "s", "g", "message", None, status, float(i)))
    # r5 is paused with a stored snapshot: it pauses again after the restart
    found = store.interrupt_active("gone", spare={"r5"})
    assert [r.run_id for r in found] == ["r0", "r1", "r4"]
    loaded = store.load_run("r1")
    assert loaded is not None and loaded.status == "interrupted" and loaded.error == "gone"
    assert store.load_run("r2").status == "finished"
    assert store.load_run("r5").status == "paused"
    assert store.interrupt_active("again", spare={"r5"}) == []


def test_a_record_from_a_newer_version_keeps_its_fields() -> None:
    record = RunRecord.from_dict(
        {
            "run_id": "x",
            "session_id": "s",
            "graph": "g",
            "entry": "message",
            "status": "paused",
            "node": "n1",
        }
    )
    assert record.status == "paused" and record.extra == {"node": "n1"}
    assert RunRecord.from_dict(record.to_dict()).to_dict() == record.to_dict()
