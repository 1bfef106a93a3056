"""The composition root: settings in, a running :class:`~cogpipe.engine.Runtime` out.

This is the one place that chooses cogpipe's default services, so that ``engine/``
stays free of the application above it: the LLM client (the offline model unless an
endpoint is configured), the MCP tool servers (the demo database server unless others
are configured; when the demo server is among them, the offline model also learns the
demo's rules, ``cogpipe.demo.offline``), the session store (SQLite, memory, or Redis
with ``redis_url``), the JSONL trace sink, the graph catalog and its default graph, the
operator's node modules, and the hook-event forwarder when ``hooks_url`` is set. The
CLI, the server and embedding code all start a runtime through :func:`open_runtime`::

    async with open_runtime(Settings.load()) as runtime:
        session = runtime.create_session()
        result = await runtime.run(session.id, "message", "hello")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING

from cogpipe.engine import (
    EventLog,
    GraphCatalog,
    JsonlSink,
    MemorySessionStore,
    Observer,
    Runtime,
    SessionStore,
    import_node_modules,
)
from cogpipe.engine.store import SqliteEventLog, SqliteSessionStore
from cogpipe.engine.tools import ToolServerConfig

from .forward import HookForwarder
from .settings import Settings

if TYPE_CHECKING:
    from .redis_mode import RedisMode

__all__ = ["PREFERRED_DEFAULT", "catalog", "open_runtime", "tool_servers"]

PREFERRED_DEFAULT = "v2-director-drives"
"""The default graph when the settings name none and the catalog has it."""


def tool_servers(settings: Settings) -> list[ToolServerConfig]:
    """Return the MCP servers to start: the configured ones, or the demo database
    server over ``settings.demo_db`` when none are configured."""
    if settings.tool_servers is not None:
        return settings.tool_servers
    from cogpipe.demo.server import demo_db_server_config

    return [demo_db_server_config(str(settings.demo_db))]


def catalog(settings: Settings) -> GraphCatalog:
    """Import the node modules, then return the catalog of ``settings.graphs_dir`` with
    its default graph (``default_graph``, else ``v2-director-drives`` when present, else
    the first valid graph by name).

    Raises:
        NodeModuleError: a node module cannot be imported.
        UnknownGraphError, GraphValidationError: ``default_graph`` cannot be used.
    """
    import_node_modules(settings.node_modules)
    graphs = GraphCatalog(settings.graphs_dir)
    default = settings.default_graph
    if default is None and PREFERRED_DEFAULT in graphs.names():
        default = PREFERRED_DEFAULT
    if default is not None:
        graphs.set_default(default)
    return graphs


def _demo_rules(servers: list[ToolServerConfig]) -> None:
    """Teach the offline planner the demo database's rules when the demo server runs
    (they stay silent unless its tools are listed, whatever else is connected)."""
    from cogpipe.demo.server import is_demo_server

    if any(is_demo_server(s) for s in servers):
        from cogpipe.demo import offline

        offline.register()


def _store(settings: Settings, stack: AsyncExitStack) -> tuple[SessionStore, EventLog | None]:
    """Return the session store and, for a database file, its event log."""
    if settings.session_db == "memory":
        return MemorySessionStore(), None
    timeout_s = settings.session_db_timeout_s
    store = SqliteSessionStore(settings.session_db, timeout_s)
    stack.callback(store.close)
    return store, SqliteEventLog(settings.session_db, settings.ring_size, timeout_s=timeout_s)


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None,
    *,
    observers: Iterable[Observer] = (),
    tools: bool = True,
    redis: RedisMode | None = None,
) -> AsyncIterator[Runtime]:
    """Start everything a runtime needs, yield it, and shut it all down afterwards.

    Args:
        settings: what to start (default: :meth:`Settings.load`).
        observers: trace observers besides the JSONL sink and the runtime's ring.
        tools: ``False`` starts no MCP tool server (nodes then see no tools).
        redis: Redis mode's connections when the caller opened them (the server does,
            to read streams and leases itself); with ``settings.redis_url`` set and none
            given, they are opened here. Its store, event streams and turn leases then
            replace SQLite's store and event log.

    Raises:
        NodeModuleError: a node module cannot be imported.
        UnknownGraphError, GraphValidationError: the default graph cannot be used.
        OSError: the trace folder or the session database cannot be created.
        RedisUnavailableError: ``redis_url`` is set and Redis does not answer there.
    """
    # the clients import the openai and mcp SDKs: only a runtime needs them
    from cogpipe.engine.llm import LLMClient
    from cogpipe.engine.tools import ToolManager

    settings = settings or Settings.load()
    async with AsyncExitStack() as stack:
        graphs = catalog(settings)
        llm = await stack.enter_async_context(LLMClient(settings.llm))
        manager = None
        if tools:
            servers = tool_servers(settings)
            _demo_rules(servers)
            manager = await stack.enter_async_context(ToolManager(servers))
        if settings.hooks_url is not None:
            forwarder = HookForwarder(str(settings.hooks_url), settings.hooks_source_app)
            observers = [*observers, await stack.enter_async_context(forwarder)]
        sink = JsonlSink(
            settings.trace_dir,
            max_bytes=settings.trace_max_bytes,
            backups=settings.trace_backups,
        )
        if redis is None and settings.redis_url:
            from .redis_mode import open_redis

            redis = await stack.enter_async_context(open_redis(settings))
        if redis is not None:
            store, event_log = redis.store, redis.events
        else:
            store, event_log = _store(settings, stack)
        runtime = Runtime(
            graphs,
            store=store,
            observers=[sink, *observers],
            llm=llm,
            tools=manager,
            ring_size=settings.ring_size,
            max_history=settings.max_history,
            ledger=settings.ledger,
            event_log=event_log,
            max_events=settings.max_events,
            max_sessions=settings.max_sessions,
            idle_s=settings.session_idle_min * 60,
            lease=redis.coordinator.hold if redis is not None else None,
            pause_timeout_s=settings.pause_timeout_s,
            approve_destructive_tools=settings.approve_destructive_tools,
        )
        yield await stack.enter_async_context(runtime)
