"""The tool manager and the per-run tool handle.

:class:`ToolManager` starts one connection task per enabled server, resolves tool names
(bare, ``server.tool`` or OpenAI function names), runs calls within their time limit with
one retry after a lost connection, turns finished jobs into :class:`ToolCallResult`
objects, and emits ``tool.*`` trace events; :class:`MCPToolHandle` is ``ctx.tools`` inside
one node run.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from ..errors import ToolError
from ..trace import preview
from .config import ToolCallResult, ToolInfo, ToolServerConfig
from .connection import _Connection, _Job

if TYPE_CHECKING:
    from ..node import RunContext

# One logger for the whole package, named as before it was split into modules.
log = logging.getLogger("cogpipe.engine.tools")

Emit = Callable[[str, dict[str, Any]], None]
"""``emit(type, data)``: how a call reports ``tool.*`` trace events (``RunContext.emit``)."""


class ToolManager:
    """Connects to MCP tool servers and calls their tools; the engine's ``tools`` service.

    Use it as an async context manager: entering starts or connects to every enabled
    server concurrently and returns once each has connected or failed. A server that
    fails is recorded as down (see :meth:`status`) and does not stop the others; it is
    tried again when a call for it arrives. Leaving stops the stdio servers.

    Example::

        async with ToolManager([demo_db_server_config()]) as tools:
            result = await tools.call("query", {"sql": "SELECT COUNT(*) FROM customers"})

    Raises:
        ValueError: two servers share a name.
    """

    def __init__(self, servers: list[ToolServerConfig]) -> None:
        dupes = sorted(n for n, c in Counter(s.name for s in servers).items() if c > 1)
        if dupes:
            raise ValueError(
                f"tool server names must be unique; configured more than once: {', '.join(dupes)}"
            )
        self._conns = {s.name: _Connection(s) for s in servers}
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> ToolManager:
        if self._tg is not None:
            raise RuntimeError("this ToolManager is already running")
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        active = [c for c in self._conns.values() if c.config.enabled]
        try:
            for conn in active:
                conn.open()
                self._tg.start_soon(conn.run, name=f"mcp server {conn.config.name}")
            for conn in active:
                await conn.ready.wait()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        tg, self._tg = self._tg, None
        if tg is not None:
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)

    def status(self) -> list[dict[str, Any]]:
        """Return one ``{name, transport, status, tools, error}`` dict per server.

        ``status`` is ``up``, ``down``, ``connecting``, ``stopped`` or ``disabled``;
        ``tools`` counts the tools last listed; ``error`` says why it is down.
        """
        return [conn.status() for conn in self._conns.values()]

    async def list_tools(self) -> list[ToolInfo]:
        """Return the tools of every enabled server, as last listed.

        A server that crashed keeps its tools here: calling one reconnects it.
        """
        return self._tools()

    def openai_tools(self) -> list[dict[str, Any]]:
        """Return the tools as OpenAI chat-completions function tools.

        Each is ``{"type": "function", "function": {"name", "description",
        "parameters"}}``; ``name`` matches ``^[a-zA-Z0-9_-]{1,64}$``: the bare tool name
        where that is unique and valid, else ``server__tool`` (cleaned, shortened with
        a hash when too long). :meth:`call` accepts these names.
        """
        return [
            {
                "type": "function",
                "function": {
                    "name": alias,
                    "description": tool.description,
                    "parameters": _parameters(tool.input_schema),
                },
            }
            for alias, tool in self._openai_names().items()
        ]

    def bind(self, ctx: RunContext) -> MCPToolHandle:
        """Return the handle a node run uses as ``ctx.tools`` (the engine's ``Service``)."""
        return MCPToolHandle(self, ctx.emit)

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        emit: Emit | None = None,
    ) -> ToolCallResult:
        """Call a tool and wait for its result.

        Args:
            name: a tool name, ``server.tool`` (needed when servers share a tool
                name), or a name from :meth:`openai_tools`.
            arguments: the tool's arguments (a JSON object).
            timeout_s: time limit in seconds for the whole call, reconnect included;
                default the server's ``timeout_s``.
            emit: receives ``tool.started``, then ``tool.finished`` or ``tool.failed``.

        Returns:
            The result; ``ok`` is ``False`` when the tool reported an error (MCP
            ``isError``) or the server rejected the call (a JSON-RPC error such as
            invalid arguments), with the reason in ``error``.

        Raises:
            ToolError: unknown or ambiguous name (the message lists the choices), server
                not available, timeout, or the server failed during the call and again
                after one reconnect and retry.
        """
        arguments = dict(arguments or {})
        try:
            conn, tool = self._resolve(name)
        except ToolError as exc:
            _send(emit, "tool.failed", server=None, tool=name, error=exc.message, duration_ms=0.0)
            raise
        limit = conn.config.timeout_s if timeout_s is None else timeout_s
        return await self._traced(conn, tool, arguments, limit, emit)

    async def _traced(
        self,
        conn: _Connection,
        tool: str,
        arguments: dict[str, Any],
        limit: float,
        emit: Emit | None,
    ) -> ToolCallResult:
        """Run the call within ``limit`` seconds, between ``tool.*`` trace events."""
        server = conn.config.name
        _send(emit, "tool.started", server=server, tool=tool, arguments=preview(arguments))
        started = time.perf_counter()
        try:
            with anyio.fail_after(limit):
                job = await self._attempt(conn, tool, arguments, limit)
            result = _outcome(server, tool, arguments, job, _ms(started))
        except (ToolError, TimeoutError) as exc:
            error = exc if isinstance(exc, ToolError) else _timeout(server, tool, limit)
            failed = {"error": error.message, "duration_ms": _ms(started)}
            _send(emit, "tool.failed", server=server, tool=tool, **failed)
            raise error from None
        shown = preview(result.data if result.data is not None else result.text)
        extra = {} if result.ok else {"error": result.error}
        finished = {"ok": result.ok, "result": shown, "duration_ms": result.duration_ms, **extra}
        _send(emit, "tool.finished", server=server, tool=tool, **finished)
        return result

    async def _attempt(
        self, conn: _Connection, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> _Job:
        """Run the call; once more on a new connection if the server died during it."""
        if self._tg is None:
            raise ToolError("the tool manager is not running: use 'async with ToolManager(...)'")
        for attempt in (1, 2):
            job = _Job(tool, arguments, timeout_s, attempt=attempt)
            try:
                await conn.submit(job)
                await job.done.wait()
            finally:
                job.scope.cancel()  # stop the call on the server if we gave up on it
            if job.lost is None or attempt == 2:
                return job
            log.warning(
                "tool server '%s' failed during '%s' (%s); reconnecting and retrying once",
                conn.config.name,
                tool,
                job.lost,
            )
        raise AssertionError("unreachable")

    def _tools(self) -> list[ToolInfo]:
        return [t for c in self._conns.values() if c.config.enabled for t in c.tools]

    def _resolve(self, name: str) -> tuple[_Connection, str]:
        tools = self._tools()
        server, _, tool = name.partition(".")
        conn = self._conns.get(server)
        if (
            tool
            and conn is not None
            and conn.config.enabled
            and (any(t.name == tool for t in conn.tools) or not conn.tools)
        ):
            return conn, tool  # a server that never listed tools gets a chance to connect
        matches = [t for t in tools if t.name == name]
        if len(matches) > 1:
            raise ToolError(
                f"tool name '{name}' is ambiguous: servers "
                f"{', '.join(t.server for t in matches)} all have it; call one of "
                f"{', '.join(t.qualified for t in matches)}"
            )
        found = matches[0] if matches else self._openai_names().get(name)
        if found is None:
            raise ToolError(self._unknown(name, tools))
        return self._conns[found.server], found.name

    def _unknown(self, name: str, tools: list[ToolInfo]) -> str:
        counts = Counter(t.name for t in tools)
        names = sorted(t.name if counts[t.name] == 1 else t.qualified for t in tools)
        text = f"unknown tool '{name}'. Available tools: {', '.join(names) or '(none)'}"
        down = [c for c in self._conns.values() if c.config.enabled and c.state != "up"]
        if down:
            text += "\nServers not up: " + "; ".join(
                f"{c.config.name} ({(c.error or c.state).splitlines()[0]})" for c in down
            )
        return text

    def _openai_names(self) -> dict[str, ToolInfo]:
        tools = self._tools()
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


class MCPToolHandle:
    """``ctx.tools`` over MCP (the :class:`~cogpipe.engine.handles.ToolHandle` protocol):
    tool calls traced as that node's events.

    Emits ``tool.started`` {server, tool, arguments (preview)}, then ``tool.finished``
    {server, tool, ok, result (preview), duration_ms[, error]} or ``tool.failed``
    {server, tool, error, duration_ms}.
    """

    def __init__(self, manager: ToolManager, emit: Emit) -> None:
        self._manager = manager
        self._emit = emit

    async def list(self) -> builtins.list[ToolInfo]:
        """Return every available tool (see :meth:`ToolManager.list_tools`)."""
        return await self._manager.list_tools()

    async def call(
        self, name: str, arguments: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> ToolCallResult:
        """Call a tool, traced (see :meth:`ToolManager.call` for names and errors)."""
        return await self._manager.call(name, arguments, timeout_s=timeout_s, emit=self._emit)

    def openai_tools(self) -> builtins.list[dict[str, Any]]:
        """Return the tools as OpenAI function tools (see :meth:`ToolManager.openai_tools`)."""
        return self._manager.openai_tools()


def _send(emit: Emit | None, type: str, **data: Any) -> None:
    if emit is not None:
        emit(type, data)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _timeout(server: str, tool: str, limit: float) -> ToolError:
    return ToolError(
        f"tool '{server}.{tool}' did not finish within {limit:g} s and was "
        f"cancelled; pass a larger timeout_s, or raise timeout_s of tool server "
        f"'{server}' in the config"
    )


def _outcome(
    server: str, tool: str, arguments: dict[str, Any], job: _Job, duration_ms: float
) -> ToolCallResult:
    """Turn a finished job into a result, or raise ToolError for a transport failure."""
    if job.timed_out:
        raise _timeout(server, tool, job.timeout_s)
    if job.unavailable is not None:
        after = (
            f"failed during '{server}.{tool}' and could not be restarted"
            if job.attempt == 2
            else "is not available"
        )
        raise ToolError(f"tool server '{server}' {after}: {job.unavailable}")
    if job.lost is not None:
        raise ToolError(
            f"tool server '{server}' failed during '{server}.{tool}', and again "
            f"when the call was retried on a new connection: {job.lost}"
        )
    base: dict[str, Any] = {
        "server": server,
        "tool": tool,
        "arguments": arguments,
        "duration_ms": duration_ms,
    }
    result = job.result
    if result is None:
        return ToolCallResult(**base, ok=False, error=job.error or "no result")
    text = "\n".join(_block_text(block) for block in result.content)
    if result.is_error:
        return ToolCallResult(
            **base,
            ok=False,
            text=text,
            error=text or "the tool reported an error without a message",
        )
    data = result.structured_content
    if data is None:
        data = _json(text)
    return ToolCallResult(**base, ok=True, text=text, data=data)


def _block_text(block: Any) -> str:
    if isinstance(block, mcp_types.TextContent):
        return block.text
    resource = getattr(block, "resource", None)
    if isinstance(resource, mcp_types.TextResourceContents):
        return resource.text
    uri = getattr(block, "uri", None) or getattr(resource, "uri", None)
    return f"[{block.type}{f' {uri}' if uri else ''}]"


def _json(text: str) -> Any | None:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _parameters(schema: dict[str, Any]) -> dict[str, Any]:
    """Return an MCP input schema as OpenAI ``parameters`` (an object schema)."""
    params = {k: v for k, v in schema.items() if k != "title"}
    params.setdefault("type", "object")
    params.setdefault("properties", {})
    return params
