"""Trace events: order, numbering, observers that fail or stall, JSONL rotation."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest

from cogpipe.engine import (
    CallbackObserver,
    GraphCatalog,
    JsonlSink,
    Observer,
    Runtime,
    Subscription,
    TraceEvent,
    load_graph_text,
)
from cogpipe.engine.testing import run_graph
from cogpipe.engine.trace import DETAIL_CHARS

from .kinds import REGISTRY, SMALL


async def test_event_order_for_a_small_graph() -> None:
    run = await run_graph(SMALL, "go", registry=REGISTRY)
    got = [(e.type, e.node, (e.data or {}).get("to")) for e in run.events]
    assert got == [
        ("session.started", None, None),
        ("run.started", None, None),
        ("node.started", "source", None),
        ("node.finished", "source", None),
        ("edge.fired", "source", "step.x"),
        ("node.started", "step", None),
        ("node.finished", "step", None),
        ("edge.fired", "step", "join.a"),
        ("node.started", "join", None),
        ("node.finished", "join", None),
        ("run.finished", None, None),
    ]
    assert [e.seq for e in run.events] == list(range(1, len(run.events) + 1))
    assert all(e.run_id == run.result.run_id for e in run.events[1:])  # type: ignore[union-attr]
    finished = run.events[3]
    assert finished.data == {"outputs": {"out": '{"text":"go"}'}}
    assert finished.duration_ms is not None and finished.duration_ms >= 0
    assert run.events[4].data == {"from": "source.out", "to": "step.x", "preview": '{"text":"go"}'}
    assert run.events[5].data == {"inputs": {"x": '{"text":"go"}'}}


async def test_node_values_are_shown_longer_than_edge_previews() -> None:
    text = "w" * 5000
    run = await run_graph(SMALL, text, registry=REGISTRY)
    finished, fired, started = run.events[3], run.events[4], run.events[5]
    shown = json.dumps({"text": text}, separators=(",", ":"))
    assert finished.data == {"outputs": {"out": shown[: DETAIL_CHARS - 1] + "…"}}
    assert started.data == {"inputs": {"x": shown[: DETAIL_CHARS - 1] + "…"}}
    assert fired.data is not None and fired.data["preview"] == shown[:199] + "…"


async def test_events_serialise_to_json_lines() -> None:
    run = await run_graph(SMALL, "go", registry=REGISTRY)
    for event in run.events:
        data = json.loads(event.to_json())
        assert data["seq"] == event.seq and data["type"] == event.type
        assert set(data) == set(TraceEvent._fields)


async def test_seq_continues_across_runs_of_a_session() -> None:
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(load_graph_text(SMALL, registry=REGISTRY))
    async with Runtime(catalog) as rt:
        session = rt.create_session("small")
        await rt.run(session.id, "message", "go")
        await rt.run(session.id, "message", "again")
        seqs = [e.seq for e in rt.ring.events(session.id)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e.seq for e in rt.ring.events(session.id, after=5)] == seqs[5:]


class _Broken(Observer):
    def on_event(self, event: TraceEvent) -> None:
        raise RuntimeError("observer bug")


async def test_a_failing_observer_never_fails_the_run(caplog: pytest.LogCaptureFixture) -> None:
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(load_graph_text(SMALL, registry=REGISTRY))
    seen: list[TraceEvent] = []
    async with Runtime(catalog, observers=[_Broken(), CallbackObserver(seen.append)]) as rt:
        session = rt.create_session("small")
        result = await rt.run(session.id, "message", "go")
    assert result.status == "finished"
    assert seen[-1].type == "run.finished"  # observers after the broken one still get events
    assert "observer bug" in caplog.text


async def test_a_stalled_subscription_drops_and_counts_instead_of_blocking() -> None:
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(load_graph_text(SMALL, registry=REGISTRY))
    with Subscription(max_buffer=5) as stalled:
        async with Runtime(catalog, observers=[stalled]) as rt:
            session = rt.create_session("small")
            with anyio.fail_after(2):
                for _ in range(10):
                    await rt.run(session.id, "message", "go")
            total = len(rt.ring.events(session.id))
        assert stalled.pending() == 5
        assert stalled.lost == total - 5
        first = await stalled.receive()
        assert first.seq == 1  # it keeps the oldest events and drops the newer ones


async def test_subscription_filters_by_session() -> None:
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(load_graph_text(SMALL, registry=REGISTRY))
    async with Runtime(catalog) as rt:
        mine, theirs = rt.create_session("small"), rt.create_session("small")
        sub = Subscription(mine.id)
        rt.bus.add(sub)
        await rt.run(theirs.id, "message", "go")
        await rt.run(mine.id, "message", "go")
        rt.bus.remove(sub)
        sub.close()
        got = [e async for e in sub]
    assert got and {e.session_id for e in got} == {mine.id}


def test_jsonl_rotation_keeps_disk_use_bounded(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, max_bytes=20_000, backups=2)
    for seq in range(1, 3001):
        sink.on_event(TraceEvent(seq, 0.0, "s", "r", "g", "node.finished", "n", "k", {"i": seq}))
    sink.flush()
    sink.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["cogpipe.jsonl", "cogpipe.jsonl.1", "cogpipe.jsonl.2"]
    assert sum(f.stat().st_size for f in files) <= 20_000 * 3
    last = (tmp_path / "cogpipe.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["seq"] == 3000  # the newest events are kept
    assert sink.dropped == 0


def test_jsonl_sink_rejects_a_zero_bound(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes must be a positive number of bytes"):
        JsonlSink(tmp_path, max_bytes=0)


async def test_batch_hands_out_the_backlog_at_once_then_the_end() -> None:
    with Subscription() as sub:
        for seq in (1, 2, 3):
            sub.on_event(TraceEvent(seq, 0.0, "s", "r", "g", "t"))
        assert [e.seq for e in await sub.batch()] == [1, 2, 3]
        sub.on_event(TraceEvent(4, 0.0, "s", "r", "g", "t"))
        sub.close()
        assert [e.seq for e in await sub.batch()] == [4]
        with pytest.raises(anyio.EndOfStream):
            await sub.batch()
