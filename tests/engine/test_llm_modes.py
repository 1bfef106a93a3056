"""Portable structured output and tool calls: modes, step-downs, JSON Schema dicts,
guards against echoed descriptions and prompts, and hints for the offline model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel, Field

from cogpipe.engine.errors import LLMInvalidOutputError, LLMStatusError
from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.offline import OfflineModel
from tests.helpers.openai_server import (
    OpenAITestServer,
    client_for,
    events_of,
    llm_context,
)


class Reply(BaseModel):
    reply: str = Field(description="a short friendly reply to a greeting, only for small talk")
    mood: str = "calm"


PLAN = {
    "type": "object",
    "properties": {
        "tool": {"enum": ["weather", "time"]},
        "arguments": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
    "required": ["tool", "arguments"],
    "additionalProperties": False,
}

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


@pytest.fixture
async def llm(openai_server: OpenAITestServer) -> AsyncIterator[LLMClient]:
    async with client_for(openai_server) as client:
        yield client


def system_of(body: dict[str, Any]) -> str:
    first = body["messages"][0]
    assert first["role"] == "system"
    return str(first["content"])


# -- structured-output modes ----------------------------------------------------------------


async def test_auto_steps_down_from_a_rejected_json_schema_and_remembers_it(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reject("json_schema")
    ctx, events = llm_context(llm)
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "hi"}]
    first = await ctx.llm.structured("fast", messages, Reply)
    second = await ctx.llm.structured("fast", "again", Reply)
    assert isinstance(first, Reply) and isinstance(second, Reply)
    formats = [
        (r.body.get("response_format") or {}).get("type") for r in openai_server.chat_requests
    ]
    assert formats == ["json_schema", "json_object", "json_object"]  # remembered
    body = openai_server.chat_requests[1].body
    assert body["response_format"]["schema"] == Reply.model_json_schema()
    assert system_of(body).startswith("Be kind.\n\n## Answer format\n")
    assert json.dumps(Reply.model_json_schema(), ensure_ascii=False) in system_of(body)
    changed = events_of(events, "llm.mode_changed")
    assert changed == [
        {
            "model": "gpt-4o-mini",
            "setting": "structured_output",
            "from": "json_schema",
            "to": "json_object",
            "reason": changed[0]["reason"],
        }
    ]
    assert "Input should be 'text' or 'json_object'" in changed[0]["reason"]
    failed = events_of(events, "llm.failed")[0]
    assert (failed["error_kind"], failed["status"], failed["final"]) == ("http_status", 422, False)
    assert [r.get("mode") for r in events_of(events, "llm.request")] == [
        "json_schema",
        "json_object",
        "json_object",
    ]
    async with client_for(openai_server) as fresh:  # the memory is the client's
        ctx2, _ = llm_context(fresh)
        await ctx2.llm.structured("fast", "hi", Reply)
    assert openai_server.chat_requests[-1].body["response_format"]["type"] == "json_object"
    assert openai_server.chat_requests[-2].body["response_format"]["type"] == "json_schema"


async def test_auto_steps_down_to_the_prompt_when_both_formats_are_rejected(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reject("json_schema", "json_object")
    ctx, events = llm_context(llm)
    value = await ctx.llm.structured("fast", "hi", Reply)
    assert isinstance(value, Reply)
    last = openai_server.chat_requests[-1].body
    assert "response_format" not in last
    assert system_of(last).startswith("## Answer format\n")  # a new system message
    assert [(c["from"], c["to"]) for c in events_of(events, "llm.mode_changed")] == [
        ("json_schema", "json_object"),
        ("json_object", "prompt"),
    ]


async def test_a_fixed_mode_that_is_rejected_says_which_setting_to_change(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.reject("json_schema")
    async with client_for(openai_server, structured_output="json_schema") as client:
        ctx, _ = llm_context(client)
        with pytest.raises(LLMStatusError) as info:
            await ctx.llm.structured("fast", "hi", Reply)
    assert info.value.status == 422 and len(openai_server.chat_requests) == 1
    assert info.value.message.endswith(
        "; the endpoint seems not to take structured_output mode 'json_schema': set "
        "COGPIPE_LLM_STRUCTURED_OUTPUT=prompt or auto (docs/models.md)"
    )
    assert "Input should be 'text' or 'json_object'" in info.value.message


@pytest.mark.parametrize(
    "answer",
    [
        '{"reply": "Hello there"}',
        'Sure! Here it is:\n```json\n{"reply": "Hello there"}\n```\nAnything else?',
        'I think {"reply": "Hello there"} fits.',
    ],
    ids=["bare", "fenced", "in-prose"],
)
async def test_prompt_mode_finds_the_json_in_the_answer(
    openai_server: OpenAITestServer, answer: str
) -> None:
    openai_server.reply_text(answer)
    async with client_for(openai_server, structured_output="prompt") as client:
        ctx, _ = llm_context(client)
        value = await ctx.llm.structured("fast", "hi", Reply)
    assert value == Reply(reply="Hello there")
    assert "response_format" not in openai_server.chat_requests[0].body


# -- JSON Schema dicts ----------------------------------------------------------------------


async def test_a_json_schema_dict_returns_a_validated_dict_sent_strict(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({"tool": "weather", "arguments": {"city": "Oslo", "days": None}})
    ctx, _ = llm_context(llm)
    plan = await ctx.llm.structured("fast", "plan", PLAN, name="plan")
    assert plan == {"tool": "weather", "arguments": {"city": "Oslo"}}  # optional null dropped
    fmt = openai_server.chat_requests[0].body["response_format"]["json_schema"]
    assert (fmt["name"], fmt["strict"]) == ("plan", True)
    days = fmt["schema"]["properties"]["arguments"]["properties"]["days"]
    assert days == {"anyOf": [{"type": "integer"}, {"type": "null"}]}


async def test_a_dict_answer_invalid_for_the_schema_is_re_asked_quoting_the_error(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_json({"tool": "sql", "arguments": {}})
    openai_server.reply_json({"tool": "time", "arguments": {"city": "Oslo"}})
    ctx, _ = llm_context(llm)
    plan = await ctx.llm.structured("fast", "plan", PLAN, name="plan")
    assert plan["tool"] == "time"
    correction = openai_server.chat_requests[1].body["messages"][-1]["content"]
    assert correction == (
        "That was not valid JSON for the plan schema (arguments: 'city' is a required "
        "property; tool: 'sql' is not one of ['weather', 'time']). Answer again with only "
        "the JSON object."
    )


async def test_a_dict_schema_needs_a_name_and_must_be_a_schema(llm: LLMClient) -> None:
    ctx, events = llm_context(llm)
    with pytest.raises(ValueError, match="a JSON Schema dict needs a name: pass name="):
        await ctx.llm.structured("fast", "x", {"type": "object"})
    with pytest.raises(ValueError, match="the schema 'bad' is not a valid JSON Schema"):
        await ctx.llm.structured("fast", "x", {"type": "objekt"}, name="bad")
    assert events == []  # nothing was sent


# -- guards -------------------------------------------------------------------------------


async def test_a_field_that_repeats_its_description_is_re_asked_then_rejected(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    described = Reply.model_fields["reply"].description
    openai_server.reply_json({"reply": described}, times=2)
    ctx, events = llm_context(llm)
    with pytest.raises(LLMInvalidOutputError) as info:
        await ctx.llm.structured("fast", "hi", Reply)
    assert (
        "answered with no valid Reply (answer 2 of 2): reply: repeats the field's description "
        "from the schema instead of giving a value" in info.value.message
    )
    assert [f["error_kind"] for f in events_of(events, "llm.failed")] == ["invalid_output"] * 2


async def test_prose_that_repeats_the_system_prompt_is_re_asked(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    instructions = "Summarise the tool results below as the answer, with every number kept."
    openai_server.reply_text(instructions)
    openai_server.reply_text("There are 39 customers in Berlin.")
    messages = [
        {"role": "system", "content": instructions},
        {"role": "user", "content": "customers in Berlin: 39"},
    ]
    ctx, events = llm_context(llm)
    assert await ctx.llm.complete("fast", messages) == "There are 39 customers in Berlin."
    second = openai_server.chat_requests[1].body["messages"]
    assert second[-2] == {"role": "assistant", "content": instructions}
    assert second[-1]["content"].startswith("Your answer repeated the instructions above")
    openai_server.reply_text(instructions, times=2)
    with pytest.raises(LLMInvalidOutputError, match=r"answered by repeating the system prompt"):
        await ctx.llm.complete("fast", messages)
    assert events_of(events, "llm.failed")[-1]["final"] is True


# -- tool-call modes ----------------------------------------------------------------------


async def test_prompt_tool_mode_lists_tools_and_parses_the_calls(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.reply_text('{"tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}}]}')
    openai_server.reply_text("It is sunny in Oslo.")
    async with client_for(openai_server, tool_calls="prompt") as client:
        ctx, _ = llm_context(client)
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Weather in Oslo?"}]
        reply = await ctx.llm.chat("fast", messages, tools=[WEATHER])
        assert [(c.name, c.arguments, c.error) for c in reply.tool_calls] == [
            ("weather", {"city": "Oslo"}, None)
        ]
        assert (reply.content, reply.finish_reason) == (None, "tool_calls")
        call = reply.tool_calls[0]
        messages += [
            reply.as_message(),
            {"role": "tool", "tool_call_id": call.id, "content": '{"temp": 21}'},
        ]
        final = await ctx.llm.chat("fast", messages, tools=[WEATHER])
    assert final.content == "It is sunny in Oslo." and final.tool_calls == []
    first, second = (r.body for r in openai_server.chat_requests)
    assert "tools" not in first and system_of(first).startswith("## Tools\n")
    assert '"name": "weather", "description": "Weather for a city"' in system_of(first)
    assert second["messages"][2] == {
        "role": "assistant",
        "content": json.dumps(
            {"tool_calls": [{"id": call.id, "name": "weather", "arguments": {"city": "Oslo"}}]}
        ),
    }
    assert second["messages"][3] == {
        "role": "user",
        "content": f'Tool result for call {call.id} (weather):\n{{"temp": 21}}',
    }


async def test_auto_steps_down_from_rejected_tools_to_the_prompt_protocol(
    llm: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reject("tools")
    openai_server.reply_text('{"name": "weather", "arguments": "{\\"city\\": \\"Rome\\"}"}')
    ctx, events = llm_context(llm)
    reply = await ctx.llm.chat("fast", "Weather in Rome?", tools=[WEATHER])
    assert [(c.name, c.arguments) for c in reply.tool_calls] == [("weather", {"city": "Rome"})]
    assert [("tools" in r.body) for r in openai_server.chat_requests] == [True, False]
    assert events_of(events, "llm.mode_changed")[0]["to"] == "prompt"
    await ctx.llm.chat("fast", "again", tools=[WEATHER])
    assert "tools" not in openai_server.chat_requests[-1].body  # remembered


# -- the offline model in every mode, and hints ----------------------------------------------


@pytest.mark.parametrize("structured_output", ["json_schema", "json_object", "prompt"])
@pytest.mark.parametrize("tool_calls", ["native", "prompt"])
async def test_the_offline_model_answers_in_every_mode(
    structured_output: str, tool_calls: str
) -> None:
    seen: list[dict[str, Any]] = []

    def think(messages: list[dict[str, Any]], request: dict[str, Any]) -> Any:
        seen.append(request)
        if any(m.get("role") == "tool" for m in messages):
            return f"done: {messages[-1]['content']}"
        return {"tool_calls": [{"name": "weather", "arguments": {"city": "Oslo"}}]}

    model = OfflineModel({"t.think": think}, chunk_delay_s=0.0)
    config = LLMConfig(structured_output=structured_output, tool_calls=tool_calls)
    async with LLMClient(config, model) as client:
        ctx, _ = llm_context(client)
        assert isinstance(await ctx.llm.structured("fast", "hi", Reply), Reply)
        plan = await ctx.llm.structured("fast", "plan", PLAN, name="plan")
        assert plan["tool"] == "weather"
        reply = await ctx.llm.chat("fast", "Weather?", tools=[WEATHER], purpose="t.think")
        assert [c.name for c in reply.tool_calls] == ["weather"]
        messages = [
            {"role": "user", "content": "Weather?"},
            reply.as_message(),
            {"role": "tool", "tool_call_id": reply.tool_calls[0].id, "content": "sunny"},
        ]
        final = await ctx.llm.chat("fast", messages, tools=[WEATHER], purpose="t.think")
    assert final.content == "done: sunny"
    # responders see the native request shape whatever the mode
    assert [t["function"]["name"] for t in seen[0]["tools"]] == ["weather"]
    assert seen[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": reply.tool_calls[0].id,
        "content": "sunny",
    }


async def test_hints_reach_the_offline_model_and_never_a_real_endpoint(
    openai_server: OpenAITestServer,
) -> None:
    got: list[Any] = []
    model = OfflineModel({"t.hint": lambda m, r: got.append(r["hints"]) or "ok"})
    async with LLMClient(LLMConfig(), model) as offline:
        ctx, _ = llm_context(offline)
        await ctx.llm.complete("fast", "q", purpose="t.hint", hints={"draft": "39 customers"})
        await ctx.llm.complete("fast", "q", purpose="t.hint")
    assert got == [{"draft": "39 customers"}, {}]
    async with client_for(openai_server) as remote:
        ctx, _ = llm_context(remote)
        await ctx.llm.complete("fast", "q", hints={"draft": "secret"})
        await ctx.llm.structured("fast", "q", Reply, hints={"draft": "secret"})
        await ctx.llm.stream("fast", "q", hints={"draft": "secret"}, on_delta=lambda _: None)
        await ctx.llm.chat("fast", "q", hints={"draft": "secret"})
    for request in openai_server.chat_requests:
        assert "x-cogpipe-hints" not in request.headers
        assert "secret" not in json.dumps(request.body)
