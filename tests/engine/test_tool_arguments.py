"""validate_arguments: one case per rule, comparing the whole problem text. The schemas
are the shapes MCP servers send (pydantic's, as the ``mcp`` SDK's servers write them)."""

from __future__ import annotations

from typing import Any

import pytest

from cogpipe.engine.tools import ToolInfo, validate_arguments

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "segment": {
            "anyOf": [{"enum": ["smb", "enterprise"], "type": "string"}, {"type": "null"}],
            "default": None,
        },
        "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
        "files": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "since": {"type": "string", "format": "date"},
        "my key": {"type": "boolean"},
        "filter": {"$ref": "#/$defs/Filter"},
    },
    "required": ["sql"],
    "$defs": {
        "Filter": {
            "type": "object",
            "properties": {"field": {"type": "string"}},
            "required": ["field"],
        }
    },
}
TOOL = ToolInfo(server="db", name="count_customers", input_schema=SCHEMA)


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        ({"sql": "x"}, []),
        ({"sql": "x", "city": "Berlin", "segment": None, "limit": 5}, []),
        ({}, ["arguments: 'sql' is a required property"]),
        ({"sql": "x", "city": 5}, ["arguments.city: 5 is not of type 'string', 'null'"]),
        (
            {"sql": "x", "segment": "huge"},
            ["arguments.segment: 'huge' is not one of ['smb', 'enterprise']"],
        ),
        ({"sql": "x", "limit": 0}, ["arguments.limit: 0 is less than the minimum of 1"]),
        ({"sql": "x", "limit": "5"}, ["arguments.limit: '5' is not of type 'integer'"]),
        ({"sql": "x", "files": []}, ["arguments.files: [] should be non-empty"]),
        ({"sql": "x", "files": ["a", 2]}, ["arguments.files[1]: 2 is not of type 'string'"]),
        ({"sql": "x", "since": "tomorrow"}, ["arguments.since: 'tomorrow' is not a 'date'"]),
        ({"sql": "x", "my key": "yes"}, ["arguments[\"my key\"]: 'yes' is not of type 'boolean'"]),
        ({"sql": "x", "filter": {}}, ["arguments.filter: 'field' is a required property"]),
        (
            {"city": 1, "limit": 900},
            [
                "arguments: 'sql' is a required property",
                "arguments.city: 1 is not of type 'string', 'null'",
                "arguments.limit: 900 is greater than the maximum of 500",
            ],
        ),
        ([1, 2], ["arguments: must be a JSON object, got array"]),
        ("sql", ["arguments: must be a JSON object, got string"]),
        (None, ["arguments: must be a JSON object, got null"]),
    ],
)
def test_problems(arguments: Any, problems: list[str]) -> None:
    assert validate_arguments(TOOL, arguments) == problems


def test_a_tool_without_a_schema_accepts_any_object() -> None:
    assert validate_arguments(ToolInfo(server="s", name="t"), {"anything": [1]}) == []


def test_a_schema_that_is_not_json_schema_is_a_problem_of_the_tool() -> None:
    tool = ToolInfo(server="s", name="broken", input_schema={"type": "object", "required": 5})
    assert validate_arguments(tool, {}) == [
        "the tool's inputSchema is not a valid JSON Schema (5 is not of type 'array'); "
        "fix tool 'broken' on server 's'"
    ]


def test_the_schema_names_its_draft() -> None:
    draft4 = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "type": "object",
        "properties": {"n": {"type": "number", "maximum": 5, "exclusiveMaximum": True}},
    }
    tool = ToolInfo(server="s", name="old", input_schema=draft4)
    assert validate_arguments(tool, {"n": 5}) == [
        "arguments.n: 5 is greater than or equal to the maximum of 5"
    ]
