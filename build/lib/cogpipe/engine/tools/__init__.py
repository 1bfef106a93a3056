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

YAML/JSON config of one server (see :class:`ToolServerConfig`)::

    {name: demo_db, command: [python, -m, cogpipe.demo.server], timeout_s: 30}
    {name: search, url: "http://127.0.0.1:8000/mcp"}
"""

from __future__ import annotations

from .config import ToolCallResult, ToolInfo, ToolServerConfig
from .manager import MCPToolHandle, ToolManager

__all__ = ["MCPToolHandle", "ToolCallResult", "ToolInfo", "ToolManager", "ToolServerConfig"]
