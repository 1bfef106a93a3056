"""JSON schemas for OpenAI structured outputs: strict-mode conversion and valid samples.

:func:`response_format` turns a pydantic model or a JSON Schema into the
``response_format`` the LLM client sends (``json_schema``; strict where OpenAI's strict
mode can express it, see :func:`strict_schema`). :func:`drop_optional_nulls` undoes the
one change strict mode makes to the *values* (optional fields arrive as ``null``).
:func:`sample_for_schema` builds a minimal instance of a schema, which is how the
offline model answers structured requests it was not taught.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel

__all__ = [
    "drop_optional_nulls",
    "resolve_ref",
    "response_format",
    "sample_for_schema",
    "schema_name",
    "strict_schema",
]


def response_format(
    schema: type[BaseModel] | dict[str, Any], name: str | None = None
) -> dict[str, Any]:
    """Return the OpenAI ``response_format`` (``json_schema``) for a model or a schema.

    Args:
        schema: a pydantic model class, or a JSON Schema (draft 2020-12) of an object.
        name: the schema's name (default: the class name, else the schema's ``title``).

    Returns:
        ``{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}``: strict
        (see :func:`strict_schema`) when the schema allows it, else the plain schema
        with ``"strict": false``.

    Raises:
        ValueError: a dict schema with neither ``name`` nor a ``title``.
    """
    plain = schema if isinstance(schema, dict) else schema.model_json_schema()
    strict = strict_schema(plain)
    return {
        "type": "json_schema",
        "json_schema": {
            "name": schema_name(schema, name),
            "schema": strict or plain,
            "strict": strict is not None,
        },
    }


def schema_name(schema: type[BaseModel] | dict[str, Any], name: str | None = None) -> str:
    """Return the name OpenAI gets for a schema: ``name``, the class name, or the dict's
    ``title``, reduced to the 64 characters ``[a-zA-Z0-9_-]`` it accepts.

    Raises:
        ValueError: a dict schema with neither ``name`` nor a ``title``.
    """
    given = name or (schema.get("title") if isinstance(schema, dict) else schema.__name__)
    if not isinstance(given, str) or not given:
        raise ValueError(
            "a JSON Schema dict needs a name: pass name='...' (letters, digits, _ or -) "
            "or give the schema a 'title'"
        )
    return re.sub(r"[^a-zA-Z0-9_-]", "_", given)[:64]


# What OpenAI's strict mode accepts (Structured Outputs guide, "Supported schemas").
_STRICT_KEYS = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "enum",
    "const",
    "$ref",
    "$defs",
    "description",
    "title",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "default",
}
_STRICT_FORMATS = {
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
}


def strict_schema(node: Any) -> Any:
    """Return a JSON schema rewritten for OpenAI strict structured outputs, or ``None``.

    Strict mode (OpenAI "Structured Outputs" guide) needs every property required,
    ``additionalProperties: false``, a type on every value, no ``default``, no siblings
    beside ``$ref``, and only its supported keywords and formats. ``oneOf`` becomes
    ``anyOf``. A property that was optional becomes required but nullable (OpenAI's
    way to express optional fields); :func:`drop_optional_nulls` removes those
    ``null`` values again. ``None`` means the schema cannot be made strict
    (``dict``/``Any`` fields, string length limits, tuples ...), so the caller sends it
    non-strict.

    Args:
        node: a JSON schema (not modified).
    """
    return _strict(json.loads(json.dumps(node)))


def _strict(node: Any) -> Any:
    if not isinstance(node, dict) or not set(node) <= _STRICT_KEYS | {"oneOf"}:
        return None
    if "$ref" in node:
        return {"$ref": node["$ref"]}  # strict mode allows no siblings next to $ref
    out = {k: v for k, v in node.items() if k != "default"}
    if "oneOf" in out:  # pydantic's discriminated unions; anyOf accepts the same values
        out["anyOf"] = out.pop("oneOf")
    if out.get("format", "date") not in _STRICT_FORMATS:
        return None
    subs: list[tuple[Any, Any]] = [(out, k) for k in ("items",) if k in out]
    subs += [(out["anyOf"], i) for i in range(len(out.get("anyOf", [])))]
    subs += [(out[k], n) for k in ("properties", "$defs") for n in out.get(k, {})]
    for parent, key in subs:
        parent[key] = _strict(parent[key])
        if parent[key] is None:
            return None
    if out.get("type") == "object" or "properties" in out:
        if out.get("additionalProperties", False) is not False or "properties" not in out:
            return None  # dict[str, X]: free-form keys are not allowed in strict mode
        required = set(out.get("required", []))
        for key, prop in out["properties"].items():
            if key not in required and not _allows_null(prop):
                out["properties"][key] = {"anyOf": [prop, {"type": "null"}]}
        out["additionalProperties"], out["required"] = False, list(out["properties"])
    if not {"type", "$ref", "anyOf", "enum", "const"} & set(out):
        return None  # Any: strict mode needs a type
    return out


def _allows_null(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    return any(_allows_null(b) for b in node.get("anyOf", []) if isinstance(b, dict))


def drop_optional_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """Remove ``null`` values of optional properties, as :func:`strict_schema` lets the
    model send them, so ``value`` validates against the original ``schema``.

    A key is dropped when its value is ``None`` and no object schema that applies at
    that place (following ``$ref`` and ``anyOf``/``oneOf``/``allOf``) requires it.
    ``value`` is not modified.

    Args:
        value: a decoded JSON value.
        schema: the original (not strict) JSON Schema.
    """
    return _drop(value, schema, schema, 0)


def _drop(value: Any, node: Any, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(node, dict) or depth > 32:
        return value
    nodes = _branches(resolve_ref(node, root), root, depth)
    if isinstance(value, list):
        items = [n["items"] for n in nodes if isinstance(n.get("items"), dict)]
        return [_drop(v, items[0], root, depth + 1) if items else v for v in value]
    if not isinstance(value, dict):
        return value
    objects = [n for n in nodes if "properties" in n]
    out = {}
    for key, item in value.items():
        where = [n for n in objects if key in n["properties"]]
        if item is None and where and not any(key in n.get("required", []) for n in where):
            continue
        out[key] = _drop(item, where[0]["properties"][key], root, depth + 1) if where else item
    return out


def _branches(node: dict[str, Any], root: dict[str, Any], depth: int) -> list[dict[str, Any]]:
    """``node`` and, recursively, the schemas of its ``anyOf``/``oneOf``/``allOf``."""
    out = [node]
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key) or []:
            if isinstance(branch, dict) and depth < 32:
                out += _branches(resolve_ref(branch, root), root, depth + 1)
    return out


def sample_for_schema(schema: dict[str, Any], text: str = "") -> Any:
    """Return a minimal, deterministic instance valid against a JSON schema.

    Required properties are filled from ``const``, ``enum`` (first value), ``default``,
    then by type (strings are ``text``; numbers respect ``minimum``; arrays hold
    ``minItems`` items, one when unconstrained). Local ``$ref`` into ``$defs`` is
    followed; ``pattern`` is not honoured.

    Args:
        schema: a JSON schema (draft 2020-12, as pydantic and OpenAI write them).
        text: the text used for string values.
    """
    return _sample(schema, schema, text or "offline", 0)


def resolve_ref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Return ``node`` with a local ``$ref`` (``#/$defs/X``) replaced by its target
    (sibling keys of the ``$ref`` win); other nodes come back as they are.

    Raises:
        KeyError: the reference points at nothing in ``root``.
    """
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


_FORMATS = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "email": "offline@example.com",
    "uri": "https://example.com/",
    "duration": "P0D",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "localhost",
}


def _sample(node: dict[str, Any], root: dict[str, Any], text: str, depth: int) -> Any:
    node = resolve_ref(node, root)
    for key in ("const", "default"):
        if key in node:
            return node[key]
    if node.get("enum"):
        return node["enum"][0]
    variants = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
    if variants:
        usable = [v for v in variants if resolve_ref(v, root).get("type") != "null"]
        return _sample((usable or variants)[0], root, text, depth)
    kind = node.get("type", "object" if "properties" in node else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = node.get("properties", {})
        return {
            k: _sample(props.get(k, {}), root, text, depth + 1) for k in node.get("required", [])
        }
    if kind == "array" and "prefixItems" in node:  # tuples
        return [_sample(item, root, text, depth + 1) for item in node["prefixItems"]]
    if kind == "array":
        count = node.get("minItems", 1 if depth < 3 else 0)
        count = min(count, node.get("maxItems", count))
        return [_sample(node.get("items", {}), root, text, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        low = node.get("minimum", node.get("exclusiveMinimum", -1) + 1)
        value = min(low, node.get("maximum", low))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    if node.get("format") in _FORMATS:
        return _FORMATS[node["format"]]
    value = text[: node.get("maxLength", len(text))]
    return value.ljust(node.get("minLength", 0), ".")
