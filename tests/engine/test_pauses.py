"""Breakpoints and approval gates: a run pauses, waits, and resumes as told (continue,
step, reject, edited inputs); the other branch goes on; cancel and the time limit end
it; tool calls pause before they reach a real MCP server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from cogpipe.engine import (
    CallbackObserver,
    GraphCatalog,
    GraphValidationError,
    Node,
    NodeParams,
    NodeRunError,
    Registry,
    RunContext,
    Runtime,
    ToolError,
    TraceEvent,
    UnknownNodeError,
    load_graph_text,
)
from cogpipe.engine.executor import RunResult
from cogpipe.engine.pauses import PauseExpiredError, ResumeError
from cogpipe.engine.store import SqliteSessionStore
from cogpipe.engine.tools import ToolManager
from tests.helpers.mcp_servers import git_repo, git_server_config, helper_server_config, received

from .kinds import Join, Source, Step


class CallParams(NodeParams):
    tool: str
    arguments: dict[str, Any] = {}


class Call(Node[CallParams], register=False):
    """Calls one tool; a refused call (ToolError) becomes ``{"error_kind": ...}``."""

    kind = "t_call"

    class Inputs(BaseModel):
        x: dict[str, Any]

    class Outputs(BaseModel):
        y: dict[str, Any] | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        try:
            result = await ctx.tools.call(self.params.tool, self.params.arguments)
        except ToolError as exc:
            return self.Outputs(y={"error_kind": exc.kind})
        return self.Outputs(y={"ok": result.ok, "text": result.text})


REGISTRY = Registry([Source, Step, Join, Call])

BRANCHES = """
name: branches
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  left: {kind: t_step}
  right: {kind: t_step, params: {sleep_s: 0.05}}
  join: {kind: t_join}
edges:
  - source.out -> left.x
  - source.out -> right.x
  - left.y -> join.a
  - right.y -> join.b
outputs: {result: join.y, left: left.y}
approval: %(approval)s
"""

CALLS = """
name: calls
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  call: {kind: t_call, timeout_s: %(timeout)s, params: {tool: %(tool)s, arguments: %(args)s}}
edges: [source.out -> call.x]
outputs: {result: call.y}
approval: %(approval)s
"""


class Watch:
    """Trace observer: every event, and a way to wait for the next ``run.paused``."""

    def __init__(self) -> None:
        self.events: list[TraceEvent] = []
        self._paused: list[TraceEvent] = []
        self._changed = anyio.Event()

    def __call__(self, event: TraceEvent) -> None:
        self.events.append(event)
        if event.type == "run.paused":
            self._paused.append(event)
        self._changed.set()
        self._changed = anyio.Event()

    async def paused(self) -> TraceEvent:
        with anyio.fail_after(5):
            while not self._paused:
                await self._changed.wait()
        return self._paused.pop(0)

    async def seen(self, type: str, node: str) -> None:
        with anyio.fail_after(5):
            while not any(e.type == type and e.node == node for e in self.events):
                await self._changed.wait()

    def types(self, *wanted: str) -> list[tuple[str, str | None]]:
        return [(e.type, e.node) for e in self.events if e.type in wanted]


def _catalog(*texts: str) -> GraphCatalog:
    cat = GraphCatalog(registry=REGISTRY)
    for text in texts:
        cat.add(load_graph_text(text, registry=REGISTRY))
    return cat


async def _start(
    rt: Runtime,
    tg: anyio.abc.TaskGroup,
    graph: str,
    results: list[Any],
    *,
    before: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
) -> str:
    """Start run 'r1' of a new session (with these breakpoints) in ``tg``; its result
    (or exception) goes to ``results``."""
    session = rt.create_session(graph)
    rt.set_breakpoints(session.id, before, after)
    tg.start_soon(_collect, rt, session.id, results)
    return session.id


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
async def rt(watch: Watch) -> AsyncIterator[Runtime]:
    cat = _catalog(
        BRANCHES % {"approval": "[]"},
        BRANCHES.replace("branches", "gated") % {"approval": "[left]"},
    )
    async with Runtime(cat, observers=[CallbackObserver(watch)]) as runtime:
        yield runtime


async def test_a_breakpoint_pauses_before_the_node_while_the_other_branch_goes_on(
    rt: Runtime, watch: Watch
) -> None:
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        await _start(rt, tg, "branches", results, before=("left",))
        paused = await watch.paused()
        assert (paused.type, paused.node, paused.run_id) == ("run.paused", "left", "r1")
        assert paused.data is not None
        assert paused.data["where"] == "before"
        assert paused.data["inputs"] == {"x": {"text": "go"}}
        assert rt.pauses.get("r1") is not None
        # the other branch is not held: right runs and finishes while left waits
        await watch.seen("node.finished", "right")
        assert ("node.started", "left") not in watch.types("node.started")
        assert ("node.started", "join") not in watch.types("node.started")
        rt.resume("r1", "continue")
    result: RunResult = results[0]
    assert result.status == "finished"
    assert result.outputs["result"] == {"text": "go", "left": 1, "right": 1}
    resumed = [e for e in watch.events if e.type == "run.resumed"]
    assert resumed[0].data is not None and resumed[0].data["action"] == "continue"
    assert rt.pauses.get("r1") is None


async def test_edited_inputs_are_validated_and_replace_the_pending_ones(
    rt: Runtime, watch: Watch
) -> None:
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        await _start(rt, tg, "gated", results)  # approval: [left]
        paused = await watch.paused()
        assert paused.data is not None and paused.data["where"] == "approval"
        with pytest.raises(ResumeError) as bad:
            rt.resume("r1", "continue", {"x": 5})
        assert bad.value.problems and bad.value.problems[0]["loc"] == ["x"]
        with pytest.raises(ResumeError, match="no input port 'nope'; its inputs: x"):
            rt.resume("r1", "continue", {"nope": {}})
        with pytest.raises(ResumeError, match="unknown action 'go'"):
            rt.resume("r1", "go")
        assert rt.pauses.get("r1") is not None  # refused requests decide nothing
        rt.resume("r1", "continue", {"x": {"text": "edited"}})
    assert results[0].outputs["left"] == {"text": "edited", "left": 1}
    started = [e for e in watch.events if e.type == "node.started" and e.node == "left"]
    assert "edited" in started[0].data["inputs"]["x"]
    with pytest.raises(LookupError, match="run 'r1' is not paused"):
        rt.resume("r1", "continue")


async def test_step_pauses_before_every_next_node(rt: Runtime, watch: Watch) -> None:
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        await _start(rt, tg, "branches", results, before=("source",))
        stops = []
        for _ in range(4):  # source, then left/right (either order), then join
            paused = await watch.paused()
            assert paused.data is not None
            stops.append((paused.node, paused.data["where"]))
            rt.resume("r1", "step")
    assert stops[0] == ("source", "before")
    assert sorted(n for n, _ in stops[1:3]) == ["left", "right"]
    assert stops[3] == ("join", "step")
    assert all(where == "step" for _, where in stops[1:])
    assert results[0].status == "finished"


async def test_reject_skips_the_node_as_if_its_outputs_were_empty(
    rt: Runtime, watch: Watch
) -> None:
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        await _start(rt, tg, "gated", results)
        await watch.paused()
        rt.resume("r1", "reject", {"x": {"ignored": True}})  # inputs do not matter then
    result = results[0]
    assert "left" in result.skipped and "left" not in result.executed
    assert result.outputs["result"] == {"text": "go", "right": 1}
    skipped = [e for e in watch.events if e.type == "node.skipped" and e.node == "left"]
    assert skipped[0].data == {"reason": "rejected while paused (approval)"}


async def test_a_breakpoint_after_a_node_shows_its_outputs_and_reject_drops_them(
    rt: Runtime, watch: Watch
) -> None:
    results: list[Any] = []
    async with anyio.create_task_group() as tg:
        await _start(rt, tg, "branches", results, after=("left",))
        paused = await watch.paused()
        assert paused.data is not None
        assert (paused.data["where"], paused.data["outputs"]) == (
            "after",
            {"y": {"text": "go", "left": 1}},
        )
        assert paused.data["editable"] is False
        with pytest.raises(ResumeError, match="paused after node 'left' ran"):
            rt.resume("r1", "continue", {"x": {}})
        rt.resume("r1", "reject")
    assert "left" not in results[0].outputs
    assert results[0].outputs["result"] == {"text": "go", "right": 1}


async def test_breakpoints_name_nodes_the_graph_runs(rt: Runtime) -> None:
    session = rt.create_session("branches")
    with pytest.raises(UnknownNodeError) as err:
        rt.set_breakpoints(session.id, before=["left", "lfet"], after=["nope"])
    assert err.value.unknown == ["lfet", "nope"]
    assert "runs no node 'lfet', 'nope'; its nodes: source, left, right, join" in str(err.value)
    assert not rt.breakpoints(session.id)  # nothing was set
    rt.set_breakpoints(session.id, before=["left"], after=["join"])
    assert rt.breakpoints(session.id).before == ["left"]
    rt.set_breakpoints(session.id)
    assert not rt.breakpoints(session.id)


async def test_a_paused_run_can_be_cancelled(rt: Runtime, watch: Watch) -> None:
    async with anyio.create_task_group() as tg:
        sid = await _start(rt, tg, "gated", [])
        await watch.paused()
        assert [s["run_id"] for s in rt.paused_runs()] == ["r1"]
        rt.forget("r1")  # cancelled on purpose: it is not to resume after a restart
        tg.cancel_scope.cancel()
    assert rt.pauses.get("r1") is None and rt.paused_runs() == []
    assert ("run.cancelled", None) in watch.types("run.cancelled")
    assert rt.session(sid).history[-1].status == "cancelled"


async def test_a_pause_without_a_decision_fails_the_run_after_the_time_limit(
    watch: Watch,
) -> None:
    cat = _catalog(BRANCHES % {"approval": "[left]"})
    async with Runtime(cat, observers=[CallbackObserver(watch)], pause_timeout_s=0.2) as rt:
        session = rt.create_session("branches")
        with pytest.raises(NodeRunError) as err:
            await rt.run(session.id, "message", "go", run_id="r1")
    assert isinstance(err.value.cause, PauseExpiredError)
    assert "paused approval node 'left' for 0.2 s without a decision" in err.value.message
    failed = [e for e in watch.events if e.type == "run.failed"]
    assert failed and failed[0].node == "left"
    assert rt.pauses.get("r1") is None


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ("[lfet]", "approval: 'lfet' is neither a node of this graph nor a tool name"),
        ("['no such tool']", "approval: 'no such tool' is neither a node"),
    ],
)
def test_the_loader_checks_approval_names(approval: str, message: str) -> None:
    with pytest.raises(GraphValidationError) as err:
        load_graph_text(BRANCHES % {"approval": approval}, registry=REGISTRY)
    problem = err.value.problems[0]
    assert message in problem.message
    assert problem.line == 15  # the "approval:" line (the text starts with a newline)
    if approval == "[lfet]":
        assert problem.details == ("fix: did you mean node 'left'?",)


def test_approval_splits_into_nodes_and_tools() -> None:
    graph = load_graph_text(BRANCHES % {"approval": "[left, db.wipe, echo]"}, registry=REGISTRY)
    assert graph.approval_nodes == {"left"}
    assert graph.approval_tools == {"db.wipe", "echo"}


# --- tool calls, against real MCP servers ------------------------------------------------


async def test_a_gated_tool_call_pauses_before_it_reaches_the_server(
    tmp_path: Path, watch: Watch
) -> None:
    record = tmp_path / "calls.jsonl"
    text = CALLS % {"timeout": 0.5, "tool": "echo", "args": "{text: hi}", "approval": "[echo]"}
    async with (
        ToolManager([helper_server_config("h", record=record)]) as tools,
        Runtime(_catalog(text), observers=[CallbackObserver(watch)], tools=tools) as rt,
    ):
        for action, args in (("continue", {"text": "edited"}), ("reject", None)):
            session = rt.create_session("calls")
            results: list[Any] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(_collect, rt, session.id, results)
                paused = await watch.paused()
                assert paused.data is not None and paused.node == "call"
                assert (paused.data["where"], paused.data["tool"]) == ("tool", "h.echo")
                assert paused.data["arguments"] == {"text": "hi"}
                assert "tool 'echo' needs approval" in paused.data["reason"]
                with pytest.raises(ResumeError, match=r"arguments do not fit tool 'h\.echo'"):
                    rt.resume("r1", "continue", {"text": 5})
                await anyio.sleep(0.7)  # longer than the node's timeout_s: paused time is free
                rt.resume("r1", action, args)
            out = results[0].outputs["result"]
            if action == "continue":
                assert out == {"ok": True, "text": "edited"}
            else:
                assert out == {"error_kind": "rejected"}
    calls = [c for c in received(record) if c["name"] == "echo"]
    assert [c["arguments"] for c in calls] == [{"text": "edited"}]  # the rejected one never went


async def test_destructive_tools_pause_when_the_runtime_requires_approval(
    tmp_path: Path, watch: Watch
) -> None:
    repo = git_repo(tmp_path / "repo")
    text = CALLS % {
        "timeout": "null",
        "tool": "git_reset",
        "args": f"{{repo_path: '{repo}'}}",
        "approval": "[]",
    }
    config = git_server_config(repo, allow_destructive=True)
    async with ToolManager([config]) as tools:
        for required in (False, True):
            async with Runtime(
                _catalog(text),
                observers=[CallbackObserver(watch)],
                tools=tools,
                approve_destructive_tools=required,
            ) as rt:
                session = rt.create_session("calls")
                results: list[Any] = []
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_collect, rt, session.id, results)
                    if required:
                        paused = await watch.paused()
                        assert paused.data is not None
                        assert paused.data["tool"] == "git.git_reset"
                        assert "marked destructive" in paused.data["reason"]
                        rt.resume("r1", "continue")
                assert results[0].outputs["result"]["ok"] is True
    assert len([e for e in watch.events if e.type == "run.paused"]) == 1  # only when required
    assert len([e for e in watch.events if e.type == "run.resumed"]) == 1


async def _collect(rt: Runtime, session_id: str, results: list[Any]) -> None:
    results.append(await rt.run(session_id, "message", "go", run_id="r1"))


async def test_a_paused_run_survives_a_restart(tmp_path: Path) -> None:
    """The first runtime stops while the run is paused before 'left' (its task is
    cancelled, as when a server stops); the second pauses it again from the session
    store: 'source' is not run again, 'right' (unfinished at the pause) is."""
    db = tmp_path / "sessions.db"
    first, second = Watch(), Watch()
    cat = _catalog(BRANCHES % {"approval": "[left]"})
    store = SqliteSessionStore(db)
    async with Runtime(cat, store=store, observers=[CallbackObserver(first)]) as rt:
        session = rt.create_session("branches")
        async with anyio.create_task_group() as tg:
            tg.start_soon(_collect, rt, session.id, [])
            await first.paused()
            tg.cancel_scope.cancel()
    assert rt.session(session.id).history == []  # no turn: the run is not over
    store.close()

    store = SqliteSessionStore(db)
    async with Runtime(cat, store=store, observers=[CallbackObserver(second)]) as rt:
        (snap,) = rt.paused_runs()
        assert (snap["run_id"], snap["node"], snap["where"]) == ("r1", "left", "approval")
        assert snap["done"] == {"source": {"out": {"text": "go"}}}
        results: list[Any] = []
        async with anyio.create_task_group() as tg:

            async def restore() -> None:
                results.append(
                    await rt.run(
                        snap["session_id"],
                        snap["entry"],
                        snap["payload"],
                        run_id="r1",
                        restore=snap,
                    )
                )

            tg.start_soon(restore)
            paused = await second.paused()
            assert paused.data is not None and paused.node == "left"
            assert (paused.data["where"], paused.data["inputs"]) == (
                "approval",
                {"x": {"text": "go"}},
            )
            rt.resume("r1", "continue")
        assert rt.paused_runs() == []
        history = rt.session(session.id).history
    assert results[0].outputs["result"] == {"text": "go", "left": 1, "right": 1}
    started = [e.node for e in second.events if e.type == "node.started"]
    assert "source" not in started and {"left", "right", "join"} <= set(started)
    (replayed,) = [e for e in second.events if e.type == "node.finished" and e.node == "source"]
    assert replayed.data == {"outputs": {"out": '{"text":"go"}'}, "restored": True}
    assert [t.status for t in history] == ["finished"]
    store.close()


async def test_a_run_that_fails_on_another_branch_while_paused_leaves_nothing_to_resume(
    watch: Watch,
) -> None:
    text = BRANCHES.replace("{sleep_s: 0.05}", "{sleep_s: 0.05, fail: true}") % {
        "approval": "[left]"
    }
    async with Runtime(_catalog(text), observers=[CallbackObserver(watch)]) as rt:
        session = rt.create_session("branches")
        with pytest.raises(NodeRunError, match="node 'right'"):
            await rt.run(session.id, "message", "go", run_id="r1")  # left waits, right fails
        assert rt.pauses.get("r1") is None and rt.paused_runs() == []
        assert rt.session(session.id).history[-1].status == "failed"
    assert ("run.paused", "left") in watch.types("run.paused")
