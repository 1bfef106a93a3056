"""What a structured call asks for, how it is asked in each mode, and how answers are checked.

:class:`OutputSpec` wraps the ``schema`` argument of ``ctx.llm.structured``: a pydantic
model class (answers become instances) or a JSON Schema dict (answers stay dicts,
validated with the ``jsonschema`` library, draft 2020-12). :meth:`OutputSpec.body`
writes the request for a mode (``json_schema``, ``json_object``, ``prompt``; see
:mod:`~cogpipe.engine.protocol`), and :meth:`OutputSpec.parse` turns an answer into the
value or an :class:`OutputProblem` that the re-ask quotes.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ValidationError

from .guards import echoed_descriptions
from .protocol import extract_json, with_schema
from .schemas import drop_optional_nulls, schema_name, strict_schema

__all__ = ["OutputProblem", "OutputSpec"]


class OutputProblem(ValueError):
    """An answer that is not a valid value for the schema; the text says what is wrong,
    in one line, for the re-ask and the error message."""


class OutputSpec:
    """The expected answer of one structured call.

    Args:
        schema: a pydantic model class, or a JSON Schema (draft 2020-12) dict.
        name: the schema's name for OpenAI (default: the class name, or the dict's
            ``title``).

    Raises:
        TypeError: ``schema`` is neither.
        ValueError: a dict schema without a name, or one that is not a valid JSON Schema.
    """

    def __init__(self, schema: type[BaseModel] | dict[str, Any], name: str | None = None) -> None:
        self.model: type[BaseModel] | None = None
        self.validator: Draft202012Validator | None = None
        if isinstance(schema, dict):
            self.schema = schema
            try:
                self.validator = _validator(json.dumps(schema, sort_keys=True))
            except SchemaError as exc:
                raise ValueError(
                    f"structured(): the schema '{name or schema.get('title')}' is not a valid "
                    f"JSON Schema: {exc.message} (at {'/'.join(map(str, exc.path)) or 'the root'})"
                ) from exc
        elif isinstance(schema, type) and issubclass(schema, BaseModel):
            self.model, self.schema = schema, schema.model_json_schema()
        else:
            raise TypeError(
                "structured() takes a pydantic model class or a JSON Schema dict as its "
                f"schema, not {type(schema).__name__}"
            )
        self.name = schema_name(schema, name)
        self.strict = strict_schema(self.schema)

    def body(
        self, messages: list[dict[str, Any]], mode: str | None, temperature: float | None
    ) -> dict[str, Any]:
        """Return the request body (without ``model`` and ``max_tokens``) for ``mode``.

        ``json_schema`` sends the strict schema when there is one; ``json_object`` and
        ``prompt`` put the plain schema into the system prompt, and ``json_object``
        also sends it as ``response_format.schema`` (llama-cpp-python constrains
        decoding with it; other servers ignore it).
        """
        body: dict[str, Any] = {} if temperature is None else {"temperature": temperature}
        if mode == "json_schema":
            format_ = {"name": self.name, "schema": self.strict or self.schema}
            format_["strict"] = self.strict is not None
            return {
                **body,
                "messages": messages,
                "response_format": {"type": "json_schema", "json_schema": format_},
            }
        body["messages"] = with_schema(messages, self.schema)
        if mode == "json_object":
            body["response_format"] = {"type": "json_object", "schema": self.schema}
        return body

    def parse(self, text: str) -> Any:
        """Return the answer as the model instance or the validated dict.

        Raises:
            OutputProblem: no JSON, a value invalid for the schema, or string fields
                that only repeat their own schema description.
        """
        try:
            value = drop_optional_nulls(extract_json(text), self.schema)
        except ValueError as exc:
            raise OutputProblem(f"not JSON: {exc}") from exc
        result: Any = value
        if self.model is not None:
            try:
                result = self.model.model_validate(value)
            except ValidationError as exc:
                raise OutputProblem(_pydantic_problem(exc)) from exc
        elif self.validator is not None:
            errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.path))
            if errors:
                raise OutputProblem(
                    "; ".join(f"{_path(e.absolute_path)}: {e.message[:200]}" for e in errors[:3])
                )
        echoed = echoed_descriptions(value, self.schema)
        if echoed:
            raise OutputProblem(
                f"{', '.join(echoed)}: repeats the field's description from the schema "
                "instead of giving a value"
            )
        return result


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    """Return a checked validator for a schema, keyed by its JSON text: a node that
    builds its schema per call (director_v2's plan) would otherwise pay for checking
    the schema itself, tens of milliseconds, on every call."""
    schema = json.loads(schema_json)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "output"


def _pydantic_problem(exc: ValidationError) -> str:
    """Summarise a validation error in one line (at most three problems)."""
    return "; ".join(f"{_path(e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
