"""engine.protocol and engine.guards: the text protocols, JSON extraction, echo checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cogpipe.engine.guards import echoed_descriptions, echoes_prompt
from cogpipe.engine.protocol import (
    extract_json,
    from_prompt_protocol,
    parse_tool_reply,
    with_schema,
    with_tools,
)
from cogpipe.engine.schemas import drop_optional_nulls

TOOL = {
    "type": "function",
    "function": {"name": "weather", "description": "Weather", "parameters": {"type": "object"}},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2] ", [1, 2]),
        ('```json\n{"a": 1}\n```', {"a": 1}),
        ('Here:\n```\n{"a": 1}\n```', {"a": 1}),
        ('```json\n{oops}\n```\nor rather {"a": 2}', {"a": 2}),
        ('The answer is {"a": {"b": "}"}} and {"c": 3}', {"a": {"b": "}"}}),
        ('{not json} then {"a": 1}', {"a": 1}),
    ],
)
def test_extract_json_takes_bare_fenced_or_the_first_object(text: str, value: Any) -> None:
    assert extract_json(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the answer is empty"),
        (
            "no json here",
            "no JSON object in the answer (Expecting value: line 1 column 1 (char 0))",
        ),
        ('{"cut": "off', "no JSON object in the answer (Unterminated string starting at"),
    ],
)
def test_extract_json_says_why_nothing_was_found(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        extract_json(text)
    assert str(info.value).startswith(message)


def test_parse_tool_reply_reads_calls_or_leaves_prose_alone() -> None:
    assert parse_tool_reply('{"tool_calls": [{"name": "a", "arguments": {"x": 1}}, 7]}') == (
        None,
        [
            {"id": None, "name": "a", "arguments": {"x": 1}},
            {"id": None, "name": None, "arguments": 7},
        ],
    )
    assert parse_tool_reply('call: {"name": "a", "arguments": "{}"}') == (
        None,
        [{"id": None, "name": "a", "arguments": "{}"}],
    )
    for prose in ("It is 21 degrees.", '{"answer": "json, but no call"}'):
        assert parse_tool_reply(prose) == (prose, None)


def test_the_prompt_protocols_are_undone_exactly() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": "{}"},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rainy\n\nand cold"},
    ]
    rewritten = with_tools(messages, [TOOL])
    assert [m["role"] for m in rewritten] == ["system", "user", "assistant", "user"]
    assert rewritten[3]["content"] == (
        "Tool result for call c1 (weather):\nsunny\n\n"
        "Tool result for call c2 (weather):\nrainy\n\nand cold"
    )
    native = from_prompt_protocol({"messages": rewritten})
    assert native["tools"] == [TOOL | {"function": {k: v for k, v in TOOL["function"].items()}}]
    assert native["messages"] == [
        messages[0],
        messages[1],
        {**messages[2], "content": None},
        *messages[3:],
    ]
    asked = from_prompt_protocol({"messages": with_schema(messages[1:2], schema)})
    assert asked == {
        "messages": messages[1:2],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        },
    }
    for plain in (
        {"messages": messages[:2], "temperature": 0},
        {"messages": [{"role": "system", "content": ""}, messages[1]]},
    ):
        assert from_prompt_protocol(plain) == plain


def test_echoes_prompt_needs_a_long_run_of_system_words() -> None:
    system = "Summarise the tool results below as the answer; keep every number exactly."
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": "customers in Berlin: there are exactly 39 customers"},
    ]
    assert echoes_prompt("SUMMARISE the tool results below, as the answer: done", messages)
    assert echoes_prompt("keep every number exactly", messages)  # all of a short answer
    assert not echoes_prompt("There are exactly 39 customers in Berlin.", messages)  # user words
    assert not echoes_prompt("the tool results", messages)  # under 4 words
    assert not echoes_prompt("Summarise the tool results for Berlin now please.", messages)
    assert not echoes_prompt(system, system)  # a plain string is one user message


def test_echoed_descriptions_follow_refs_unions_and_items() -> None:
    schema = {
        "type": "object",
        "properties": {
            "reply": {"type": "string", "description": "a short friendly reply"},
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "note": {"anyOf": [{"type": "string", "description": "why"}, {"type": "null"}]},
        },
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"goal": {"type": "string", "description": "what this step is for"}},
            }
        },
    }
    value = {
        "reply": "A short, friendly reply!",
        "steps": [{"goal": "find customers"}, {"goal": "what this step"}],
        "note": "why",
    }
    assert echoed_descriptions(value, schema) == ["reply", "steps[1].goal"]
    wrapped = {"reply": "Hi! Here is a short friendly reply."}  # the whole description
    assert echoed_descriptions(wrapped, schema) == ["reply"]
    assert echoed_descriptions({"reply": "Hi there, a short chat is nice!"}, schema) == []
    assert echoed_descriptions({"reply": "Hello"}, schema) == []


def test_drop_optional_nulls_keeps_required_nulls() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "integer"},
            "b": {"type": ["integer", "null"]},
            "items": {
                "type": "array",
                "items": {"type": "object", "properties": {"c": {"type": "string"}}},
            },
        },
        "required": ["b"],
    }
    value = {"a": None, "b": None, "items": [{"c": None}, {"c": "x"}], "extra": None}
    assert drop_optional_nulls(value, schema) == {
        "b": None,
        "items": [{}, {"c": "x"}],
        "extra": None,
    }
    assert value["a"] is None  # not modified
    assert json.dumps(drop_optional_nulls([1, None], schema)) == "[1, null]"
