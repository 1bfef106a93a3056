"""The test server's RandomModel through the real client: schema-valid but arbitrary
answers, invalid ones at the configured rates, random tool calls, all from a seed."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from cogpipe.engine.errors import LLMInvalidOutputError
from tests.helpers.openai_server import (
    OpenAITestServer,
    RandomModel,
    client_for,
    llm_context,
)


class Note(BaseModel):
    subject: str
    facts: list[str]
    score: int | None = None


PLAN = {
    "type": "object",
    "properties": {
        "steps": {
            "type": "array",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "tool": {"const": "weather"},
                            "arguments": {
                                "type": "object",
                                "properties": {"city": {"type": "string", "minLength": 1}},
                                "required": ["city"],
                            },
                        },
                        "required": ["tool", "arguments"],
                    },
                    {
                        "type": "object",
                        "properties": {"tool": {"const": "time"}, "arguments": {"type": "object"}},
                        "required": ["tool", "arguments"],
                    },
                ]
            },
        }
    },
    "required": ["steps"],
}


def tool(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


TOOLS = [
    tool(
        "weather",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    ),
    tool(
        "time",
        {
            "type": "object",
            "properties": {"zone": {"type": "string"}, "hours": {"type": "integer"}},
            "required": ["zone", "hours"],
        },
    ),
]


def structured_request(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": "go"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }


def content_of(completion: dict[str, Any]) -> str:
    return str(completion["choices"][0]["message"]["content"])


def test_the_same_seed_gives_the_same_answers() -> None:
    requests = [structured_request(PLAN), {"messages": [{"role": "user", "content": "hi"}]}] * 3
    runs = [
        [content_of(RandomModel(seed).respond(r, None)) for r in requests] for seed in (1, 1, 2)
    ]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_structured_answers_are_valid_invalid_or_not_json_at_the_given_rates() -> None:
    model = RandomModel(seed=4, invalid_rate=0.3, non_json_rate=0.2, pool_size=8)
    validator = Draft202012Validator(PLAN)
    seen: Counter[str] = Counter()
    for _ in range(200):
        text = content_of(model.respond(structured_request(PLAN), None))
        try:
            value = json.loads(text)
        except ValueError:
            seen["not json"] += 1
            continue
        seen["valid" if validator.is_valid(value) else "invalid"] += 1
    assert 0.1 < seen["not json"] / 200 < 0.3
    assert 0.2 < seen["invalid"] / 200 < 0.4
    assert seen["valid"] > 80


async def test_valid_random_answers_pass_the_client_in_every_structured_mode(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.use(RandomModel(seed=5, invalid_rate=0, non_json_rate=0, pool_size=6))
    for mode in ("json_schema", "json_object", "prompt"):
        async with client_for(openai_server, structured_output=mode) as client:
            ctx, _ = llm_context(client)
            for _ in range(6):
                note = await ctx.llm.structured("fast", "note", Note)
                assert isinstance(note, Note)
                plan = await ctx.llm.structured("fast", "plan", PLAN, name="plan")
                assert Draft202012Validator(PLAN).is_valid(plan)


async def test_always_invalid_answers_end_in_an_invalid_output_error(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.use(RandomModel(seed=6, invalid_rate=1.0, non_json_rate=0))
    async with client_for(openai_server) as client:
        ctx, _ = llm_context(client)
        with pytest.raises(LLMInvalidOutputError, match=r"no valid Note \(answer 2 of 2\)"):
            await ctx.llm.structured("fast", "note", Note)


@pytest.mark.parametrize("tool_calls", ["native", "prompt"])
async def test_random_tool_calls_are_mostly_valid_and_sometimes_not(
    openai_server: OpenAITestServer, tool_calls: str
) -> None:
    openai_server.use(
        RandomModel(
            seed=7,
            tool_call_rate=0.8,
            unknown_tool_rate=0.15,
            bad_arguments_rate=0.15,
            unparseable_arguments_rate=0.15,
            pool_size=8,
        )
    )
    params = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    seen: Counter[str] = Counter()
    async with client_for(openai_server, tool_calls=tool_calls) as client:
        ctx, _ = llm_context(client)
        for _ in range(40):
            reply = await ctx.llm.chat("fast", "use a tool", tools=TOOLS)
            seen["text"] += not reply.tool_calls
            for call in reply.tool_calls:
                if call.error:
                    seen["unparseable"] += 1
                elif call.name not in params:
                    seen["unknown"] += 1
                elif Draft202012Validator(params[call.name]).is_valid(call.arguments):
                    seen["valid"] += 1
                else:
                    seen["bad arguments"] += 1
    assert set(seen) == {"text", "unparseable", "unknown", "valid", "bad arguments"}
    assert seen["valid"] > sum(seen.values()) / 3


async def test_random_text_streams_word_by_word(openai_server: OpenAITestServer) -> None:
    openai_server.use(RandomModel(seed=8, words=(5, 5)))
    async with client_for(openai_server) as client:
        ctx, _ = llm_context(client)
        deltas: list[str] = []
        text = await ctx.llm.stream("fast", "talk", on_delta=deltas.append)
    assert len(text.split()) == 5 and len(deltas) == 5 and "".join(deltas) == text
