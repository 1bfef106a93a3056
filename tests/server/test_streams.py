"""The SSE event streams over real HTTP on 127.0.0.1: live delivery, resume without
loss or repetition, slow consumers, disconnects, heartbeats."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import anyio
import httpx2

from cogpipe.engine import TraceEvent
from cogpipe.server.streams import FrameCache, StreamOptions, Timeline, parse_global, parse_seq

from .conftest import Running, SSEReader, new_session, run_to_end, send, wait_for


def burst(count: int, size: int = 10, delay_ms: float = 0) -> str:
    return json.dumps({"count": count, "size": size, "delay_ms": delay_ms})


def seqs(messages: list[Any]) -> list[int]:
    return [m.event["seq"] for m in messages if m.id is not None]


# -- live ------------------------------------------------------------------------------


async def test_session_stream_delivers_a_run_live(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "slow")
    async with client.stream("GET", f"/api/sessions/{sid}/events") as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        reader = SSEReader(resp)
        run_id = await send(client, sid, "hello")
        got = await reader.until("run.finished")
    types = [m.event["type"] for m in got]
    assert types[0] == "run.started" and types[-1] == "run.finished"
    assert types.count("output.delta") == 5 and "ui.controls" in types
    assert all(m.id == str(m.event["seq"]) for m in got)
    assert seqs(got) == list(range(2, 2 + len(got)))  # seq 1 (session.started) came before
    assert {m.event["run_id"] for m in got} == {run_id}
    deltas = [m.event for m in got if m.event["type"] == "output.delta"]
    # live, not at the end: the deltas arrive as the node streams them (50 ms apart)
    assert deltas[-1]["ts"] - deltas[0]["ts"] > 0.15


async def test_all_sessions_stream_ids_name_the_session(client: httpx2.AsyncClient) -> None:
    async with client.stream("GET", "/api/events") as resp:
        reader = SSEReader(resp)
        a, b = await new_session(client), await new_session(client)
        await run_to_end(client, await send(client, a, "to a"))
        await run_to_end(client, await send(client, b, "to b"))
        got: list[Any] = []
        while {m.event["session_id"] for m in got if m.event["type"] == "run.finished"} != {a, b}:
            got.append(await reader.next_event())
    mine = [m for m in got if m.event["session_id"] in (a, b)]
    assert all(m.id == f"{m.event['session_id']}:{m.event['seq']}" for m in mine)
    for sid in (a, b):
        assert [m.event["seq"] for m in mine if m.event["session_id"] == sid] == list(
            range(1, 1 + sum(m.event["session_id"] == sid for m in mine))
        )


async def test_unknown_session_stream_is_404(client: httpx2.AsyncClient) -> None:
    r = await client.get("/api/sessions/nope/events")
    assert r.status_code == 404
    assert r.json()["error"].startswith("unknown session 'nope'")


async def test_heartbeat_comment_arrives(serve) -> None:
    running = serve(streams_options=StreamOptions(ping_s=0.2))
    async with (
        httpx2.AsyncClient(base_url=running.url) as c,
        c.stream("GET", "/api/events") as resp,
    ):
        reader = SSEReader(resp)
        with anyio.fail_after(3):
            msg = await reader.next()
    assert (msg.comment, msg.id, msg.data) == ("ping", None, None)


# -- resume ----------------------------------------------------------------------------


async def test_session_resume_has_no_gap_and_no_duplicate(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client, "burst")
    url = f"/api/sessions/{sid}/events"
    async with client.stream("GET", url) as resp:
        reader = SSEReader(resp)
        run_id = await send(client, sid, burst(120, delay_ms=5))
        first = [await reader.next_event() for _ in range(30)]
    last_id = first[-1].id
    await anyio.sleep(0.1)  # events go on while the client is away
    async with client.stream("GET", url, headers={"Last-Event-ID": last_id}) as resp:
        second = await SSEReader(resp).until("run.ledger")  # a run's last event
    got = seqs(first) + seqs(second)
    assert got == list(range(got[0], got[0] + len(got)))
    assert second[-1].event["run_id"] == run_id
    session = (await client.get(f"/api/sessions/{sid}")).json()
    assert got[-1] == session["seq"]


async def test_all_sessions_resume_has_no_gap_and_no_duplicate(
    client: httpx2.AsyncClient,
) -> None:
    a, b = await new_session(client, "burst"), await new_session(client, "burst")
    async with client.stream("GET", "/api/events") as resp:
        reader = SSEReader(resp)
        runs = [
            await send(client, a, burst(80, delay_ms=4)),
            await send(client, b, burst(80, delay_ms=4)),
        ]
        first = [await reader.next_event() for _ in range(60)]
    mine = [m for m in first if m.event["session_id"] in (a, b)]
    await anyio.sleep(0.1)
    async with client.stream("GET", "/api/events", headers={"Last-Event-ID": first[-1].id}) as r:
        reader = SSEReader(r)
        second: list[Any] = []
        with anyio.fail_after(10):
            while (
                sum(m.event["type"] == "run.ledger" and m.event["run_id"] in runs for m in second)
                < 2
            ):
                second.append(await reader.next_event())
    for sid in (a, b):
        got = [m.event["seq"] for m in mine + second if m.event["session_id"] == sid]
        assert got == list(range(2, len(got) + 2)), sid  # 1 came before the stream
        assert got[-1] == (await client.get(f"/api/sessions/{sid}")).json()["seq"]


async def test_last_event_id_zero_replays_the_ring(client: httpx2.AsyncClient) -> None:
    sid = await new_session(client)
    await run_to_end(client, await send(client, sid, "earlier"))
    params = {"last_event_id": "0"}
    async with client.stream("GET", f"/api/sessions/{sid}/events", params=params) as resp:
        got = await SSEReader(resp).until("run.finished")
    assert got[0].event["type"] == "session.started"
    assert seqs(got) == list(range(1, len(got) + 1))
    async with client.stream("GET", "/api/events", params=params) as resp:
        reader = SSEReader(resp)
        every: list[Any] = []
        with anyio.fail_after(10):
            while not every or every[-1].id != f"{sid}:{len(got)}":
                every.append(await reader.next_event())
    assert [m.id for m in every if m.id.startswith(f"{sid}:")] == [
        f"{sid}:{n}" for n in range(1, len(got) + 1)
    ]


async def test_resume_from_ahead_of_the_server_still_gets_new_events(
    client: httpx2.AsyncClient,
) -> None:
    # after a restart a session's seq can fall back to the stored one; a client that saw
    # more must still get the new events, which reuse those numbers
    sid = await new_session(client)
    headers = {"Last-Event-ID": "9999"}
    async with client.stream("GET", f"/api/sessions/{sid}/events", headers=headers) as resp:
        reader = SSEReader(resp)
        await send(client, sid, "new")
        got = await reader.until("run.finished")
    assert seqs(got)[0] == 2


async def test_resume_past_the_ring_says_what_was_lost(serve) -> None:
    running = serve(settings={"ring_size": 5})
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c)
        await run_to_end(c, await send(c, sid, "hi"))
        last = (await c.get(f"/api/sessions/{sid}")).json()["seq"]
        headers = {"Last-Event-ID": "1"}
        async with c.stream("GET", f"/api/sessions/{sid}/events", headers=headers) as resp:
            reader = SSEReader(resp)
            notice = await reader.next_event()
            kept = [await reader.next_event() for _ in range(5)]
    assert notice.id is None
    assert notice.event == {"type": "stream.lost", "data": {"lost": last - 6}}
    assert seqs(kept) == list(range(last - 4, last + 1))


# -- slow consumers and disconnects ----------------------------------------------------


def _dechunk(raw: bytes) -> bytes:
    """Return the body of a chunked HTTP/1.1 response (after its headers)."""
    body, rest = b"", raw.split(b"\r\n\r\n", 1)[1]
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    return body


def _stalled_client(url: str, path: str) -> socket.socket:
    """Open an SSE stream with a tiny receive window and read nothing but the headers."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def _read_until(sock: socket.socket, data: bytes, marker: bytes, timeout: float) -> bytes:
    """Read until a whole SSE message containing ``marker`` arrived after ``data``."""
    sock.settimeout(timeout)
    start = len(data)
    while not re.search(re.escape(marker) + rb"[^\n]*\n\n", data[start:]):
        chunk = sock.recv(1 << 20)
        assert chunk, "the server closed the stream"
        data += chunk
    return data


async def test_stalled_client_loses_events_but_slows_nobody(serve) -> None:
    running: Running = serve(streams_options=StreamOptions(buffer=100))
    count, size = 1000, 10_000  # 10 MB: more than the kernel buffers of a stalled socket
    async with httpx2.AsyncClient(base_url=running.url, timeout=30) as c:
        sid = await new_session(c, "burst")
        path = f"/api/sessions/{sid}/events"
        stalled = _stalled_client(running.url, path)
        try:
            await wait_for(lambda: running.subscribers() == 1)
            async with c.stream("GET", path) as resp:
                reader = SSEReader(resp)
                t0 = time.monotonic()
                run_id = await send(c, sid, burst(count, size, delay_ms=1))
                got = await reader.until("run.ledger", timeout=30)
                elapsed = time.monotonic() - t0
            run = await run_to_end(c, run_id)
            sub = next(
                o for o in running.runtime.bus.observers if getattr(o, "session_id", None) == sid
            )
            assert sub.lost > 0 and sub.pending() <= 100  # dropped; memory stayed bounded
            # the stalled client reads again: the notice, then live events as usual
            raw = await anyio.to_thread.run_sync(_read_until, stalled, b"", b"stream.lost", 20)
            later = await send(c, sid, burst(1))
            raw = await anyio.to_thread.run_sync(
                _read_until, stalled, raw, b'"type":"run.ledger"', 20
            )
        finally:
            stalled.close()
    # the reading client got every event, promptly, without a loss notice
    ticks = [m for m in got if m.event["type"] == "bench.tick"]
    assert [t.event["data"]["i"] for t in ticks] == list(range(count))
    assert seqs(got) == list(range(got[0].event["seq"], got[0].event["seq"] + len(got)))
    assert run["duration_ms"] < 10_000 and elapsed < 20
    # the stalled one is told how many events it lost, at the gap
    blocks = [b for b in _dechunk(raw).split(b"\n\n") if b"data: " in b]
    events = [json.loads(b.split(b"data: ", 1)[1]) for b in blocks]
    lost = [e for e in events if e["type"] == "stream.lost"]
    assert len(lost) == 1 and lost[0]["data"]["lost"] == sub.lost
    first_run = [e for e in events if e.get("run_id") == run_id]
    assert len(first_run) + sub.lost == len(got)
    at = events.index(lost[0])
    assert events[at - 1]["seq"] + sub.lost + 1 == events[at + 1]["seq"]
    assert events[-1]["run_id"] == later and events[-1]["type"] == "run.ledger"


async def test_disconnect_removes_the_subscription(serve) -> None:
    running: Running = serve()
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c)
        for path in (f"/api/sessions/{sid}/events", "/api/events"):
            async with c.stream("GET", path) as resp:
                assert resp.status_code == 200
                await wait_for(lambda: running.subscribers() == 1)
            await wait_for(lambda: running.subscribers() == 0)
        stalled = _stalled_client(running.url, "/api/events")
        await wait_for(lambda: running.subscribers() == 1)
        stalled.close()
        await wait_for(lambda: running.subscribers() == 0)
        await run_to_end(c, await send(c, sid, "still works"))


# -- the pieces ------------------------------------------------------------------------


def _event(sid: str, seq: int) -> TraceEvent:
    return TraceEvent(seq, 0.0, sid, "", "g", "t")


def test_frame_cache_serialises_each_event_once() -> None:
    calls: list[int] = []
    cache = FrameCache(lambda e: calls.append(e.seq) or b"%d" % e.seq, size=2)
    one, two, three = _event("s", 1), _event("s", 2), _event("s", 3)
    assert [cache(one), cache(one), cache(two), cache(one)] == [b"1", b"1", b"2", b"1"]
    assert calls == [1, 2]
    cache(three)  # evicts the oldest entry (one)
    assert cache(one) == b"1" and calls == [1, 2, 3, 1]


def test_timeline_resumes_after_an_event_in_publish_order() -> None:
    timeline = Timeline(size=4)
    for e in [_event("a", 1), _event("b", 1), _event("a", 2), _event("b", 2), _event("a", 3)]:
        timeline.on_event(e)
    after, found = timeline.after("a", 2)
    assert found and [(e.session_id, e.seq) for e in after] == [("b", 2), ("a", 3)]
    after, found = timeline.after("a", 1)  # no longer kept: all but a's older events
    assert not found and [(e.session_id, e.seq) for e in after] == [
        ("b", 1),
        ("a", 2),
        ("b", 2),
        ("a", 3),
    ]


def test_last_event_id_parsing() -> None:
    assert [parse_seq(t) for t in ("12", " 7 ", "s1:9", "x", "", None)] == [
        12,
        7,
        9,
        None,
        None,
        None,
    ]
    assert [parse_global(t) for t in ("s1:9", "a:b:3", "9", ":3", "s1:x", None)] == [
        ("s1", 9),
        ("a:b", 3),
        None,
        None,
        None,
        None,
    ]
