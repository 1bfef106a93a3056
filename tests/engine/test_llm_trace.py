"""What the trace shows of LLM calls for the HUD's inspector: the request as sent
(bounded), one ``call_id`` per call, streamed text tied to its call, the offline model's
pace and the endpoint's reachability."""

from __future__ import annotations

import json
import re
from typing import Literal

import anyio
from pydantic import BaseModel

from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.offline import OfflineModel
from cogpipe.engine.transcript import MAX_MESSAGES, MAX_TOOLS, MESSAGE_CHARS, request_view
from tests.helpers.openai_server import OpenAITestServer, client_for, events_of, llm_context
from tests.helpers.server_thread import free_port

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


class Verdict(BaseModel):
    label: Literal["yes", "no"]


# -- the request view ---------------------------------------------------------------------


async def test_llm_request_carries_the_messages_as_sent(
    openai_server: OpenAITestServer,
) -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        await ctx.llm.complete("fast", messages)
    request = events_of(events, "llm.request")[0]
    assert request["request"] == {"messages": messages}
    assert request["messages"] == 2  # the count stays, for older readers


async def test_llm_request_carries_the_schema_and_the_tools_offered(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.reply_json({"label": "yes"})
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        await ctx.llm.structured("fast", "Is water wet?", Verdict)
        await ctx.llm.chat("fast", "Weather in Oslo?", tools=[WEATHER])
    structured, chat = events_of(events, "llm.request")
    sent = openai_server.chat_requests[0].body["response_format"]["json_schema"]["schema"]
    assert json.loads(structured["request"]["schema"]) == sent
    assert "tools" not in structured["request"]
    assert chat["request"]["tools"] == [
        {
            "name": "weather",
            "description": "Weather for a city",
            "parameters": json.dumps(WEATHER["function"]["parameters"]),
        }
    ]
    assert "schema" not in chat["request"]


def test_request_view_cuts_long_messages_and_keeps_the_first_and_newest() -> None:
    long = "x" * (MESSAGE_CHARS + 500)
    messages = [{"role": "system", "content": "rules"}]
    messages += [{"role": "user", "content": f"m{i}"} for i in range(MAX_MESSAGES + 9)]
    messages.append({"role": "user", "content": long})
    view = request_view({"messages": messages})
    shown = view["messages"]
    assert len(shown) == MAX_MESSAGES and view["omitted"] == len(messages) - MAX_MESSAGES
    assert shown[0] == {"role": "system", "content": "rules"}
    assert shown[-2] == {"role": "user", "content": f"m{MAX_MESSAGES + 8}"}
    assert shown[-1]["content"] == "x" * (MESSAGE_CHARS - 1) + "…"
    assert shown[-1]["chars"] == MESSAGE_CHARS + 500


def test_request_view_shows_content_parts_tool_turns_and_counts_tools_left_out() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function"}],
            },
            {"role": "tool", "content": "42", "tool_call_id": "c1"},
        ],
        "response_format": {"type": "json_object", "schema": {"type": "object"}},
        "tools": [WEATHER] * (MAX_TOOLS + 2),
    }
    view = request_view(body)
    assert view["messages"] == [
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": "", "tool_calls": '[{"id": "c1", "type": "function"}]'},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
    ]
    assert view["schema"] == '{"type": "object"}'
    assert len(view["tools"]) == MAX_TOOLS and view["tools_omitted"] == 2


# -- one id per call ------------------------------------------------------------------------


async def test_every_event_of_one_call_has_its_call_id(openai_server: OpenAITestServer) -> None:
    openai_server.reply_invalid_json()
    openai_server.reply_json({"label": "no"})
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        await ctx.llm.structured("fast", "Is fire cold?", Verdict)  # two attempts
        await ctx.llm.complete("fast", "again")
    llm = [(t, d) for t, _, _, d in events if t.startswith("llm.")]
    attempts = ["llm.request", "llm.failed", "llm.request", "llm.response"]
    assert [t for t, _ in llm] == [*attempts, "llm.request", "llm.response"]
    first, second = {d["call_id"] for _, d in llm[:4]}, {d["call_id"] for _, d in llm[4:]}
    assert len(first) == len(second) == 1 and first != second
    assert re.fullmatch(r"[0-9a-f]{12}", first.pop())


# -- streamed text tied to its call -----------------------------------------------------------


async def test_streamed_deltas_to_the_client_carry_the_call_id() -> None:
    async with LLMClient(LLMConfig(), OfflineModel(chunk_delay_s=0)) as client:
        ctx, events = llm_context(client)
        text = await ctx.llm.stream("fast", "say something")
    call_id = events_of(events, "llm.request")[0]["call_id"]
    deltas = events_of(events, "output.delta")
    assert deltas and {d["call_id"] for d in deltas} == {call_id}
    assert "".join(d["text"] for d in deltas) == text
    assert events_of(events, "llm.delta") == []  # no second event per delta


async def test_deltas_to_on_delta_are_traced_as_llm_delta_first() -> None:
    async with LLMClient(LLMConfig(), OfflineModel(chunk_delay_s=0)) as client:
        ctx, events = llm_context(client)
        traced_before: list[int] = []
        seen: list[str] = []

        def on_delta(text: str) -> None:
            traced_before.append(len(events_of(events, "llm.delta")))
            seen.append(text)

        await ctx.llm.stream("fast", "say something", on_delta=on_delta)
    deltas = events_of(events, "llm.delta")
    call_id = events_of(events, "llm.request")[0]["call_id"]
    assert [d["text"] for d in deltas] == seen and len(seen) > 1
    assert {d["call_id"] for d in deltas} == {call_id}
    assert traced_before == list(range(1, len(seen) + 1))
    assert events_of(events, "output.delta") == []


# -- the offline model's pace -------------------------------------------------------------------


async def test_the_offline_pace_comes_from_the_config() -> None:
    config = LLMConfig(offline_call_s=0.3, offline_tokens_per_s=20)
    async with LLMClient(config) as client:
        assert client.offline is not None
        assert (client.offline.call_delay_s, client.offline.chunk_delay_s) == (0.3, 0.05)
        ctx, events = llm_context(client)
        await ctx.llm.stream("fast", "one two three")
    response = events_of(events, "llm.response")[0]
    assert response["ttft_ms"] >= 300  # the call's pause came before the first token
    assert LLMClient(LLMConfig(offline_tokens_per_s=0)).offline.chunk_delay_s == 0  # type: ignore[union-attr]
    assert LLMClient(LLMConfig()).offline.call_delay_s == 0  # type: ignore[union-attr]


# -- reachability ---------------------------------------------------------------------------------


async def test_the_offline_model_is_always_reachable() -> None:
    async with LLMClient(LLMConfig()) as client:
        probe = await client.reachability()
    assert probe["reachable"] is True and probe["detail"] is None


async def test_a_serving_endpoint_is_reachable_and_probed_once_per_max_age(
    openai_server: OpenAITestServer,
) -> None:
    async with client_for(openai_server) as client:
        first = await client.reachability()
        again = await client.reachability()
        async with anyio.create_task_group() as tg:  # concurrent callers share a probe
            for _ in range(3):
                tg.start_soon(client.reachability)
        fresh = await client.reachability(max_age_s=0)
    asked = [r for r in openai_server.requests if r.path.endswith("/models")]
    assert len(asked) == 2
    assert first["reachable"] is True and first["detail"] is None and first["latency_ms"] > 0
    assert again == first and fresh["checked"] >= first["checked"]


async def test_an_endpoint_that_refuses_the_key_is_reachable_with_the_detail() -> None:
    with OpenAITestServer(api_key="right") as server:
        async with client_for(server, api_key="wrong") as client:
            probe = await client.reachability()
    assert probe["reachable"] is True
    assert probe["detail"] == "GET /models answered HTTP 401"


async def test_no_server_is_unreachable() -> None:
    config = LLMConfig(base_url=f"http://127.0.0.1:{free_port()}/v1")
    async with LLMClient(config) as client:
        probe = await client.reachability()
    assert probe["reachable"] is False
    assert probe["detail"].startswith("cannot connect: ")
