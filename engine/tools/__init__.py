"""MCP tool client: connect to tool servers, list their tools, call them, trace the calls.

Speaks the Model Context Protocol (spec 2025-06-18 and later; the ``mcp`` SDK 2.x
``Client`` negotiates the version, including the 2026 sessionless era) to any standard
server, over stdio (a subprocess we start) or streamable HTTP (a URL).

Each server has one long-lived task that owns its MCP client, because the SDK's
transport and session contexts must be entered and exited in the same task. Callers
hand calls to that task as jobs through a memory object stream; the task runs each job
as a child task, so calls from different tasks run concurrently. A server whose process
dies is reconnected when the next call for it arrives; a call that was running when it
died is retried once on the new connection.

Which tools are offered is the config's choice (``include``/``exclude`` patterns, and
destructive tools only with ``allow_destructive``); a call is refused before it reaches a
server when its name is unknown, ambiguous or hidden, or its arguments do not fit the
tool's input schema. The pure helpers nodes use to talk to models about tools
(:func:`describe_tools`, :func:`openai_tools`, :func:`validate_arguments`,
:func:`find_tool`) need no running manager.

YAML/JSON config of one server (see :class:`ToolServerConfig`)::

    {name: demo_db, command: [python, -m, cogpipe.demo.server], timeout_s: 30}
    {name: search, url: "http://127.0.0.1:8000/mcp", headers: {Authorization: "Bearer x"}}
    {name: git, command: [mcp-server-git, --repository, .], exclude: [git_commit]}
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .arguments import validate_arguments
from .config import ToolAnnotations, ToolCallResult, ToolInfo, ToolServerConfig
from .listing import describe_tool, describe_tools, openai_parameters, openai_tools
from .names import call_names, find_tool, match_tools, openai_names

if TYPE_CHECKING:
    from .manager import MCPToolHandle, ToolManager


def __getattr__(name: str) -> Any:
    # The manager pulls in the mcp SDK; load it only when a caller needs it, so reading
    # settings or listing tools for a prompt stays cheap.
    if name in ("MCPToolHandle", "ToolManager"):
        return getattr(import_module(".manager", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MCPToolHandle",
    "ToolAnnotations",
    "ToolCallResult",
    "ToolInfo",
    "ToolManager",
    "ToolServerConfig",
    "call_names",
    "describe_tool",
    "describe_tools",
    "find_tool",
    "match_tools",
    "openai_names",
    "openai_parameters",
    "openai_tools",
    "validate_arguments",
]
