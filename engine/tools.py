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

    {name: demo_db, command: [python, -m, server.demo_db], timeout_s: 30}
    {name: search, url: "http://127.0.0.1:8000/mcp"}
"""

from __future__ import annotations

import builtins
import hashlib
import json
import logging
import math
import os
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TextIO

import anyio
import mcp_types
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    computed_field,
    field_validator,
    model_validator,
)

from .errors import ToolError
from .trace import preview

if TYPE_CHECKING:
    from .node import RunContext

__all__ = ["ToolCallResult", "ToolHandle", "ToolInfo", "ToolManager", "ToolServerConfig"]

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], None]
"""``emit(type, data)``: how a call reports ``tool.*`` trace events (``RunContext.emit``)."""

_CLIENT_INFO = mcp_types.Implementation(name="cogpipe", version="0.1.0")


class ToolServerConfig(BaseModel):
    """One MCP server: how to reach it and how long to wait for it.

    Give exactly one of ``command`` (stdio: the server runs as our subprocess) or ``url``
    (streamable HTTP endpoint, e.g. ``http://127.0.0.1:8000/mcp``).

    Attributes:
        name: the server's name in qualified tool names (``name.tool``); letters,
            digits, ``_`` and ``-``.
        command: program and arguments of a stdio server.
        env: extra environment variables for a stdio server (the SDK passes only a
            safe default set such as ``PATH`` and ``HOME`` otherwise).
        cwd: working directory of a stdio server.
        url: endpoint of a streamable HTTP server.
        timeout_s: default time limit of one call, seconds.
        connect_timeout_s: time limit to start/connect and finish the MCP handshake.
        enabled: ``False`` keeps the server configured but not started.
    """

    model_config = ConfigDict(extra="forbid")

    name: str
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    connect_timeout_s: float = Field(default=30.0, gt=0)
    enabled: bool = True

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(
                f"tool server name '{name}' may contain only letters, digits, "
                "'_' and '-' (it prefixes qualified tool names as 'name.tool')"
            )
        return name

    @model_validator(mode="after")
    def _check_transport(self) -> ToolServerConfig:
        if (self.command is None) == (self.url is None):
            given = "both" if self.command is not None else "neither"
            raise ValueError(
                f"tool server '{self.name}' needs exactly one of 'command' "
                f"(stdio) or 'url' (streamable HTTP); {given} was given"
            )
        if self.command is not None and not self.command:
            raise ValueError(f"tool server '{self.name}': 'command' must not be empty")
        if self.url is not None and (self.env or self.cwd):
            raise ValueError(
                f"tool server '{self.name}': 'env' and 'cwd' apply to stdio "
                "servers ('command') only"
            )
        return self

    @property
    def transport(self) -> Literal["stdio", "http"]:
        """``"stdio"`` or ``"http"``."""
        return "stdio" if self.command is not None else "http"


class ToolInfo(BaseModel):
    """A tool as its server lists it (MCP ``tools/list``).

    Attributes:
        server: the server's configured name.
        name: the tool's name on that server.
        description: what the tool does ('' when the server gives none).
        input_schema: JSON Schema of the arguments object.
    """

    server: str
    name: str
    description: str = ""
    input_schema: dict[str, Any] = Field(default_factory=dict)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def qualified(self) -> str:
        """``"server.name"``."""
        return f"{self.server}.{self.name}"


class ToolCallResult(BaseModel):
    """The outcome of a call the server answered (MCP ``tools/call``).

    Attributes:
        server, tool: where the call went. arguments: what it was given.
        ok: ``False`` when the tool reported an error (``isError``) or the server
            rejected the call (e.g. invalid arguments); ``error`` then says why.
        text: the result's text content blocks joined with newlines.
        data: structured content when the server gives it, else the text parsed as
            JSON when it is JSON, else ``None``.
        duration_ms: wall time of the call including a reconnect, milliseconds.
    """

    server: str
    tool: str
    arguments: dict[str, Any]
    ok: bool
    text: str = ""
    data: Any | None = None
    error: str | None = None
    duration_ms: float


@dataclass(eq=False)
class _Job:
    """One call handed to a server's task, and how it ended."""

    tool: str
    arguments: dict[str, Any]
    timeout_s: float
    attempt: int = 1
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    result: mcp_types.CallToolResult | None = None
    error: str | None = None  # the server answered with a protocol error
    timed_out: bool = False
    lost: str | None = None  # the connection died during the call: retry once
    unavailable: str | None = None  # no connection could be made

    def finish(self, **outcome: Any) -> None:
        if not self.done.is_set():
            for key, value in outcome.items():
                setattr(self, key, value)
            self.done.set()


def _describe(exc: BaseException) -> str:
    """Return a one-line text of an exception, unwrapping exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    if isinstance(exc, MCPError):
        return f"{exc.error.message} (MCP error {exc.error.code})"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class _StderrTail:
    """A stdio server's stderr, read through a pipe.

    The last lines are kept for error messages and logged at DEBUG; ``eof`` is set when
    the process closes its end, which is how an idle server's exit is noticed.
    """

    def __init__(self, server: str, keep: int = 20) -> None:
        self.server = server
        self.lines: deque[str] = deque(maxlen=keep)
        self.eof: anyio.Event | None = None
        self._writer: TextIO | None = None

    @asynccontextmanager
    async def capture(self) -> AsyncIterator[TextIO]:
        """Yield the pipe's write end for the subprocess, reading the other end meanwhile."""
        self.lines.clear()
        self.eof = eof = anyio.Event()
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._writer = os.fdopen(write_fd, "w")
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._read, read_fd, eof)
                try:
                    yield self._writer
                finally:
                    self.release()
                    # Give a dying process's last words (a traceback) a moment to arrive.
                    with anyio.move_on_after(0.5, shield=True):
                        await eof.wait()
                    tg.cancel_scope.cancel()
        finally:
            self.release()
            os.close(read_fd)

    def release(self) -> None:
        """Close our copy of the write end once the subprocess holds it."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def render(self, last: int = 8) -> str:
        """Return the last stderr lines as an indented block ('' when there are none)."""
        lines = list(self.lines)[-last:]
        if not lines:
            return ""
        return f"\n  last stderr lines of '{self.server}':" + "".join(f"\n    {x}" for x in lines)

    async def _read(self, fd: int, eof: anyio.Event) -> None:
        pending = b""
        try:
            while True:
                await anyio.wait_readable(fd)
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    break
                *lines, pending = (pending + chunk).split(b"\n")
                if len(pending) > 8192:
                    lines, pending = [*lines, pending], b""
                for line in lines:
                    self._add(line)
            self._add(pending)
        finally:
            eof.set()

    def _add(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip()
        if text:
            self.lines.append(text)
            log.debug("%s stderr: %s", self.server, text)


class _Connection:
    """One configured server and the long-lived task that owns its MCP client."""

    def __init__(self, config: ToolServerConfig) -> None:
        self.config = config
        self.state = "stopped" if config.enabled else "disabled"
        self.error: str | None = None
        self.tools: list[ToolInfo] = []
        self._stderr = _StderrTail(config.name)
        self._lost: str | None = None  # why the current session died, once it has
        self._carry: list[_Job] = []  # jobs received by a dying session: for the next one
        self._orphans: list[_Job] = []  # jobs cut off by a dying session: finished as lost
        self._scope: anyio.CancelScope | None = None

    def open(self) -> None:
        """Create the job stream and the ready event (needs a running event loop)."""
        self.ready = anyio.Event()
        self._send, self._recv = anyio.create_memory_object_stream[_Job](64)

    def status(self) -> dict[str, Any]:
        """Return ``{name, transport, status, tools, error}`` for health reports."""
        return {
            "name": self.config.name,
            "transport": self.config.transport,
            "status": self.state,
            "tools": len(self.tools),
            "error": self.error,
        }

    async def submit(self, job: _Job) -> None:
        """Queue ``job`` for this server's task."""
        try:
            await self._send.send(job)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise ToolError(
                f"tool server '{self.config.name}' is stopped: the tool manager has shut down"
            ) from None

    async def run(self) -> None:
        """The server's task: connect and serve jobs; after a loss, reconnect on demand."""
        seed: list[_Job] = []
        try:
            while True:
                await self._session(seed)
                self.ready.set()
                seed, self._carry = self._carry, []
                while not seed:  # down: reconnect when a call arrives
                    seed = self._waiting([await self._recv.receive()])
        except anyio.EndOfStream:
            pass
        finally:
            self.state = "stopped"
            self.ready.set()
            self._send.close()
            with suppress(anyio.WouldBlock, anyio.EndOfStream):
                while True:
                    self._recv.receive_nowait().finish(unavailable="the tool manager stopped")
            self._recv.close()

    def _waiting(self, jobs: list[_Job]) -> list[_Job]:
        """Return ``jobs`` plus every queued job whose caller is still waiting."""
        with suppress(anyio.WouldBlock, anyio.EndOfStream):
            while True:
                jobs.append(self._recv.receive_nowait())
        for job in jobs:
            if job.scope.cancel_called:
                job.finish(error="cancelled by the caller")
        return [job for job in jobs if not job.done.is_set()]

    async def _session(self, seed: list[_Job]) -> None:
        """Connect once and serve jobs until the connection is lost; record why it ended."""
        self._lost, self.state = None, "connecting"
        error, stopped = "the tool manager stopped", True
        try:
            limit = self.config.connect_timeout_s
            with anyio.CancelScope(deadline=anyio.current_time() + limit) as scope:
                async with self._client() as client:
                    self.tools = await self._list_tools(client)
                    scope.deadline = math.inf
                    self.state, self.error = "up", None
                    self.ready.set()
                    await self._serve(client, seed)
            if scope.cancelled_caught:
                raise TimeoutError(
                    f"no answer to the MCP handshake within {limit:g} s (connect_timeout_s)"
                )
            error, stopped = self._lost or self._closed, False
        except Exception as exc:
            error, stopped = self._lost or self._explain(exc), False
        finally:
            if not stopped and self.config.command is not None:
                error += self._stderr.render()
            self.state, self.error = "down", error
            for job in self._orphans:
                job.finish(lost=error)
            self._orphans.clear()
            for job in seed:
                job.finish(unavailable=error)
        log.warning("tool server '%s' is down: %s", self.config.name, error)

    @property
    def _closed(self) -> str:
        if self.config.url is not None:
            return "the server closed the connection"
        return "the server process exited"

    def _explain(self, exc: Exception) -> str:
        text = _describe(exc)
        if self.config.url is not None:
            return f"{self.config.url}: {text}"
        leaf: BaseException = exc
        while isinstance(leaf, BaseExceptionGroup) and len(leaf.exceptions) == 1:
            leaf = leaf.exceptions[0]
        if (
            self.state == "connecting"
            and isinstance(leaf, MCPError)
            and leaf.code == mcp_types.CONNECTION_CLOSED
        ):
            return "the server process exited before completing the MCP handshake"
        return text

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Client]:
        async with AsyncExitStack() as stack:
            if self.config.command is None:
                transport = streamable_http_client(str(self.config.url))
            else:
                errlog = await stack.enter_async_context(self._stderr.capture())
                command, *args = self.config.command
                params = StdioServerParameters(
                    command=command, args=args, env=self.config.env or None, cwd=self.config.cwd
                )
                transport = stdio_client(params, errlog=errlog)
            client = Client(transport, cache=None, client_info=_CLIENT_INFO)
            yield await stack.enter_async_context(client)

    async def _list_tools(self, client: Client) -> list[ToolInfo]:
        self._stderr.release()  # the process is running: EOF on stderr now means it exited
        tools: list[ToolInfo] = []
        cursor: str | None = None
        for _ in range(100):  # a server that paginates forever cannot hang the connect
            page = await client.list_tools(cursor=cursor)
            tools += [
                ToolInfo(
                    server=self.config.name,
                    name=t.name,
                    description=t.description or "",
                    input_schema=t.input_schema,
                )
                for t in page.tools
            ]
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    async def _serve(self, client: Client, seed: list[_Job]) -> None:
        async with anyio.create_task_group() as tg:
            self._scope = tg.cancel_scope
            if self.config.command is not None:
                tg.start_soon(self._watch_exit, client)
            for job in seed:
                tg.start_soon(self._run_job, client, job)
            async for job in self._recv:
                if self._lost is not None:  # the session died after this job was queued
                    self._carry.append(job)
                    break
                tg.start_soon(self._run_job, client, job)
            tg.cancel_scope.cancel()

    def _lose(self, reason: str) -> None:
        """End the session: the connection is unusable."""
        if self._lost is None:
            self._lost = reason
        if self._scope is not None:
            self._scope.cancel()

    async def _watch_exit(self, client: Client) -> None:
        """Notice a stdio server that exits while idle: its stderr closes."""
        assert self._stderr.eof is not None
        await self._stderr.eof.wait()
        with anyio.move_on_after(5), suppress(Exception):
            await client.list_tools()
            return  # still answering: it only closed its stderr
        self._lose(self._closed)

    async def _run_job(self, client: Client, job: _Job) -> None:
        outcome: dict[str, Any] | None = None
        try:
            with job.scope:
                outcome = {
                    "result": await client.call_tool(
                        job.tool, job.arguments, read_timeout_seconds=job.timeout_s
                    )
                }
        except MCPError as exc:
            if exc.code == mcp_types.CONNECTION_CLOSED:
                self._lose(self._closed)
            elif exc.code == mcp_types.REQUEST_TIMEOUT:
                outcome = {"timed_out": True}
            else:
                outcome = {"error": f"the server rejected the call: {_describe(exc)}"}
        except (RuntimeError, ValidationError) as exc:
            outcome = {"error": f"the server's answer is invalid: {exc}"}
        except Exception as exc:
            self._lose(f"the connection failed during a call: {_describe(exc)}")
        finally:
            if outcome is not None:
                job.finish(**outcome)
            elif job.scope.cancel_called:
                job.finish(error="cancelled by the caller")
            else:
                self._orphans.append(job)


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

    def bind(self, ctx: RunContext) -> ToolHandle:
        """Return the handle a node run uses as ``ctx.tools`` (the engine's ``Service``)."""
        return ToolHandle(self, ctx.emit)

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


class ToolHandle:
    """``ctx.tools`` inside one node run: tool calls traced as that node's events.

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
