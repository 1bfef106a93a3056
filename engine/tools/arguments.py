"""Checking a tool call's arguments against the tool's input schema, before the call.

MCP gives every tool an ``inputSchema`` (a JSON Schema object, MCP spec "Tools"); a call
whose arguments break it would be refused by a careful server and misread by a careless
one. :func:`validate_arguments` checks them with the ``jsonschema`` library (the draft the
schema names in ``$schema``, else 2020-12, with format checks) and says, per problem,
where and which rule: ``arguments.city: 5 is not of type 'string'``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from jsonschema import exceptions, validators
from jsonschema.protocols import Validator

from .config import ToolInfo

__all__ = ["validate_arguments"]


def validate_arguments(tool: ToolInfo, arguments: Any) -> list[str]:
    """Return what is wrong with ``arguments`` for ``tool``; empty when they are valid.

    A pure function: nothing is called. Each problem is one line starting with the
    path of the failing value (``arguments``, ``arguments.city``, ``arguments.files[0]``)
    followed by the rule it breaks, in the ``jsonschema`` library's words, e.g.
    ``arguments.city: 5 is not of type 'string'`` or ``arguments: 'sql' is a required
    property``. Problems are ordered by path.

    Args:
        tool: the tool as listed (its ``input_schema`` is the JSON Schema used).
        arguments: what a caller wants to send (a JSON object to be valid).

    Returns:
        The problems; ``[]`` when the arguments are valid. A tool whose own schema is
        not a valid JSON Schema gets one problem saying so (nothing can be checked).
    """
    if not isinstance(arguments, dict):
        return [f"arguments: must be a JSON object, got {_json_type(arguments)}"]
    try:
        validator = _validator(json.dumps(tool.input_schema, sort_keys=True))
    except exceptions.SchemaError as exc:
        return [
            f"the tool's inputSchema is not a valid JSON Schema ({exc.message}); "
            f"fix tool '{tool.name}' on server '{tool.server}'"
        ]
    errors = sorted(validator.iter_errors(arguments), key=lambda e: [str(p) for p in e.path])
    return [_problem(e) for e in errors]


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Validator:
    """Return a checked validator for a schema (keyed by its JSON text: schemas are dicts)."""
    schema = json.loads(schema_json)
    cls = validators.validator_for(schema, default=validators.Draft202012Validator)
    cls.check_schema(schema)
    validator: Validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return validator


def _path(parts: Iterable[str | int]) -> str:
    """``["files", 0]`` -> ``arguments.files[0]``."""
    text = "arguments"
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part):
            text += f".{part}"
        else:
            text += f"[{json.dumps(part)}]"
    return text


def _problem(error: exceptions.ValidationError) -> str:
    """``path: rule``; for ``anyOf``/``oneOf`` the branch closest to matching.

    ``{"anyOf": [{"type": "string"}, {"type": "null"}]}`` (an optional string as
    pydantic writes it) fails with "5 is not of type 'string', 'null'" rather than the
    library's "5 is not valid under any of the given schemas".
    """
    context: Sequence[exceptions.ValidationError] = error.context or []
    if error.validator in ("anyOf", "oneOf") and context:
        if all(e.validator == "type" and not e.relative_path for e in context):
            types = ", ".join(repr(t) for e in context for t in _listed(e.validator_value))
            return f"{_path(error.absolute_path)}: {error.instance!r} is not of type {types}"
        # A branch of another type says little ("'x' is not of type 'null'"): prefer
        # what went wrong inside the branches whose type fits.
        best = exceptions.best_match(e for e in context if e.validator != "type")
        if best is not None:
            return _problem(best)
    return f"{_path(error.absolute_path)}: {error.message}"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _json_type(value: Any) -> str:
    names = {type(None): "null", bool: "boolean", int: "integer", float: "number", str: "string"}
    return (
        "array" if isinstance(value, list | tuple) else names.get(type(value), "a non-JSON value")
    )
