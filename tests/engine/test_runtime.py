"""Sessions: turns, history and state, graph switching, ordering, background hooks."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from cogpipe.engine import (
    GraphCatalog,
    NodeRunError,
    Runtime,
    SessionBusyError,
    UnknownGraphError,
    UnknownSessionError,
    load_graph_text,
)

from .kinds import REGISTRY, Ticker

COUNTER = """
name: %(name)s
entry: {message: source.text}
context: [memory]
nodes:
  source: {kind: t_source}
  step: {kind: t_step, params: {sleep_s: %(sleep)s}}
  echo: {kind: t_echo}
  memory: {kind: t_memory}
edges:
  - source.out -> step.x
  - step.y -> echo.x
  - step.y -> memory.x
outputs: {result: step.y, context: echo.y}
"""

TICKER = """
name: ticker
entry: {message: source.text}
context: [ticker]
nodes:
  source: {kind: t_source}
  echo: {kind: t_echo}
  ticker: {kind: t_ticker}
edges: [source.out -> echo.x]
outputs: {context: echo.y}
"""

FAILING = """
name: failing
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  step: {kind: t_step, params: {fail: true}}
edges: [source.out -> step.x]
"""

AFTER_THE_ANSWER = """
name: after-the-answer
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  memo: {kind: t_step, critical: false, params: {fail: true}}
edges: [source.out -> memo.x]
outputs: {result: source.out}
"""


def catalog(sleep: float = 0) -> GraphCatalog:
    cat = GraphCatalog(registry=REGISTRY, default="v1")
    for name in ("v1", "v2"):
        cat.add(load_graph_text(COUNTER % {"name": name, "sleep": sleep}, registry=REGISTRY))
    cat.add(load_graph_text(TICKER, registry=REGISTRY))
    cat.add(load_graph_text(FAILING, registry=REGISTRY))
    cat.add(load_graph_text(AFTER_THE_ANSWER, registry=REGISTRY))
    return cat


async def test_history_state_and_context_carry_across_turns() -> None:
    async with Runtime(catalog()) as rt:
        session = rt.create_session()
        assert session.graph == "v1"
        first = await rt.run(session.id, "message", "one")
        second = await rt.run(session.id, "message", "two")
    assert first.outputs["context"] == {"context": ["turns so far: 0"]}
    assert second.outputs["context"] == {"context": ["turns so far: 1"]}
    assert session.state["memory"] == {"turns": 2}
    assert [(t.input, t.status, t.outputs["result"]) for t in session.history] == [
        ("one", "finished", {"text": "one", "step": 1}),
        ("two", "finished", {"text": "two", "step": 1}),
    ]


async def test_a_turn_with_a_non_critical_failure_is_finished_with_its_warning() -> None:
    async with Runtime(catalog()) as rt:
        session = rt.create_session("after-the-answer")
        result = await rt.run(session.id, "message", "one")
    (turn,) = session.history
    assert (turn.status, turn.outputs) == ("finished", {"result": {"text": "one"}})
    assert (
        turn.warnings
        == result.warnings
        == ["node 'memo' (t_step) failed: ValueError: memo was told to fail"]
    )


async def test_switching_graphs_takes_effect_next_turn_and_keeps_state() -> None:
    async with Runtime(catalog()) as rt:
        session = rt.create_session("v1")
        await rt.run(session.id, "message", "one")
        rt.switch_graph(session.id, "v2")
        result = await rt.run(session.id, "message", "two")
        switched = [e for e in rt.ring.events(session.id) if e.type == "graph.switched"]
    assert result.graph == "v2"
    assert result.outputs["context"] == {"context": ["turns so far: 1"]}  # memory kept
    assert [t.graph for t in session.history] == ["v1", "v2"]
    assert len(switched) == 1
    assert switched[0].data["from"] == "v1" and switched[0].data["to"] == "v2"
    assert {n["data"]["id"] for n in switched[0].data["elements"]["nodes"]} >= {"source", "echo"}


async def test_a_switch_during_a_turn_applies_to_the_next_one() -> None:
    async with Runtime(catalog(sleep=0.05)) as rt:
        session = rt.create_session("v1")
        async with anyio.create_task_group() as tg:
            results: list[Any] = []

            async def turn() -> None:
                results.append(await rt.run(session.id, "message", "one"))

            tg.start_soon(turn)
            await anyio.sleep(0.01)
            rt.switch_graph(session.id, "v2")
        assert results[0].graph == "v1"
        assert (await rt.run(session.id, "message", "two")).graph == "v2"


async def test_turns_of_one_session_run_one_after_another() -> None:
    async with Runtime(catalog(sleep=0.03)) as rt:
        session = rt.create_session("v1")
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for text in ("a", "b", "c"):
                tg.start_soon(rt.run, session.id, "message", text)
        elapsed = time.perf_counter() - t0
    assert elapsed >= 0.09  # 3 x 30 ms, never overlapping
    runs = [e for e in rt.ring.events(session.id) if e.type in ("run.started", "run.finished")]
    assert [e.type for e in runs] == ["run.started", "run.finished"] * 3


async def test_different_sessions_run_in_parallel() -> None:
    async with Runtime(catalog(sleep=0.05)) as rt:
        sessions = [rt.create_session("v1") for _ in range(5)]
        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for session in sessions:
                tg.start_soon(rt.run, session.id, "message", "go")
        elapsed = time.perf_counter() - t0
    assert elapsed < 0.15  # 5 x 50 ms side by side


async def test_too_many_waiting_turns_are_refused() -> None:
    async with Runtime(catalog(sleep=0.05), max_waiting_turns=1) as rt:
        session = rt.create_session("v1")
        async with anyio.create_task_group() as tg:
            tg.start_soon(rt.run, session.id, "message", "running")
            await anyio.sleep(0.005)
            tg.start_soon(rt.run, session.id, "message", "waiting")
            await anyio.sleep(0.005)
            with pytest.raises(SessionBusyError, match="already has 1 turns waiting"):
                await rt.run(session.id, "message", "refused")


async def test_a_failed_turn_is_recorded_and_the_session_goes_on() -> None:
    async with Runtime(catalog()) as rt:
        session = rt.create_session("failing")
        with pytest.raises(NodeRunError):
            await rt.run(session.id, "message", "go")
        rt.switch_graph(session.id, "v1")
        result = await rt.run(session.id, "message", "go")
    assert [t.status for t in session.history] == ["failed", "finished"]
    assert result.status == "finished"


async def test_history_is_bounded() -> None:
    async with Runtime(catalog(), max_history=3) as rt:
        session = rt.create_session("v1")
        for i in range(5):
            await rt.run(session.id, "message", f"turn {i}")
    assert [t.input for t in session.history] == ["turn 2", "turn 3", "turn 4"]


async def test_start_hooks_run_in_the_background_and_stop_on_switch() -> None:
    Ticker.stopped.clear()
    async with Runtime(catalog()) as rt:
        session = rt.create_session("ticker")
        await rt.run(session.id, "message", "go")
        await anyio.sleep(0.05)
        result = await rt.run(session.id, "message", "go")
        ticks = int(result.outputs["context"]["context"][0].split(": ")[1])
        assert ticks >= 3
        rt.switch_graph(session.id, "v1")
        await rt.run(session.id, "message", "go")
        assert Ticker.stopped == ["ticker"]
        stopped_at = session.state["ticker"]["ticks"]
        await anyio.sleep(0.03)
        assert session.state["ticker"]["ticks"] == stopped_at


async def test_unknown_graph_and_session_errors_name_what_exists() -> None:
    async with Runtime(catalog()) as rt:
        with pytest.raises(UnknownGraphError) as graph_error:
            rt.create_session("v3")
        with pytest.raises(UnknownSessionError, match="unknown session 'nope'"):
            await rt.run("nope", "message", "go")
    assert (
        str(graph_error.value)
        == "unknown graph 'v3'. Known graphs: after-the-answer, failing, ticker, v1, v2"
    )


async def test_a_request_refused_before_its_run_leaves_no_turn() -> None:
    from cogpipe.engine import UnknownEntryError

    async with Runtime(catalog()) as rt:
        session = rt.create_session("v1")
        with pytest.raises(UnknownEntryError):
            await rt.run(session.id, "click", {})
        with pytest.raises(ValueError, match="payload does not fit"):
            await rt.run(session.id, "message", {"not": "text"})
    assert session.history == []


async def test_idle_sessions_past_the_limit_stop_their_background_hooks() -> None:
    Ticker.stopped.clear()
    async with Runtime(catalog(), max_active_sessions=2) as rt:
        sessions = [rt.create_session("ticker") for _ in range(3)]
        for session in sessions:
            await rt.run(session.id, "message", "go")
        assert Ticker.stopped == ["ticker"]  # the least recently used one
        first = sessions[0]
        ticks = first.state["ticker"]["ticks"]
        await anyio.sleep(0.03)
        assert first.state["ticker"]["ticks"] == ticks  # its ticking stopped
        result = await rt.run(first.id, "message", "go")  # and restarts on its next turn
        assert result.status == "finished"
        await anyio.sleep(0.03)
        assert first.state["ticker"]["ticks"] > ticks
