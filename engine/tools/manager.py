"""The tool manager and the per-run tool handle.

:class:`ToolManager` starts one connection task per enabled server, resolves tool names
(bare, ``server.tool`` or OpenAI function names; :mod:`.names`), refuses hidden tools and
arguments that do not fit the tool's input schema (:mod:`.arguments`) before anything
reaches a server, runs calls within their time limit with one retry after a lost
connection, turns finished jobs into :class:`ToolCallResult` objects, and emits ``tool.*``
trace events; :class:`MCPToolHandle` is ``ctx.tools`` inside one node run.
"""

from __future__ import annotations

import builtins
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types

from ..errors import ToolArgumentsError, ToolError
from ..pauses import ResumeError
from ..trace import DETAIL_CHARS, preview
from .arguments import validate_arguments
from .config import ToolCallResult, ToolInfo, ToolServerConfig
from .connection import _Connection, _Job
from .listing import openai_tools
from .names import call_names, find_tool, match_tools

if TYPE_CHECKING:
    from ..node import RunContext

# One logger for the whole package, named as before it was split into modules.
log = logging.getLogger("cogpipe.engine.tools")

Emit = Callable[[str, dict[str, Any]], None]
"""``emit(type, data)``: how a call reports ``tool.*`` trace events (``RunContext.emit``)."""
Approve = Callable[..., Awaitable[dict[str, Any] | None]]
"""``RunContext.approve``: a run's approval hook for tool calls (:mod:`..pauses`)."""


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
        """Return one dict per server, in config order.

        Keys: ``name``; ``transport`` (``stdio`` or ``http``); ``status`` (``up``,
        ``down``, ``connecting``, ``stopped`` or ``disabled``); ``tools`` (how many tools
        are offered); ``error`` (why it is down, else ``None``); ``offered`` (``[{name,
        title, hints}]``, hints as in :attr:`ToolInfo.hints`); ``hidden`` (``[{name,
        reason}]``: the tools its config hides and the rule that hides each).
        """
        return [conn.status() for conn in self._conns.values()]

    async def list_tools(self) -> list[ToolInfo]:
        """Return the offered tools of every enabled server, as last listed.

        Tools the config hides (``include``/``exclude``, destructive tools without
        ``allow_destructive``) are not in it. A server that crashed keeps its tools
        here: calling one reconnects it.
        """
        return self._tools()

    def find(self, name: str) -> ToolInfo | None:
        """Return the offered tool ``name`` means (bare, ``server.tool`` or an OpenAI
        name from :meth:`openai_tools`), or ``None`` when it is unknown, ambiguous or
        hidden. Calls nothing."""
        return find_tool(name, self._tools())

    def openai_tools(self) -> list[dict[str, Any]]:
        """Return the offered tools as OpenAI chat-completions function tools
        (:func:`~cogpipe.engine.tools.listing.openai_tools`); :meth:`call` accepts
        their names."""
        return openai_tools(self._tools())

    def bind(self, ctx: RunContext) -> MCPToolHandle:
        """Return the handle a node run uses as ``ctx.tools`` (the engine's ``Service``)."""
        return MCPToolHandle(self, ctx.emit, ctx.approve)

    async def call(
        self,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
        emit: Emit | None = None,
        approve: Approve | None = None,
    ) -> ToolCallResult:
        """Call a tool and wait for its result.

        Before anything is sent, the name must resolve to an offered tool and the
        arguments must fit its input schema; a server that has never listed its tools
        is connected first, so this holds for it too.

        Args:
            name: a tool name, ``server.tool`` (needed when servers share a tool
                name), or a name from :meth:`openai_tools`.
            arguments: the tool's arguments (a JSON object).
            timeout_s: time limit in seconds for the call, reconnect included;
                default the server's ``timeout_s``. Connecting a server that has never
                connected is limited by its ``connect_timeout_s`` instead.
            emit: receives ``tool.started``, then ``tool.finished`` or ``tool.failed``;
                only ``tool.failed`` when the call is refused before it starts.
            approve: the run's approval hook (``RunContext.approve``): awaited once the
                call is admitted; it may pause the run, replace the arguments or
                reject the call.

        Returns:
            The result; ``ok`` is ``False`` when the tool reported an error (MCP
            ``isError``) or the server rejected the call (a JSON-RPC error), with the
            reason in ``error``.

        Raises:
            ToolArgumentsError: the arguments do not fit the tool's input schema.
            ToolError: unknown, ambiguous or hidden name (the message lists the choices
                or names the rule), server not available, timeout, or the server
                failed during the call and again after one reconnect and retry;
                ``kind`` says which. ``rejected``: the call was rejected at its
                approval pause.
        """
        arguments = dict(arguments or {})
        call_id = uuid.uuid4().hex[:12]  # ties the call's events together
        try:
            tool = await self._admit(name, arguments)
        except ToolError as exc:
            server = exc.tool.partition(".")[0] if isinstance(exc, ToolArgumentsError) else None
            refused = {"error": exc.message, "error_kind": exc.kind, "duration_ms": 0.0}
            _send(emit, "tool.failed", server=server, tool=name, call_id=call_id, **refused)
            raise
        if approve is not None:
            approved = await approve(
                tool.qualified,
                [tool.qualified, tool.name],
                tool.destructive,
                arguments,
                partial(_replacement_arguments, tool),
            )
            if approved is None:
                error = ToolError(
                    f"the call of tool '{tool.qualified}' was rejected at its approval pause",
                    kind="rejected",
                )
                refused = {"error": error.message, "error_kind": error.kind, "duration_ms": 0.0}
                _send(
                    emit,
                    "tool.failed",
                    server=tool.server,
                    tool=tool.name,
                    call_id=call_id,
                    **refused,
                )
                raise error
            arguments = approved
        conn = self._conns[tool.server]
        limit = conn.config.timeout_s if timeout_s is None else timeout_s
        return await self._traced(conn, tool, arguments, limit, emit, call_id)

    async def _admit(self, name: str, arguments: dict[str, Any]) -> ToolInfo:
        """Return the tool to call, or raise why the call may not start."""
        if self._tg is None:
            raise ToolError("the tool manager is not running: use 'async with ToolManager(...)'")
        server, _, bare = name.partition(".")
        conn = self._conns.get(server)
        if bare and conn is not None and conn.config.enabled and not conn.listed:
            await self._connect(conn)  # its tools are unknown until it has listed them
        tool = self._resolve(name)
        problems = validate_arguments(tool, arguments)
        if problems:
            raise ToolArgumentsError(name, tool.qualified, problems)
        return tool

    async def _connect(self, conn: _Connection) -> None:
        """Have a server that never connected connect and list its tools."""
        job = _Job("", {}, conn.config.connect_timeout_s, probe=True)
        await conn.submit(job)
        await job.done.wait()  # the connection's handshake limit bounds this
        if job.unavailable is not None:
            raise ToolError(f"tool server '{conn.config.name}' is not available: {job.unavailable}")

    async def _traced(
        self,
        conn: _Connection,
        info: ToolInfo,
        arguments: dict[str, Any],
        limit: float,
        emit: Emit | None,
        call_id: str,
    ) -> ToolCallResult:
        """Run the call within ``limit`` seconds, between ``tool.*`` trace events."""
        server, tool = info.server, info.name
        args = preview(arguments, DETAIL_CHARS)
        _send(
            emit,
            "tool.started",
            server=server,
            tool=tool,
            arguments=args,
            hints=info.hints,
            call_id=call_id,
        )
        started = time.perf_counter()
        try:
            with anyio.fail_after(limit):
                job = await self._attempt(conn, tool, arguments, limit)
            result = _outcome(server, tool, arguments, job, _ms(started))
        except (ToolError, TimeoutError) as exc:
            error = exc if isinstance(exc, ToolError) else _timeout(server, tool, limit)
            failed = {"error": error.message, "error_kind": error.kind, "duration_ms": _ms(started)}
            _send(emit, "tool.failed", server=server, tool=tool, call_id=call_id, **failed)
            raise error from None
        shown = preview(result.data if result.data is not None else result.text, DETAIL_CHARS)
        extra = {} if result.ok else {"error": result.error}
        finished = {"ok": result.ok, "result": shown, "duration_ms": result.duration_ms, **extra}
        _send(emit, "tool.finished", server=server, tool=tool, call_id=call_id, **finished)
        return result

    async def _attempt(
        self, conn: _Connection, tool: str, arguments: dict[str, Any], timeout_s: float
    ) -> _Job:
        """Run the call; once more on a new connection if the server died during it."""
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

    def _resolve(self, name: str) -> ToolInfo:
        """Return the offered tool ``name`` means, or raise why there is none."""
        tools = self._tools()
        found = match_tools(name, tools)
        if len(found) == 1:
            return found[0]
        if found:
            raise ToolError(
                f"tool name '{name}' is ambiguous: servers "
                f"{', '.join(t.server for t in found)} all have it; call one of "
                f"{', '.join(t.qualified for t in found)}",
                kind="ambiguous",
            )
        hidden = [(t, why) for c in self._conns.values() for t, why in c.hidden]
        reasons = {t.qualified: why for t, why in hidden}
        matched = match_tools(name, [t for t, _ in hidden])
        if matched:
            why = [f"tool '{t.qualified}' is hidden: {reasons[t.qualified]}" for t in matched]
            raise ToolError("; ".join(why), kind="hidden")
        server = self._conns.get(name.partition(".")[0])
        if server is not None and not server.config.enabled:
            raise ToolError(
                f"tool server '{server.config.name}' is disabled ('enabled: false' in the "
                f"config); enable it to call '{name}'"
            )
        raise ToolError(self._unknown(name, tools), kind="unknown")

    def _unknown(self, name: str, tools: list[ToolInfo]) -> str:
        names = sorted(call_names(tools))
        text = f"unknown tool '{name}'. Available tools: {', '.join(names) or '(none)'}"
        down = [c for c in self._conns.values() if c.config.enabled and c.state != "up"]
        if down:
            text += "\nServers not up: " + "; ".join(
                f"{c.config.name} ({(c.error or c.state).splitlines()[0]})" for c in down
            )
        return text


class MCPToolHandle:
    """``ctx.tools`` over MCP (the :class:`~cogpipe.engine.handles.ToolHandle` protocol):
    tool calls traced as that node's events.

    Emits ``tool.started`` {server, tool, call_id, arguments (preview), hints}, then
    ``tool.finished`` {server, tool, call_id, ok, result (preview), duration_ms[, error]}
    or ``tool.failed`` {server, tool, call_id, error, error_kind, duration_ms}; previews
    are :data:`~cogpipe.engine.trace.DETAIL_CHARS` long at most. A call refused before
    it starts (unknown, ambiguous or hidden name, invalid arguments, server not
    available) emits only ``tool.failed``, with ``tool`` the name as called and
    ``server`` ``None`` unless the tool was found.
    """

    def __init__(self, manager: ToolManager, emit: Emit, approve: Approve | None = None) -> None:
        self._manager = manager
        self._emit = emit
        self._approve = approve

    async def list(self) -> builtins.list[ToolInfo]:
        """Return every available tool (see :meth:`ToolManager.list_tools`)."""
        return await self._manager.list_tools()

    def find(self, name: str) -> ToolInfo | None:
        """Return the tool a name means, or ``None`` (see :meth:`ToolManager.find`)."""
        return self._manager.find(name)

    async def call(
        self, name: str, arguments: dict[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> ToolCallResult:
        """Call a tool, traced (see :meth:`ToolManager.call` for names and errors)."""
        return await self._manager.call(
            name, arguments, timeout_s=timeout_s, emit=self._emit, approve=self._approve
        )

    def openai_tools(self) -> builtins.list[dict[str, Any]]:
        """Return the tools as OpenAI function tools (see :meth:`ToolManager.openai_tools`)."""
        return self._manager.openai_tools()


def _replacement_arguments(tool: ToolInfo, arguments: Any) -> dict[str, Any]:
    """Check arguments given when a paused tool call is resumed.

    Raises:
        ResumeError: not an object, or not valid for the tool's input schema.
    """
    if not isinstance(arguments, dict):
        raise ResumeError(f"arguments of tool '{tool.qualified}' must be a JSON object")
    problems = validate_arguments(tool, arguments)
    if problems:
        raise ResumeError(f"arguments do not fit tool '{tool.qualified}'", problems)
    return arguments


def _send(emit: Emit | None, type: str, **data: Any) -> None:
    if emit is not None:
        emit(type, data)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _timeout(server: str, tool: str, limit: float) -> ToolError:
    return ToolError(
        f"tool '{server}.{tool}' did not finish within {limit:g} s and was "
        f"cancelled; pass a larger timeout_s, or raise timeout_s of tool server "
        f"'{server}' in the config",
        kind="timeout",
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
            f"when the call was retried on a new connection: {job.lost}",
            kind="lost",
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
