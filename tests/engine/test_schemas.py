"""engine.schemas: strict response formats for OpenAI structured outputs, schema samples."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from cogpipe.engine.schemas import response_format, sample_for_schema, strict_schema


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


class Answer(BaseModel):
    text: str
    plan: Verdict | None = None
    tags: list[str] = []


def test_response_format_strict_mode_requires_every_field_and_drops_defaults() -> None:
    fmt = response_format(Plan)["json_schema"]
    assert fmt["strict"] is False  # Step.args is a dict with free-form keys
    assert fmt["schema"] == Plan.model_json_schema()

    strict = response_format(Answer)["json_schema"]
    assert strict["strict"] is True
    assert strict["schema"]["required"] == ["text", "plan", "tags"]
    assert "default" not in json.dumps(strict["schema"])
    assert strict["schema"]["$defs"]["Verdict"]["additionalProperties"] is False


class Kitchen(BaseModel):
    class Meal(BaseModel):
        name: str = Field(min_length=12, max_length=20)
        when: Literal["breakfast", "lunch"] = "lunch"
        servings: int = Field(gt=2, le=10)

    meals: list[Meal] = Field(min_length=2)
    chef: str | None
    open: bool
    rating: float = Field(ge=1.5)
    tags: tuple[str, int]
    extra: dict[str, Any]


@pytest.mark.parametrize("model", [Verdict, Plan, Kitchen, Answer])
def test_sample_for_schema_is_valid_for_the_plain_and_the_strict_schema(
    model: type[BaseModel],
) -> None:
    plain = model.model_json_schema()
    schemas = [plain] + ([strict] if (strict := strict_schema(plain)) else [])
    assert len(schemas) == (2 if model in (Verdict, Answer) else 1)
    for schema in schemas:
        sample = sample_for_schema(schema, "some text")
        model.model_validate(sample)
        assert sample == sample_for_schema(schema, "some text")


def test_strict_schema_rewrites_what_strict_mode_needs_and_refuses_the_rest() -> None:
    plain = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time", "default": "now"},
            "sub": {"$ref": "#/$defs/Sub", "description": "dropped beside $ref"},
            "either": {"oneOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "$defs": {"Sub": {"type": "object", "properties": {"x": {"type": "number"}}}},
    }
    before = json.dumps(plain)
    assert strict_schema(plain) == {
        "type": "object",
        "properties": {  # optional, so nullable (an optional null is already nullable)
            "when": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "sub": {"anyOf": [{"$ref": "#/$defs/Sub"}, {"type": "null"}]},
            "either": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "$defs": {
            "Sub": {
                "type": "object",
                "properties": {"x": {"anyOf": [{"type": "number"}, {"type": "null"}]}},
                "additionalProperties": False,
                "required": ["x"],
            }
        },
        "additionalProperties": False,
        "required": ["when", "sub", "either"],
    }
    assert json.dumps(plain) == before  # the input is not modified
    for refused in (
        {"type": "object", "properties": {"a": {}}},  # Any
        {"type": "object", "additionalProperties": {"type": "integer"}},  # dict[str, int]
        {"type": "string", "minLength": 3},
        {"type": "string", "format": "uri"},
        {"type": "array", "prefixItems": [{"type": "string"}]},  # tuple
    ):
        assert strict_schema(refused) is None, refused
