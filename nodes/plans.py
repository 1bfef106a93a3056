"""Plans that can only name real tools: director_v2's output schema, built per turn from
the listed tools, and the check of every step before anything runs.

The schema is :class:`~nodes.types.DirectorPlan`'s with the step's ``tool`` narrowed to
an enum of the listed tools' call names (bare, or ``server.tool`` where two servers share
a name); arguments stay a JSON object in the schema and are checked per tool with
``cogpipe.engine.tools.validate_arguments`` (JSON Schema, the tool's ``inputSchema``).
Why an enum and not one ``anyOf`` branch per tool with its ``inputSchema``: the schema's
size stays independent of the tools' (it is also written into the prompt for endpoints
without ``json_schema`` support, where small models have small contexts; the tool
listing already describes every parameter), and a per-tool check names the tool, the
path and the rule ("step 1 calls 'get_current_time': arguments: 'timezone' is a
required property"), which is what a re-ask should quote; a failed ``anyOf`` only says
"is not valid under any of the given schemas".
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import cache
from typing import Any

from cogpipe.engine.tools import ToolInfo, call_names, match_tools, validate_arguments

from .types import DirectorPlan, ToolStep

__all__ = ["plan_schema", "step_problems"]


@cache
def _base() -> dict[str, Any]:
    return DirectorPlan.model_json_schema()


def plan_schema(tools: Sequence[ToolInfo]) -> dict[str, Any]:
    """Return the JSON Schema of a :class:`DirectorPlan` whose steps can only name one
    of ``tools`` (by call name); with no tools, the tool sequence must be empty."""
    schema = copy.deepcopy(_base())
    names = list(call_names(tools))
    if names:
        schema["$defs"]["ToolStep"]["properties"]["tool"]["enum"] = names
    else:
        schema["properties"]["tool_sequence"]["maxItems"] = 0
    return schema


def step_problems(steps: Sequence[ToolStep], tools: Sequence[ToolInfo]) -> list[str | None]:
    """Return, per step, ``None`` when it can run, else why not: an unknown or ambiguous
    tool name (the known names listed), or arguments that break the tool's schema
    (``step 2 calls 'x': arguments.city: 5 is not of type 'string'``)."""
    out: list[str | None] = []
    for i, step in enumerate(steps, 1):
        found = match_tools(step.tool, tools)
        if len(found) != 1:
            what = "is ambiguous" if found else "is not a listed tool"
            names = ", ".join(call_names(tools)) or "(none)"
            out.append(f"step {i}: '{step.tool}' {what}; the tools are: {names}")
            continue
        problems = validate_arguments(found[0], step.arguments)
        out.append(f"step {i} calls '{step.tool}': {'; '.join(problems)}" if problems else None)
    return out
