"""Tools described for a model: a compact text listing, and OpenAI function specs.

:func:`describe_tools` is what a node puts in a prompt so a model can pick tools and
fill arguments: per tool its name, title, hints (read-only, destructive), description,
and per parameter its JSON type, whether it is required, its allowed values, default,
range and description. :func:`openai_tools` turns the same tools into the ``tools=``
list of an OpenAI chat-completions request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .config import ToolInfo
from .names import call_names, openai_names

__all__ = ["describe_tool", "describe_tools", "openai_parameters", "openai_tools"]

NO_TOOLS = "(no tools available)"


def describe_tools(tools: Sequence[ToolInfo]) -> str:
    """Return a prompt listing of ``tools``: one block per tool, blank lines between.

    Each tool is named as it should be called (bare, or ``server.tool`` when two
    servers share the name; see :func:`~cogpipe.engine.tools.names.call_names`).
    Example block::

        count_customers (Count customers) [read-only]
          Count customers, optionally by city and segment.
          - city: string, optional - a city, e.g. Berlin
          - segment: string, optional, one of "smb", "enterprise"
          - limit: integer, optional, default 100, 1 to 500 - maximum rows

    Returns:
        The text; ``"(no tools available)"`` when ``tools`` is empty.
    """
    blocks = [describe_tool(tool, name) for name, tool in call_names(tools).items()]
    return "\n\n".join(blocks) or NO_TOOLS


def describe_tool(tool: ToolInfo, name: str | None = None) -> str:
    """Return the listing block of one tool (see :func:`describe_tools`), headed by
    ``name`` (default its qualified name)."""
    head = name or tool.qualified
    if tool.title and _plain(tool.title) != _plain(tool.name):
        head += f" ({tool.title})"
    if tool.hints:
        head += f" [{', '.join(tool.hints)}]"
    lines = [head]
    if tool.description.strip():
        lines.append(f"  {_oneline(tool.description)}")
    schema = tool.input_schema
    required = set(schema.get("required") or [])
    properties: dict[str, Any] = schema.get("properties") or {}
    for param, prop in properties.items():
        lines.append(f"  - {param}: {_parameter(_deref(prop, schema), param in required, schema)}")
    if not properties:
        lines.append("  - no parameters")
    return "\n".join(lines)


def openai_tools(tools: Sequence[ToolInfo]) -> list[dict[str, Any]]:
    """Return ``tools`` as OpenAI chat-completions function tools.

    Each is ``{"type": "function", "function": {"name", "description",
    "parameters"}}``: ``name`` from :func:`~cogpipe.engine.tools.names.openai_names`
    (``ToolManager.call`` accepts it), the description followed by the hints
    (``[read-only]``), and the input schema as :func:`openai_parameters`.
    """
    specs = []
    for alias, tool in openai_names(tools).items():
        description = _oneline(tool.description)
        if tool.hints:
            description = f"{description} [{', '.join(tool.hints)}]".strip()
        function = {
            "name": alias,
            "description": description,
            "parameters": openai_parameters(tool.input_schema),
        }
        specs.append({"type": "function", "function": function})
    return specs


def openai_parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """Return an MCP input schema as OpenAI function ``parameters``.

    OpenAI rejects a parameters schema that is not ``type: object`` or has
    ``oneOf``/``anyOf``/``allOf``/``enum``/``const``/``not`` at the top level ("Invalid
    schema for function ..."). Those top-level keys are dropped, the properties of
    ``oneOf``/``anyOf``/``allOf`` branches are merged into ``properties`` (their
    requirements are left to the argument check before the call), and the top-level
    ``title`` and ``$schema`` go. Everything below the top level, parameter
    descriptions included, is kept.
    """
    params = {
        k: v
        for k, v in schema.items()
        if k not in ("title", "$schema", "oneOf", "anyOf", "allOf", "enum", "const", "not")
    }
    params["type"] = "object"
    properties = dict(params.get("properties") or {})
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            if isinstance(branch, dict):
                for name, prop in (_deref(branch, schema).get("properties") or {}).items():
                    properties.setdefault(name, prop)
    params["properties"] = properties
    return params


def _parameter(prop: dict[str, Any], required: bool, root: dict[str, Any]) -> str:
    """``string, optional, one of "a", "b" - description``."""
    parts = [_type(prop, root), "required" if required else "optional"]
    values = _values(prop, root)
    if values:
        parts.append("one of " + ", ".join(json.dumps(v, ensure_ascii=False) for v in values))
    if prop.get("default") is not None:
        parts.append(f"default {json.dumps(prop['default'], ensure_ascii=False)}")
    parts += [b for b in map(_bounds, _branches(prop, root)) if b]
    text = ", ".join(parts)
    description = prop.get("description")
    return f"{text} - {_oneline(description)}" if description else text


def _type(prop: dict[str, Any], root: dict[str, Any]) -> str:
    """The JSON type(s) of a property, ``null`` left out (it is what "optional" sends)."""
    names: list[str] = []
    for branch in _branches(prop, root):
        kinds = branch.get("type")
        for kind in kinds if isinstance(kinds, list) else [kinds]:
            name = _json_kind(branch) if kind is None else str(kind)
            if name == "array" and isinstance(branch.get("items"), dict):
                name = f"array of {_type(_deref(branch['items'], root), root)}"
            if name is not None and branch.get("format"):
                name += f" ({branch['format']})"
            if name is not None and name not in names and name != "null":
                names.append(name)
    return " or ".join(names) or ("null" if prop.get("type") == "null" else "any")


def _json_kind(branch: dict[str, Any]) -> str | None:
    """The type of an untyped ``enum``/``const`` branch, from its values."""
    values = branch.get("enum") or ([branch["const"]] if "const" in branch else [])
    kinds = {type(v) for v in values}
    named = {str: "string", int: "integer", float: "number", bool: "boolean"}
    return named.get(kinds.pop()) if len(kinds) == 1 else None


def _values(prop: dict[str, Any], root: dict[str, Any]) -> list[Any]:
    values: list[Any] = []
    for branch in _branches(prop, root):
        for value in branch.get("enum") or ([branch["const"]] if "const" in branch else []):
            if value is not None and value not in values:
                values.append(value)
    return values


def _branches(prop: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The property itself, or each ``anyOf``/``oneOf`` branch (references resolved)."""
    union = prop.get("anyOf") or prop.get("oneOf")
    if not isinstance(union, list):
        return [prop]
    branches = [_deref(b, root) for b in union if isinstance(b, dict)]
    return [leaf for branch in branches for leaf in _branches(branch, root)]


def _bounds(prop: dict[str, Any]) -> str:
    low, high = prop.get("minimum"), prop.get("maximum")
    if low is not None and high is not None:
        return f"{low} to {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}" if high is not None else ""


def _deref(prop: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Resolve a local ``$ref`` (``#/$defs/X`` or ``#/definitions/X``) once."""
    ref = prop.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return prop
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, dict) else None
    return {**target, **{k: v for k, v in prop.items() if k != "$ref"}} if target else prop


def _plain(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


def _oneline(text: str) -> str:
    return " ".join(text.split())
