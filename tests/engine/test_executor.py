"""Execution semantics, as a table: graph, input -> outputs, executed and skipped nodes."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cogpipe.engine import NodeRunError, load_graph_text
from cogpipe.engine.testing import run_graph

from .kinds import REGISTRY

FAN_OUT = """
name: fan-out
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  left: {kind: t_step, params: {sleep_s: %(sleep)s}}
  right: {kind: t_step, params: {sleep_s: %(sleep)s}}
  join: {kind: t_join}
edges:
  - source.out -> left.x
  - source.out -> right.x
  - left.y -> join.a
  - right.y -> join.b
  - source.reflex -> join.reflex
outputs: {result: join.y}
"""

ANY_OF = """
name: any-of
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  quiet: {kind: t_step, params: {silent: %(quiet_silent)s}}
  loud: {kind: t_step, params: {sleep_s: 0.01}}
  sink: {kind: t_step}
edges:
  - source.out -> quiet.x
  - source.out -> loud.x
  - quiet.y -> sink.x
  - loud.y -> sink.x
outputs: {result: sink.y}
"""

PAIR = """
name: pair
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  left: {kind: t_step}
  right: {kind: t_step, params: {silent: true}}
  pair: {kind: t_pair}
  after: {kind: t_step}
edges:
  - source.out -> left.x
  - source.out -> right.x
  - left.y -> pair.a
  - right.y -> pair.b
  - pair.y -> after.x
outputs: {result: after.y, left: left.y}
"""

AFTER_THE_ANSWER = """
name: after-the-answer
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  answer: {kind: t_step}
  memo: {kind: t_step, critical: false, params: {fail: true}}
  after: {kind: t_step, critical: false}
edges:
  - source.out -> answer.x
  - answer.y -> memo.x
  - memo.y -> after.x
outputs: {result: answer.y}
"""

TWO_ENTRIES = """
name: two-entries
entry: {message: source.text, action: [button.x, log.x]}
nodes:
  source: {kind: t_source}
  step: {kind: t_step}
  button: {kind: t_step}
  log: {kind: t_step}
  join: {kind: t_join}
edges:
  - source.out -> step.x
  - step.y -> join.a
  - button.y -> join.b
outputs: {result: join.y}
"""

CASES = [
    pytest.param(
        FAN_OUT % {"sleep": 0},
        "go",
        {"result": {"text": "go", "left": 1, "right": 1}},
        ["source", "left", "right", "join"],
        [],
        id="fan-out-and-join",
    ),
    pytest.param(
        FAN_OUT % {"sleep": 0},
        "hi there",
        {"result": {"reflex": "reflex:hi there"}},
        ["source", "join"],
        ["left", "right"],
        id="conditional-skip-reflex-path",
    ),
    pytest.param(
        ANY_OF % {"quiet_silent": "false"},
        "go",
        {"result": {"text": "go", "quiet": 1, "sink": 1}},
        ["source", "quiet", "sink", "loud"],
        [],
        id="any-of-first-value-wins",
    ),
    pytest.param(
        ANY_OF % {"quiet_silent": "true"},
        "go",
        {"result": {"text": "go", "loud": 1, "sink": 1}},
        ["source", "quiet", "loud", "sink"],
        [],
        id="any-of-waits-for-the-edge-that-fires",
    ),
    pytest.param(
        PAIR,
        "go",
        {"left": {"text": "go", "left": 1}},
        ["source", "left", "right"],
        ["pair", "after"],
        id="join-skipped-when-a-required-branch-is-empty",
    ),
    pytest.param(
        TWO_ENTRIES,
        "go",
        {"result": {"text": "go", "step": 1}},
        ["source", "step", "join"],
        ["button", "log"],
        id="message-entry",
    ),
    pytest.param(
        TWO_ENTRIES,
        {"clicked": "ok"},
        {"result": {"clicked": "ok", "button": 1}},
        ["button", "log", "join"],
        ["source", "step"],
        id="action-entry-feeds-two-ports",
    ),
]


@pytest.mark.parametrize(("yaml", "payload", "outputs", "executed", "skipped"), CASES)
async def test_semantics(
    yaml: str, payload: Any, outputs: dict[str, Any], executed: list[str], skipped: list[str]
) -> None:
    entry = "action" if isinstance(payload, dict) else "message"
    run = await run_graph(yaml, payload, entry=entry, registry=REGISTRY)
    assert run.result is not None
    assert run.result.outputs == outputs
    assert sorted(run.result.executed) == sorted(executed)
    assert sorted(run.result.skipped) == sorted(skipped)
    assert run.result.status == "finished"
    graph = load_graph_text(yaml, registry=REGISTRY)
    for nid in run.result.executed:  # a node starts only after something that feeds it ended
        feeders = [u for u in graph.dag.predecessors(nid) if u in run.result.executed]
        if feeders:
            assert min(run.span(u)[1] for u in feeders) <= run.span(nid)[0]
    for nid in skipped:
        assert "node.skipped" in run.types(nid)
        assert "node.started" not in run.types(nid)


async def test_fan_out_branches_overlap_in_time() -> None:
    run = await run_graph(FAN_OUT % {"sleep": 0.05}, "go", registry=REGISTRY)
    left, right = run.span("left"), run.span("right")
    overlap = min(left[1], right[1]) - max(left[0], right[0])
    assert overlap > 0.04, f"branches ran one after the other: {left} {right}"
    assert run.result is not None
    assert run.result.duration_ms < 95  # two 50 ms sleeps side by side, not 100 ms
    join_start, _ = run.span("join")
    assert join_start >= max(left[1], right[1])


async def test_node_exception_fails_the_run_and_cancels_siblings() -> None:
    yaml = (FAN_OUT % {"sleep": 0.5}).replace(
        "left: {kind: t_step, params: {sleep_s: 0.5}}", "left: {kind: t_step, params: {fail: true}}"
    )
    with anyio.fail_after(2):
        run = await run_graph(yaml, "go", registry=REGISTRY, raise_errors=False)
    error = run.error
    assert isinstance(error, NodeRunError)
    assert (error.node, error.kind) == ("left", "t_step")
    assert isinstance(error.cause, ValueError)
    assert str(error) == "node 'left' (t_step) failed: ValueError: left was told to fail"
    assert run.types("left") == ["node.started", "node.failed", "run.failed"]
    assert run.types("right") == ["node.started", "node.cancelled"]
    assert "join" not in {e.node for e in run.events}
    assert run.events[-1].type == "run.failed"
    assert error.result.status == "failed"


async def test_a_non_critical_failure_is_a_warning_and_the_run_finishes() -> None:
    run = await run_graph(AFTER_THE_ANSWER, "x", registry=REGISTRY)
    result = run.result
    warning = "node 'memo' (t_step) failed: ValueError: memo was told to fail"
    assert (result.status, result.warnings) == ("finished", [warning])
    assert result.outputs == {"result": {"text": "x", "answer": 1}}
    assert (result.executed, result.skipped) == (["source", "answer"], ["after"])
    failed = next(e for e in run.events if e.type == "node.failed")
    assert (failed.node, failed.data) == (
        "memo",
        {"error": "ValueError: memo was told to fail", "critical": False},
    )
    assert run.events[-1].type == "run.finished"
    assert run.events[-1].data["warnings"] == [warning]


async def test_node_timeout_fails_the_run_with_a_clear_cause() -> None:
    yaml = (FAN_OUT % {"sleep": 0}).replace(
        "right: {kind: t_step, params: {sleep_s: 0}}",
        "right: {kind: t_step, timeout_s: 0.05, params: {sleep_s: 5}}",
    )
    with anyio.fail_after(2):
        run = await run_graph(yaml, "go", registry=REGISTRY, raise_errors=False)
    assert isinstance(run.error, NodeRunError)
    assert str(run.error) == (
        "node 'right' (t_step) failed: TimeoutError: no result within timeout_s=0.05 s"
    )


async def test_cancelling_a_run_mid_flight_is_clean() -> None:
    from cogpipe.engine import CallbackObserver, GraphCatalog, Runtime

    graph = load_graph_text(FAN_OUT % {"sleep": 5}, registry=REGISTRY)
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(graph)
    events: list[Any] = []
    async with Runtime(catalog, observers=[CallbackObserver(events.append)]) as rt:
        session = rt.create_session("fan-out")
        tasks_before = len(_all_tasks())
        with anyio.move_on_after(0.1) as scope:
            await rt.run(session.id, "message", "go")
        assert scope.cancelled_caught
        assert len(_all_tasks()) == tasks_before  # no node task outlives the run
        types = [(e.type, e.node) for e in events]
        assert ("node.cancelled", "left") in types
        assert ("node.cancelled", "right") in types
        assert types[-1] == ("run.cancelled", None)
        assert rt.session(session.id).history[-1].status == "cancelled"
        # the session survives: the next turn runs
        quick = rt.catalog.get("fan-out")
        assert quick is graph


def _all_tasks() -> set[Any]:
    import asyncio

    return asyncio.all_tasks()


async def test_payload_that_does_not_fit_the_entry_port_is_refused() -> None:
    with pytest.raises(ValueError, match=r"entry 'message' -> source.text: payload does not fit"):
        await run_graph(FAN_OUT % {"sleep": 0}, {"not": "text"}, registry=REGISTRY)


async def test_unknown_entry_lists_the_graph_entries() -> None:
    from cogpipe.engine import UnknownEntryError

    with pytest.raises(UnknownEntryError) as info:
        await run_graph(FAN_OUT % {"sleep": 0}, "go", entry="click", registry=REGISTRY)
    assert str(info.value) == "graph 'fan-out' has no entry 'click'. Entries: message"


async def test_streamed_text_arrives_as_output_delta_events() -> None:
    yaml = """
name: stream
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  text: {kind: t_text}
edges: [source.out -> text.x]
outputs: {answer: text.text}
"""
    run = await run_graph(yaml, "go", registry=REGISTRY)
    deltas = [e.data["text"] for e in run.events if e.type == "output.delta"]
    assert deltas == ["one ", "two"]
    assert all(e.node == "text" for e in run.events if e.type == "output.delta")
    assert run.result is not None and run.result.outputs == {"answer": "one two"}


async def test_nodes_ready_together_start_together_even_if_one_never_awaits() -> None:
    yaml = """
name: siblings
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  quick: {kind: t_step}
  slow: {kind: t_step, params: {sleep_s: 0.02}}
edges:
  - source.out -> quick.x
  - source.out -> slow.x
"""
    run = await run_graph(yaml, "go", registry=REGISTRY)
    quick, slow = run.span("quick"), run.span("slow")
    assert slow[0] < quick[1], "the node that never awaits ran to the end before its sibling"
    assert quick[0] < slow[1]
