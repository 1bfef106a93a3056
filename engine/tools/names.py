"""How tools are named: bare, ``server.tool``, and OpenAI function names.

A tool is called by its bare name when no other server lists that name, by its
qualified name ``server.tool`` always, or by the name :func:`openai_names` gave it for
an OpenAI ``tools=`` request. These functions are pure: they work on a listing
(``ToolManager.list_tools()``) and call nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

from .config import ToolInfo

__all__ = ["call_names", "find_tool", "match_tools", "openai_names"]


def call_names(tools: Sequence[ToolInfo]) -> dict[str, ToolInfo]:
    """Return the shortest name that calls each tool: the bare name where it is unique,
    else ``server.tool``; in listing order."""
    counts = Counter(t.name for t in tools)
    return {(t.name if counts[t.name] == 1 else t.qualified): t for t in tools}


def match_tools(name: str, tools: Sequence[ToolInfo]) -> list[ToolInfo]:
    """Return every tool ``name`` may mean: the one it qualifies (``server.tool``), else
    every tool with that bare name, else the one with that OpenAI function name.

    More than one result means the name is ambiguous; none, that it is unknown.
    """
    server, _, bare = name.partition(".")
    qualified = [t for t in tools if bare and t.server == server and t.name == bare]
    if qualified:
        return qualified
    same = [t for t in tools if t.name == name]
    if same:
        return same
    alias = openai_names(tools).get(name)
    return [alias] if alias is not None else []


def find_tool(name: str, tools: Sequence[ToolInfo]) -> ToolInfo | None:
    """Return the tool ``name`` (bare, ``server.tool`` or OpenAI name) means, or ``None``
    when it is unknown or ambiguous (see :func:`match_tools`)."""
    found = match_tools(name, tools)
    return found[0] if len(found) == 1 else None


def openai_names(tools: Sequence[ToolInfo]) -> dict[str, ToolInfo]:
    """Return a valid, unique OpenAI function name for every tool.

    OpenAI function names match ``^[a-zA-Z0-9_-]{1,64}$``: the bare tool name where it
    is unique and valid, else ``server__tool``; other characters become ``_``, and a
    name that is too long or taken is shortened and given 8 hex digits of a hash.
    """
    counts = Counter(t.name for t in tools)
    names: dict[str, ToolInfo] = {}
    for tool in tools:
        name = tool.name if counts[tool.name] == 1 else f"{tool.server}__{tool.name}"
        name = re.sub(r"[^a-zA-Z0-9_-]", "_", name)
        if len(name) > 64 or name in names:
            digest = hashlib.sha1(tool.qualified.encode()).hexdigest()[:8]
            name = f"{name[:55]}_{digest}"
        names[name] = tool
    return names
