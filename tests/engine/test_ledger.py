"""The overhead ledger (engine/ledger.py): emitted after each run when the runtime asks
for it, parts that sum to each node's wall time, and the critical path through the slow
branch."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cogpipe.engine import GraphCatalog, NodeRunError, Runtime, load_graph_text
from cogpipe.engine.events import validate_event

from .kinds import REGISTRY, SMALL

DIAMOND = """
name: diamond
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  fast: {kind: t_step, params: {sleep_s: 0.01}}
  slow: {kind: t_step, params: {sleep_s: 0.12}}
  join: {kind: t_pair}
  last: {kind: t_step, params: {sleep_s: 0.03, fail: %(fail)s}}
edges:
  - source.out -> fast.x
  - source.out -> slow.x
  - fast.y -> join.a
  - slow.y -> join.b
  - join.y -> last.x
outputs: {result: last.y}
"""


def catalog(fail: bool = False) -> GraphCatalog:
    cat = GraphCatalog(registry=REGISTRY, default="diamond")
    cat.add(load_graph_text(DIAMOND % {"fail": str(fail).lower()}, registry=REGISTRY))
    return cat


def assert_sums(ledger: dict[str, Any]) -> None:
    """Every node's parts sum to its wall time, the critical path to the run's (5 %)."""
    for nid, n in ledger["nodes"].items():
        parts = n["upstream_ms"] + n["engine_ms"] + n["own_ms"] + n["llm_ms"] + n["tool_ms"]
        assert parts == pytest.approx(n["wall_ms"], rel=0.05, abs=0.05), (nid, n)
        assert min(n[k] for k in ("upstream_ms", "engine_ms", "own_ms", "llm_ms")) >= 0, n
    path = sum(s["hop_ms"] + s["node_ms"] for s in ledger["critical_path"])
    assert path + ledger["tail_ms"] == pytest.approx(ledger["wall_ms"], rel=0.05), ledger


async def test_the_ledger_names_the_slow_branch_and_the_wait_at_the_join() -> None:
    async with Runtime(catalog(), ledger=True) as rt:
        sid = rt.create_session().id
        result = await rt.run(sid, "message", "go")
        events = rt.ring.events(sid)
    ledger_event = events[-1]
    assert ledger_event.type == "run.ledger" and ledger_event.run_id == result.run_id
    validate_event(ledger_event)
    ledger = ledger_event.data
    assert ledger is not None
    assert_sums(ledger)
    assert ledger["wall_ms"] == pytest.approx(result.duration_ms, rel=0.05)
    assert [s["node"] for s in ledger["critical_path"]] == ["source", "slow", "join", "last"]
    nodes = ledger["nodes"]
    # join's first input came from 'fast'; it then waited ~110 ms for 'slow'
    assert 80 < nodes["join"]["upstream_ms"] < 160, nodes["join"]
    assert nodes["slow"]["own_ms"] >= 110 and nodes["fast"]["upstream_ms"] < 5
    assert nodes["source"]["llm_ms"] == nodes["source"]["tool_ms"] == 0
    hops = {(e["from"], e["to"]): e for e in ledger["edges"]}
    assert set(hops) == {
        ("source", "fast"),
        ("source", "slow"),
        ("fast", "join"),
        ("slow", "join"),
        ("join", "last"),
    }
    assert hops[("fast", "join")]["hop_ms"] > 80  # upstream ended -> downstream started
    assert all(e["fired"] == 1 for e in ledger["edges"])


async def test_a_failed_run_has_a_ledger_too() -> None:
    async with Runtime(catalog(fail=True), ledger=True) as rt:
        sid = rt.create_session().id
        with pytest.raises(NodeRunError):
            await rt.run(sid, "message", "go")
        events = rt.ring.events(sid)
    assert [e.type for e in events[-2:]] == ["run.failed", "run.ledger"]
    ledger = events[-1].data
    assert ledger is not None and ledger["nodes"]["last"]["status"] == "failed"
    assert_sums(ledger)


async def test_no_ledger_unless_asked() -> None:
    async with Runtime(catalog()) as rt:
        sid = rt.create_session().id
        await rt.run(sid, "message", "go")
        assert "run.ledger" not in {e.type for e in rt.ring.events(sid)}


async def test_a_cancelled_run_has_a_ledger_too() -> None:
    async with Runtime(catalog(), ledger=True) as rt:
        sid = rt.create_session().id
        with anyio.move_on_after(0.06):  # while 'slow' sleeps
            await rt.run(sid, "message", "go")
        events = rt.ring.events(sid)
    assert [e.type for e in events[-2:]] == ["run.cancelled", "run.ledger"]
    ledger = events[-1].data
    assert ledger is not None and ledger["nodes"]["slow"]["status"] == "cancelled"
    assert "join" not in ledger["nodes"]
    assert_sums(ledger)


async def test_the_critical_path_passes_through_skipped_nodes() -> None:
    cat = GraphCatalog(registry=REGISTRY, default="small")
    cat.add(load_graph_text(SMALL, registry=REGISTRY))
    async with Runtime(cat, ledger=True) as rt:
        sid = rt.create_session().id
        result = await rt.run(sid, "message", "hi there")  # 'hi': the reflex port
        ledger = rt.ring.events(sid)[-1].data
    assert result.skipped == ["step"] and ledger is not None
    assert [s["node"] for s in ledger["critical_path"]] == ["source", "join"]
    assert set(ledger["nodes"]) == {"source", "join"}
    assert_sums(ledger)


async def test_no_ledger_when_the_ring_no_longer_holds_the_run_start() -> None:
    async with Runtime(catalog(), ledger=True, ring_size=5) as rt:
        sid = rt.create_session().id
        await rt.run(sid, "message", "go")  # ~20 events: run.started is gone by the end
        assert rt.ring.events(sid)[-1].type == "run.finished"
