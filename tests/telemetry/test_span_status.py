"""Spans of what fails: the failing node's span and the run's are marked ERROR with the
error's type, a cancelled sibling's span says so; a failed LLM attempt's span says why."""

from __future__ import annotations

import anyio
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from pydantic import BaseModel

from cogpipe.engine import Node, NodeRunError, Registry, RunContext
from cogpipe.engine.testing import run_graph
from tests.engine.kinds import REGISTRY
from tests.engine.test_executor import AFTER_THE_ANSWER, FAN_OUT
from tests.helpers.openai_server import OpenAITestServer, client_for, events_of, llm_context
from tests.helpers.spans import recording


async def test_a_failing_node_marks_its_span_and_the_runs() -> None:
    yaml = (FAN_OUT % {"sleep": 0.5}).replace(
        "left: {kind: t_step, params: {sleep_s: 0.5}}", "left: {kind: t_step, params: {fail: true}}"
    )
    with recording() as exporter, anyio.fail_after(5):
        run = await run_graph(yaml, "go", registry=REGISTRY, raise_errors=False)
    assert isinstance(run.error, NodeRunError)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = next(s for name, s in spans.items() if name.startswith("invoke_agent "))
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == run.error.message
    assert (root.attributes or {})["error.type"] == "ValueError"
    left, right = spans["node left"], spans["node right"]
    assert left.status.status_code is StatusCode.ERROR
    assert (left.attributes or {})["error.type"] == "ValueError"
    assert right.status.status_code is StatusCode.ERROR
    assert (right.attributes or {})["error.type"] == "cancelled"
    assert "node join" not in spans
    assert spans["node source"].status.status_code is StatusCode.UNSET


async def test_a_non_critical_failure_fails_only_its_node_span() -> None:
    with recording() as exporter:
        run = await run_graph(AFTER_THE_ANSWER, "x", registry=REGISTRY)
    assert run.result.status == "finished" and run.result.trace_id is not None
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["node memo"].status.status_code is StatusCode.ERROR
    root = next(s for name, s in spans.items() if name.startswith("invoke_agent "))
    assert root.status.status_code is StatusCode.UNSET


async def test_each_llm_attempt_is_a_span_and_a_failed_one_says_why(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.fail(500, "overloaded")
    with recording() as exporter:
        tracer = trace.get_tracer("test")
        with tracer.start_as_current_span("node n") as node:
            async with client_for(openai_server, max_retries=2) as llm:
                ctx, events = llm_context(llm)
                ctx.trace_context = trace.set_span_in_context(node)
                await ctx.llm.complete("fast", "hello")
        chats = [s for s in exporter.get_finished_spans() if s.name.startswith("chat ")]
    assert [e["attempt"] for e in events_of(events, "llm.request")] == [1, 2]
    first, second = sorted(chats, key=lambda s: s.start_time or 0)
    for span, attempt in ((first, 1), (second, 2)):
        assert span.parent is not None and span.parent.span_id == node.get_span_context().span_id
        assert (span.attributes or {})["cogpipe.llm.attempt"] == attempt
    assert first.status.status_code is StatusCode.ERROR
    assert (first.attributes or {})["error.type"] == "http_status"
    assert "overloaded" in (first.status.description or "")
    assert second.status.status_code is StatusCode.UNSET
    assert (second.attributes or {})["gen_ai.usage.output_tokens"] > 0


async def test_no_trace_context_no_llm_span(openai_server: OpenAITestServer) -> None:
    with recording() as exporter:
        async with client_for(openai_server) as llm:
            ctx, _ = llm_context(llm)
            await ctx.llm.complete("fast", "hello")
    assert exporter.get_finished_spans() == ()


class Traced(Node, register=False):
    """Makes a span of its own, as node code or an instrumented library would."""

    kind = "t_traced"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        with trace.get_tracer("user code").start_as_current_span("my own work"):
            await anyio.sleep(0)
        return self.Outputs(text=inputs.text)


async def test_spans_made_inside_a_node_nest_under_its_span() -> None:
    yaml = """
name: traced
entry: {message: [a.text, b.text]}
nodes:
  a: {kind: t_traced}
  b: {kind: t_traced}
outputs: {a: a.text, b: b.text}
"""
    with recording() as exporter:
        await run_graph(yaml, "hi", registry=Registry([Traced]))
        outside = trace.get_tracer("test").start_span("after the run")
        outside.end()
    spans = list(exporter.get_finished_spans())
    nodes = {s.context.span_id: s.name for s in spans if s.name.startswith("node ")}
    mine = [s for s in spans if s.name == "my own work"]
    assert len(mine) == 2
    assert sorted(nodes[s.parent.span_id] for s in mine if s.parent) == ["node a", "node b"]
    after = next(s for s in spans if s.name == "after the run")
    assert after.parent is None  # the node's span is current only while it runs
