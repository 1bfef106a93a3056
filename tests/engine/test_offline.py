"""The offline model through LLMClient (base_url None): the real openai SDK over an
in-process httpx2 transport; and OfflineModel's wire format and fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from cogpipe.engine.errors import LLMError
from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.offline import OfflineModel, offline_responder, unregister
from tests.helpers.openai_server import (
    OpenAITestServer,
    client_for,
    events_of,
    llm_context,
)


class Verdict(BaseModel):
    label: Literal["yes", "no"]
    confidence: float = Field(ge=0, le=1)
    reasons: list[str]


class Step(BaseModel):
    tool: str
    args: dict[str, str]


class Plan(BaseModel):
    steps: list[Step]
    note: str | None = None


WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
async def offline_llm() -> AsyncIterator[LLMClient]:
    async with LLMClient(LLMConfig(), OfflineModel(chunk_delay_s=0.0)) as client:
        yield client


async def test_offline_answers_plain_text_deterministically(offline_llm: LLMClient) -> None:
    ctx, events = llm_context(offline_llm)
    first = await ctx.llm.complete("fast", "What is the weather like today?")
    assert first == await ctx.llm.complete("smart", "What is the weather like today?")
    assert 'You said: "What is the weather like today?"' in first
    assert "COGPIPE_LLM_BASE_URL" in first
    assert first != await ctx.llm.complete("fast", "Something else")
    response = events_of(events, "llm.response")[0]
    assert response["model"] == "offline" and response["tokens_out"] > 0
    assert offline_llm.info() == {
        "mode": "offline",
        "base_url": None,
        "structured_output": "auto",
        "tool_calls": "auto",
        "connect_timeout_s": 10,
        "first_token_timeout_s": 30,
        "call_timeout_s": 120,
        "max_retries": 2,
        "models": dict.fromkeys(["fast", "smart", "default"], "offline"),
    }


async def test_offline_structured_output_is_schema_valid(offline_llm: LLMClient) -> None:
    ctx, _ = llm_context(offline_llm)
    verdict = await ctx.llm.structured("fast", "Is it raining?", Verdict)
    assert verdict == Verdict(label="yes", confidence=0.0, reasons=["Is it raining?"])
    plan = await ctx.llm.structured("fast", "plan", Plan)  # non-strict schema
    assert plan == Plan(steps=[Step(tool="plan", args={})], note=None)


async def test_offline_streams_several_deltas(offline_llm: LLMClient) -> None:
    ctx, events = llm_context(offline_llm)
    text = await ctx.llm.stream("fast", "Tell me a story")
    deltas = [d["text"] for d in events_of(events, "output.delta")]
    assert len(deltas) > 5 and "".join(deltas) == text
    assert text == await ctx.llm.complete("fast", "Tell me a story")
    assert events_of(events, "llm.response")[0]["ttft_ms"] > 0


async def test_offline_uses_registered_responders_by_purpose_then_kind(
    offline_llm: LLMClient,
) -> None:
    @offline_responder("test_v1.judge")
    def judge(messages: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
        return {"label": "no", "confidence": 1.0, "reasons": [messages[-1]["content"]]}

    @offline_responder("test_v1")
    def any_task(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        return f"kind-level answer to {request['model']}"

    try:
        ctx, _ = llm_context(offline_llm)
        verdict = await ctx.llm.structured("fast", "Snow is hot", Verdict, purpose="test_v1.judge")
        assert verdict == Verdict(label="no", confidence=1.0, reasons=["Snow is hot"])
        text = await ctx.llm.complete("smart", "hi", purpose="test_v1.other")
        assert text == "kind-level answer to gpt-4o"
        other_ctx, _ = llm_context(offline_llm, kind="other_v1")
        assert "You said" in await other_ctx.llm.complete("fast", "hi", purpose="other_v1.x")
    finally:
        unregister("test_v1.judge")
        unregister("test_v1")


async def test_offline_tool_requests_answer_plain_unless_a_responder_calls_tools() -> None:
    def planner(messages: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
        return {
            "tool_calls": [
                {"name": request["tools"][0]["function"]["name"], "arguments": {"city": "Rome"}}
            ]
        }

    model = OfflineModel({"test_v1.plan": planner}, chunk_delay_s=0)
    async with LLMClient(LLMConfig(), model) as client:
        ctx, _ = llm_context(client)
        plain = await ctx.llm.chat("fast", "hello", tools=[WEATHER])
        assert plain.tool_calls == [] and plain.content and "hello" in plain.content
        reply = await ctx.llm.chat("fast", "weather?", tools=[WEATHER], purpose="test_v1.plan")
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("weather", {"city": "Rome"})]


async def test_offline_responder_errors_become_llm_errors_without_retries() -> None:
    calls: list[int] = []

    def broken(messages: list[dict[str, Any]], request: dict[str, Any]) -> str:
        calls.append(1)
        raise KeyError("missing")

    async with LLMClient(LLMConfig(), OfflineModel({"t.x": broken})) as client:
        ctx, _ = llm_context(client)
        with pytest.raises(
            LLMError,
            match=r"offline responder for purpose 't\.x' raised "
            "KeyError: 'missing'",
        ) as info:
            await ctx.llm.complete("fast", "hi", purpose="t.x")
    assert "at the offline model" in info.value.message and calls == [1]


async def test_the_test_server_answers_whole_conversations_with_the_offline_model(
    openai_server: OpenAITestServer,
) -> None:
    async with client_for(openai_server) as llm:
        ctx, _ = llm_context(llm)
        text = await ctx.llm.stream("fast", "Good morning")
        assert 'You said: "Good morning"' in text
        assert (await ctx.llm.structured("fast", "x", Verdict)).label == "yes"
        models = await llm.openai.models.list()
    assert [m.id for m in models.data] == ["offline"]
    assert [r.path for r in openai_server.requests][-1] == "/v1/models"
