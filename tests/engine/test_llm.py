"""engine.llm and engine.completions through the real openai SDK and the test server."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Literal

import anyio
import pytest
from pydantic import BaseModel, Field

from cogpipe.engine.completions import OpenAIHandle
from cogpipe.engine.errors import (
    LLMBrokenResponseError,
    LLMConnectError,
    LLMError,
    LLMInvalidOutputError,
    LLMStatusError,
)
from cogpipe.engine.llm import ChatReply, LLMClient, LLMConfig
from cogpipe.engine.offline import OfflineModel
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
    args: dict[str, str]  # free-form keys: not strict-compatible


class Plan(BaseModel):
    steps: list[Step]
    note: str | None = None


@pytest.fixture
async def llm(openai_server: OpenAITestServer) -> AsyncIterator[LLMClient]:
    async with client_for(openai_server, max_retries=0) as client:
        yield client


# -- plain calls, aliases, purpose, events -------------------------------------------------


async def test_complete_returns_the_text_and_traces_tokens_and_latency(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Paris is the capital of France.")
    ctx, events = llm_context(llm)
    text = await ctx.llm.complete("fast", "Capital of France?", purpose="test_v1.ask")
    assert text == "Paris is the capital of France."
    assert isinstance(ctx.llm, OpenAIHandle)
    body = openai_server.chat_requests[0].body
    assert body["messages"] == [{"role": "user", "content": "Capital of France?"}]
    assert [e[0] for e in events] == ["llm.request", "llm.response"]
    assert {e[1] for e in events} == {"n"} and {e[2] for e in events} == {"test_v1"}
    request, response = events_of(events, "llm.request")[0], events_of(events, "llm.response")[0]
    assert request["model"] == "gpt-4o-mini" and request["purpose"] == "test_v1.ask"
    assert (request["messages"], request["tools"]) == (1, 0)
    assert response["tokens_in"] > 0 and response["tokens_out"] == 7
    assert response["latency_ms"] > 0 and response["finish_reason"] == "stop"
    assert "ttft_ms" not in response


async def test_aliases_map_to_model_names_and_unknown_names_pass_through(
    openai_server: OpenAITestServer,
) -> None:
    models = {"fast": "tiny-1", "smart": "big-2"}
    async with client_for(openai_server, models=models) as client:
        ctx, _ = llm_context(client)
        for model in ("fast", "smart", "llama3.1:8b"):
            await ctx.llm.complete(model, "hi", temperature=0.2)
    bodies = [r.body for r in openai_server.chat_requests]
    assert [b["model"] for b in bodies] == ["tiny-1", "big-2", "llama3.1:8b"]
    assert bodies[0]["temperature"] == 0.2


async def test_purpose_reaches_the_server_as_a_header_defaulting_to_the_kind(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    ctx, _ = llm_context(llm, kind="output_v1")
    await ctx.llm.complete("fast", "a", purpose="output_v1.answer")
    await ctx.llm.complete("fast", "b")
    headers = [r.headers for r in openai_server.chat_requests]
    assert [h["x-cogpipe-purpose"] for h in headers] == ["output_v1.answer", "output_v1"]
    assert headers[0]["authorization"] == "Bearer test"


async def test_message_lists_are_sent_as_given(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    ctx, events = llm_context(llm)
    await ctx.llm.complete("default", messages)
    assert openai_server.chat_requests[0].body["messages"] == messages
    assert events_of(events, "llm.request")[0]["messages"] == 2


# -- structured outputs ----------------------------------------------------------------------


async def test_structured_parses_the_model_and_sends_a_strict_json_schema(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({"label": "yes", "confidence": 0.9, "reasons": ["clear"]})
    ctx, events = llm_context(llm)
    verdict = await ctx.llm.structured("smart", "Is water wet?", Verdict, purpose="t.judge")
    assert verdict == Verdict(label="yes", confidence=0.9, reasons=["clear"])
    fmt = openai_server.chat_requests[0].body["response_format"]
    assert fmt["type"] == "json_schema"
    assert (fmt["json_schema"]["name"], fmt["json_schema"]["strict"]) == ("Verdict", True)
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == ["label", "confidence", "reasons"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["label"]["enum"] == ["yes", "no"]
    assert [e[0] for e in events] == ["llm.request", "llm.response"]


async def test_structured_non_strict_schema_still_parses(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({"steps": [{"tool": "sql", "args": {"q": "select 1"}}]})
    ctx, _ = llm_context(llm)
    plan = await ctx.llm.structured("fast", "plan it", Plan)
    assert plan.steps[0].args == {"q": "select 1"}
    assert openai_server.chat_requests[0].body["response_format"]["json_schema"]["strict"] is False


async def test_structured_retries_once_after_invalid_json_showing_the_problem(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_invalid_json()
    openai_server.reply_json({"label": "no", "confidence": 0.1, "reasons": []})
    ctx, events = llm_context(llm)
    verdict = await ctx.llm.structured("fast", "Is fire cold?", Verdict)
    assert verdict.label == "no"
    second = openai_server.chat_requests[1].body["messages"]
    assert second[1] == {"role": "assistant", "content": '{"answer": "cut off'}
    assert (
        second[2]["role"] == "user"
        and "not valid JSON for the Verdict schema" in second[2]["content"]
    )
    assert [e[0] for e in events] == ["llm.request", "llm.failed", "llm.request", "llm.response"]
    assert events_of(events, "llm.response")[0]["attempt"] == 2
    assert events_of(events, "llm.request")[1]["after"] == "invalid_output"


async def test_structured_invalid_twice_raises_llm_error(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_invalid_json()
    openai_server.reply_json({"label": "maybe", "confidence": 2, "reasons": []})
    ctx, events = llm_context(llm)
    with pytest.raises(LLMError) as info:
        await ctx.llm.structured("fast", "?", Verdict)
    message = info.value.message
    assert message == (
        f"LLM call (structured) for model 'gpt-4o-mini' at {openai_server.url}/v1, purpose "
        "'test_v1', answered with no valid Verdict (answer 2 of 2): label: Input should be "
        "'yes' or 'no'; confidence: Input should be less than or equal to 1; output: "
        """'{"label": "maybe", "confidence": 2, "reasons": []}'"""
    )
    assert isinstance(info.value, LLMInvalidOutputError)
    assert (info.value.error_kind, info.value.attempts) == ("invalid_output", 2)
    assert len(openai_server.chat_requests) == 2
    failed = events_of(events, "llm.failed")
    assert [(f["error_kind"], f["final"]) for f in failed] == [
        ("invalid_output", False),
        ("invalid_output", True),
    ]
    assert failed[-1]["error"] == message


# -- streaming ----------------------------------------------------------------------------


async def test_stream_emits_deltas_in_order_while_the_call_is_running() -> None:
    with OpenAITestServer(OfflineModel(chunk_delay_s=0.05)) as server:
        server.reply_text("one two three four five")
        async with client_for(server) as client:
            ctx, events = llm_context(client)
            result: list[str] = []

            async def call() -> None:
                result.append(await ctx.llm.stream("fast", "count", purpose="t.count"))

            async with anyio.create_task_group() as tg:
                tg.start_soon(call)
                with anyio.fail_after(5):
                    while not events_of(events, "output.delta"):
                        await anyio.sleep(0.005)
                assert result == []  # a delta arrived before the call returned
        body = server.chat_requests[0].body
    deltas = [d["text"] for d in events_of(events, "output.delta")]
    assert deltas == ["one ", "two ", "three ", "four ", "five"]
    assert result == ["one two three four five"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    kinds = [e[0] for e in events]
    assert kinds[0] == "llm.request" and kinds[-1] == "llm.response"
    response = events_of(events, "llm.response")[0]
    assert 0 < response["ttft_ms"] < response["latency_ms"]
    assert response["latency_ms"] - response["ttft_ms"] >= 150  # four more 50 ms gaps
    assert (response["tokens_out"], response["finish_reason"]) == (5, "stop")
    assert response["tokens_in"] > 0


async def test_stream_sends_deltas_to_on_delta_instead_of_the_client(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("alpha beta gamma")
    ctx, events = llm_context(llm)
    seen: list[str] = []
    text = await ctx.llm.stream("fast", "go", on_delta=seen.append)
    assert seen == ["alpha ", "beta ", "gamma"] and text == "alpha beta gamma"
    assert events_of(events, "output.delta") == []


async def test_a_stream_broken_after_text_raises_without_a_retry(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.break_stream(after_chunks=3)
    async with client_for(openai_server, max_retries=2) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(10), pytest.raises(LLMBrokenResponseError) as info:
            await ctx.llm.stream("fast", "go")
    deltas = [d["text"] for d in events_of(events, "output.delta")]
    assert len(deltas) == 2  # chunk 1 only carries the role
    assert info.value.message == (
        f"LLM call (stream) for model 'gpt-4o-mini' at {openai_server.url}/v1, purpose "
        f"'test_v1', stream broke off after {len(''.join(deltas))} characters: "
        "RemoteProtocolError: peer closed connection without sending complete message body "
        "(incomplete chunked read)"
    )
    assert [e[0] for e in events][-1] == "llm.failed"
    assert len(openai_server.chat_requests) == 1  # text was shown, cannot be unsaid: no retry


# -- tool calls ---------------------------------------------------------------------------

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


async def test_chat_parses_tool_calls(llm: LLMClient, openai_server: OpenAITestServer) -> None:
    openai_server.reply_tool_calls(
        [
            {"name": "weather", "arguments": {"city": "Paris"}},
            {"name": "weather", "arguments": {"city": "Oslo"}},
        ]
    )
    ctx, events = llm_context(llm)
    reply = await ctx.llm.chat("smart", "Weather in Paris and Oslo?", tools=[WEATHER])
    assert isinstance(reply, ChatReply) and reply.content is None
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [
        ("weather", {"city": "Paris"}),
        ("weather", {"city": "Oslo"}),
    ]
    assert reply.tool_calls[0].id and reply.finish_reason == "tool_calls"
    assert openai_server.chat_requests[0].body["tools"] == [WEATHER]
    assert events_of(events, "llm.request")[0]["tools"] == 1
    assert events_of(events, "llm.response")[0]["tool_calls"] == ["weather", "weather"]
    message = reply.as_message()
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {"city": "Oslo"}


async def test_chat_wraps_bare_functions_and_answers_plain_text(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("No tool needed.")
    ctx, _ = llm_context(llm)
    reply = await ctx.llm.chat("fast", "hi", tools=[WEATHER["function"]])
    assert (reply.content, reply.tool_calls) == ("No tool needed.", [])
    assert openai_server.chat_requests[0].body["tools"] == [WEATHER]


async def test_unparsable_tool_arguments_come_back_as_an_error_on_the_call(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_tool_calls(
        [
            {"name": "weather", "arguments": "{city: Paris"},
            {"name": "weather", "arguments": '"{\\"city\\": \\"Oslo\\"}"'},  # encoded twice
            {"name": "weather", "arguments": "[1, 2]"},
            {"name": "weather", "arguments": ""},
        ]
    )
    ctx, events = llm_context(llm)
    reply = await ctx.llm.chat("fast", "?", tools=[WEATHER])
    calls = reply.tool_calls
    assert [c.arguments for c in calls] == [{}, {"city": "Oslo"}, {}, {}]
    assert calls[0].error == (
        "arguments are not valid JSON (Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)): '{city: Paris'"
    )
    assert calls[2].error == "arguments are not a JSON object but list: '[1, 2]'"
    assert (calls[1].error, calls[3].error) == (None, None)
    response = events_of(events, "llm.response")[0]
    assert response["tool_call_errors"] == ["weather", "weather"]
    assert json.loads(reply.as_message()["tool_calls"][0]["function"]["arguments"]) == {}


# -- failures -----------------------------------------------------------------------------


async def test_http_500_raises_llm_error_after_the_retries(openai_server: OpenAITestServer) -> None:
    openai_server.fail(500, "upstream exploded", times=5)
    async with client_for(openai_server, max_retries=2) as client:
        ctx, events = llm_context(client)
        with pytest.raises(LLMStatusError) as info:
            await ctx.llm.complete("fast", "hi", purpose="t.fail")
    assert len(openai_server.chat_requests) == 3
    assert info.value.message == (
        f"LLM call (complete) for model 'gpt-4o-mini' at {openai_server.url}/v1, purpose "
        "'t.fail', got HTTP 500 after 3 attempts: upstream exploded"
    )
    assert (info.value.status, info.value.attempts, info.value.error_kind) == (
        500,
        3,
        "http_status",
    )
    assert [e[0] for e in events] == ["llm.request", "llm.failed"] * 3
    failed = events_of(events, "llm.failed")
    assert [(f["attempt"], f["final"], f["status"]) for f in failed] == [
        (1, False, 500),
        (2, False, 500),
        (3, True, 500),
    ]
    assert [f["retry_in_ms"] for f in failed[:2]] == [1, 1]  # retry-after-ms: 1
    assert failed[-1]["error"] == info.value.message
    assert [r["attempt"] for r in events_of(events, "llm.request")] == [1, 2, 3]


async def test_connection_refused_raises_llm_error_naming_the_endpoint() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = LLMConfig(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    async with LLMClient(config) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(5), pytest.raises(LLMConnectError) as info:
            await ctx.llm.complete("fast", "hi")
    assert info.value.message.startswith(
        f"LLM call (complete) for model 'gpt-4o-mini' at http://127.0.0.1:{port}/v1, purpose "
        "'test_v1', could not connect after 2 attempts: "
    )
    assert info.value.message.endswith(
        "; check that the server is running and COGPIPE_LLM_BASE_URL points at it"
    )
    assert [f["error_kind"] for f in events_of(events, "llm.failed")] == ["connect"] * 2


async def test_a_wrong_key_says_which_setting_to_check() -> None:
    with OpenAITestServer(api_key="right") as server:
        async with client_for(server, api_key="wrong") as client:
            ctx, _ = llm_context(client)
            with pytest.raises(
                LLMError,
                match=r"HTTP 401: Incorrect API key provided\.; "
                "check COGPIPE_LLM_API_KEY",
            ):
                await ctx.llm.complete("fast", "hi")
        assert len(server.chat_requests) == 1  # 401 is not retried


async def test_an_unopened_client_says_how_to_open_it() -> None:
    ctx, events = llm_context(LLMClient(LLMConfig()))
    with pytest.raises(RuntimeError, match="use 'async with LLMClient"):
        await ctx.llm.complete("fast", "hi")
    assert events == []


# -- configuration ------------------------------------------------------------------------


def test_config_resolves_aliases_and_hides_the_key() -> None:
    config = LLMConfig(api_key="sk-secret", models={"fast": "llama3.2:3b"})
    assert config.models == {"fast": "llama3.2:3b", "smart": "gpt-4o", "default": "gpt-4o-mini"}
    assert config.resolve("fast") == "llama3.2:3b" and config.resolve("gpt-5") == "gpt-5"
    assert "sk-secret" not in repr(config)


def test_remote_info_never_shows_the_key(openai_server: OpenAITestServer) -> None:
    info = client_for(openai_server, api_key="sk-secret").info()
    assert info["mode"] == "remote" and info["base_url"] == openai_server.url + "/v1"
    assert info["models"]["smart"] == "gpt-4o" and "sk-secret" not in json.dumps(info)
