"""OpenTelemetry spans of real turns, recorded by the SDK's in-memory exporter.

Each shipped graph answers a question that needs a tool, through the real openai
client against the OpenAI-compatible test server and the demo MCP server as a
subprocess; the spans must form the tree docs/observability.md describes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from cogpipe.engine.llm import LLMConfig
from cogpipe.settings import Settings
from tests.helpers.openai_server import OpenAITestServer
from tests.helpers.spans import children, recording

from .conftest import demo_settings, one_turn


def settings_for(tmp_path: Path, server: OpenAITestServer) -> Settings:
    # the test server answers with the offline model: it needs the calls' hints
    llm = LLMConfig(base_url=server.url + "/v1", api_key="test", max_retries=0, send_hints=True)
    return demo_settings(tmp_path, llm=llm)


def only(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


@pytest.mark.parametrize("graph", ["v1-current", "v2-director-drives"])
async def test_tool_using_turn_span_tree(
    graph: str, tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    with recording() as exporter:
        turn, session_id = await one_turn(settings_for(tmp_path, openai_server), graph)
        spans = list(exporter.get_finished_spans())
    assert "count_customers" in turn.tools()

    run = only(spans, f"invoke_agent {graph}")
    assert run.parent is None
    assert run.attributes is not None
    assert run.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert run.attributes["gen_ai.agent.name"] == graph
    assert run.attributes["gen_ai.conversation.id"] == session_id
    assert run.attributes["cogpipe.run_id"] == turn.result.run_id
    trace_id = trace.format_trace_id(run.context.trace_id)
    assert turn.result.trace_id == trace_id
    assert turn.of("run.started")[0]["trace_id"] == trace_id
    # everything else is the MCP client connecting and listing tools at start-up
    others = {s.name for s in spans if s.context.trace_id != run.context.trace_id}
    assert all(n.startswith("MCP send ") and "tools/call" not in n for n in others), others

    # one span per node run, each a child of the run, named after the node
    nodes = children(spans, run)
    started = [e.node for e in turn.events if e.type == "node.started"]
    assert sorted(s.name for s in nodes) == sorted(f"node {n}" for n in started)
    for span in nodes:
        assert span.attributes is not None
        assert span.name == f"node {span.attributes['cogpipe.node.id']}"
        assert span.status.status_code is not StatusCode.ERROR

    # one chat span per LLM attempt, under the node that made the call
    chats = [s for s in spans if s.name.startswith("chat ")]
    responses = turn.of("llm.response")
    assert len(chats) == len(turn.of("llm.request")) == len(responses) > 0
    by_id = {s.context.span_id: s for s in spans}
    requests = {(e["call_id"], e["attempt"]): e for e in turn.of("llm.request")}
    answers = {(e["call_id"], e["attempt"]): e for e in responses}
    for chat in chats:
        attrs = chat.attributes
        assert attrs is not None and chat.kind is SpanKind.CLIENT and chat.parent is not None
        key = (attrs["cogpipe.llm.call_id"], attrs["cogpipe.llm.attempt"])
        request, response = requests[key], answers[key]
        node = by_id[chat.parent.span_id]
        assert node in nodes
        caller = next(e.node for e in turn.events if (e.data or {}).get("call_id") == key[0])
        assert caller == (node.attributes or {})["cogpipe.node.id"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.request.model"] == request["model"]
        assert chat.name == f"chat {attrs['gen_ai.request.model']}"
        assert attrs["gen_ai.response.model"] == response["model"]
        assert attrs["gen_ai.usage.input_tokens"] == response["tokens_in"]
        assert attrs["gen_ai.usage.output_tokens"] == response["tokens_out"]
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == int(openai_server.url.rsplit(":", 1)[1])
        if "ttft_ms" in response:
            assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(
                response["ttft_ms"] / 1000, abs=1e-4
            )
    assert any("gen_ai.response.time_to_first_chunk" in (s.attributes or {}) for s in chats)

    # one execute_tool span per tool call, under its node, with the MCP client's span
    # (made by the mcp SDK) under it
    tools = [s for s in spans if s.name.startswith("execute_tool ")]
    assert [s.name for s in tools] == [f"execute_tool {t}" for t in turn.tools()]
    for tool, event in zip(tools, turn.of("tool.finished"), strict=True):
        attrs = tool.attributes
        assert attrs is not None and tool.parent is not None
        assert by_id[tool.parent.span_id] in nodes
        assert attrs["gen_ai.tool.name"] == event["tool"]
        assert attrs["gen_ai.tool.call.id"] == event["call_id"]
        assert attrs["cogpipe.tool.server"] == event["server"] == "demo_db"
        mcp = [s.name for s in children(spans, tool)]
        assert mcp == ["MCP send tools/call " + event["tool"]], mcp


async def test_concurrent_branches_are_overlapping_siblings(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    with recording() as exporter:
        turn, _ = await one_turn(settings_for(tmp_path, openai_server), "v2-director-drives")
        spans = list(exporter.get_finished_spans())
    assert turn.overlap("output", "ui")
    run = only(spans, "invoke_agent v2-director-drives")
    output, ui = only(spans, "node output"), only(spans, "node ui")
    assert output.parent is not None and ui.parent is not None
    assert output.parent.span_id == ui.parent.span_id == run.context.span_id
    assert output.start_time is not None and output.end_time is not None
    assert ui.start_time is not None and ui.end_time is not None
    assert output.start_time < ui.end_time and ui.start_time < output.end_time


async def test_no_sdk_no_spans_and_no_trace_id(
    tmp_path: Path, openai_server: OpenAITestServer
) -> None:
    turn, _ = await one_turn(settings_for(tmp_path, openai_server), "v1-current")
    assert turn.result.trace_id is None
    assert "trace_id" not in turn.of("run.started")[0]
