"""The per-server connection task and the jobs handed to it.

Each server has one long-lived task (:meth:`_Connection.run`) that owns its MCP client,
because the SDK's transport and session contexts must be entered and exited in the same
task. Callers hand calls to that task as :class:`_Job` objects through a memory object
stream; the task runs each job as a child task, so calls from different tasks run
concurrently. A session that dies is recorded as down and reconnected when the next job
arrives; jobs it cut off are finished as lost, for the caller to retry once.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

import anyio
import mcp_types
from mcp import Client, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from opentelemetry.context import Context, attach, detach
from pydantic import ValidationError

from ..errors import ToolError
from .config import ToolAnnotations, ToolInfo, ToolServerConfig
from .stderr import _StderrTail

# One logger for the whole package, named as before it was split into modules.
log = logging.getLogger("cogpipe.engine.tools")

_CLIENT_INFO = mcp_types.Implementation(name="cogpipe", version="0.1.0")


@dataclass(eq=False)
class _Job:
    """One call handed to a server's task, and how it ended."""

    tool: str
    arguments: dict[str, Any]
    timeout_s: float
    attempt: int = 1
    probe: bool = False  # only connect (and list the tools); call nothing
    done: anyio.Event = field(default_factory=anyio.Event)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    result: mcp_types.CallToolResult | None = None
    error: str | None = None  # the server answered with a protocol error
    timed_out: bool = False
    lost: str | None = None  # the connection died during the call: retry once
    unavailable: str | None = None  # no connection could be made
    # the caller's tool span, made current around the MCP request so the SDK's client
    # span nests under it (this job runs in the connection's task, not the caller's)
    trace_context: Context | None = None

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


class _Connection:
    """One configured server and the long-lived task that owns its MCP client."""

    def __init__(self, config: ToolServerConfig) -> None:
        self.config = config
        self.state = "stopped" if config.enabled else "disabled"
        self.error: str | None = None
        self.tools: list[ToolInfo] = []  # offered: what the config lets callers see
        self.hidden: list[tuple[ToolInfo, str]] = []  # and why each other tool is not
        self.listed = False  # tools/list has answered at least once
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
        """Return ``{name, transport, status, tools, error, offered, hidden}`` for health
        reports (see ``ToolManager.status``)."""
        return {
            "name": self.config.name,
            "transport": self.config.transport,
            "status": self.state,
            "tools": len(self.tools),
            "error": self.error,
            "offered": [{"name": t.name, "title": t.title, "hints": t.hints} for t in self.tools],
            "hidden": [{"name": t.name, "reason": reason} for t, reason in self.hidden],
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
                    await self._list_tools(client)
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
                # The SDK's own client factory (its default timeouts) with our headers.
                http = create_mcp_http_client(headers=self.config.headers or None)
                await stack.enter_async_context(http)
                transport = streamable_http_client(str(self.config.url), http_client=http)
            else:
                errlog = await stack.enter_async_context(self._stderr.capture())
                command, *args = self.config.command
                params = StdioServerParameters(
                    command=command, args=args, env=self.config.env or None, cwd=self.config.cwd
                )
                transport = stdio_client(params, errlog=errlog)
            client = Client(transport, cache=None, client_info=_CLIENT_INFO)
            yield await stack.enter_async_context(client)

    async def _list_tools(self, client: Client) -> None:
        """List the tools; keep the offered ones in ``tools``, the others in ``hidden``."""
        self._stderr.release()  # the process is running: EOF on stderr now means it exited
        tools: list[ToolInfo] = []
        cursor: str | None = None
        for _ in range(100):  # a server that paginates forever cannot hang the connect
            page = await client.list_tools(cursor=cursor)
            tools += [self._info(t) for t in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
        verdicts = [(t, self.config.hidden_reason(t)) for t in tools]
        self.tools = [t for t, reason in verdicts if reason is None]
        self.hidden = [(t, reason) for t, reason in verdicts if reason is not None]
        self.listed = True
        self._warn_unmatched(tools)

    def _info(self, tool: mcp_types.Tool) -> ToolInfo:
        hints = tool.annotations.model_dump() if tool.annotations is not None else {}
        return ToolInfo(
            server=self.config.name,
            name=tool.name,
            title=tool.title or hints.get("title"),
            description=tool.description or "",
            input_schema=tool.input_schema,
            annotations=ToolAnnotations.model_validate(hints),
        )

    def _warn_unmatched(self, tools: list[ToolInfo]) -> None:
        """Log include/exclude patterns that match no tool: most likely a typo."""
        for key in ("include", "exclude"):
            for pattern in getattr(self.config, key) or []:
                if not any(fnmatchcase(t.name, pattern) for t in tools):
                    log.warning(
                        "tool server '%s': pattern '%s' in '%s' matches none of its tools (%s)",
                        self.config.name,
                        pattern,
                        key,
                        ", ".join(t.name for t in tools) or "none",
                    )

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
        if job.probe:  # connected and listed: that was all it asked for
            job.finish()
            return
        outcome: dict[str, Any] | None = None
        try:
            token = None if job.trace_context is None else attach(job.trace_context)
            try:
                with job.scope:
                    outcome = {
                        "result": await client.call_tool(
                            job.tool, job.arguments, read_timeout_seconds=job.timeout_s
                        )
                    }
            finally:
                if token is not None:
                    detach(token)
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
