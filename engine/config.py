"""Settings from the environment (and an optional YAML file), and the runtime they build.

Every knob has a default that works on a fresh clone: graphs from ``graphs/``, traces
to ``trace/``, sessions in ``var/sessions.db``, the offline model, and the demo SQLite
tool server. Environment variables override the file; the file overrides defaults.

| variable | meaning | default |
| --- | --- | --- |
| ``COGPIPE_CONFIG`` | a YAML file with the keys of :class:`Settings` | none |
| ``COGPIPE_GRAPHS_DIR`` | folder of graph YAML files | ``<project>/graphs`` |
| ``COGPIPE_DEFAULT_GRAPH`` | graph new sessions run | ``v2-director-drives`` if present |
| ``COGPIPE_TRACE_DIR`` | JSONL trace folder | ``<project>/trace`` |
| ``COGPIPE_TRACE_MAX_MB`` | size of one trace file before rotation | ``10`` |
| ``COGPIPE_SESSION_DB`` | sessions SQLite file (``memory``: RAM only) | ``var/sessions.db`` |
| ``COGPIPE_DEMO_DB`` | the demo tool server's SQLite file | ``<project>/var/demo.db`` |
| ``COGPIPE_TOOLS`` | ``none`` disables the default demo tool server | enabled |

LLM variables (``COGPIPE_LLM_BASE_URL`` ...) are read by :class:`engine.llm.LLMConfig`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from .catalog import GraphCatalog
from .llm import LLMClient, LLMConfig
from .runtime import Runtime
from .session import MemorySessionStore
from .sinks import JsonlSink
from .store import SqliteSessionStore
from .tools import ToolManager, ToolServerConfig
from .trace import Observer

__all__ = ["PROJECT_DIR", "Settings", "open_runtime", "tune_gc"]

PROJECT_DIR = Path(__file__).resolve().parents[1]
PREFERRED_DEFAULT = "v2-director-drives"


def _demo_db_server(db_path: Path) -> ToolServerConfig:
    # imported here: cogpipe.demo.server is a separate program the runtime only launches
    from cogpipe.demo.server import demo_db_server_config

    return demo_db_server_config(str(db_path))


def _llm_settings(from_file: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """The file's ``llm:`` section with every LLM variable that is set in ``env`` on top."""
    from_env = LLMConfig.from_env(env)
    merged = {**LLMConfig.model_validate(from_file).model_dump(), **from_file}
    for field, names in (
        ("base_url", ("COGPIPE_LLM_BASE_URL", "OPENAI_BASE_URL")),
        ("api_key", ("COGPIPE_LLM_API_KEY", "OPENAI_API_KEY")),
        ("timeout_s", ("COGPIPE_LLM_TIMEOUT_S",)),
        ("max_retries", ("COGPIPE_LLM_MAX_RETRIES",)),
    ):
        if any(env.get(n, "").strip() for n in names):
            merged[field] = getattr(from_env, field)
    for alias, model in from_env.models.items():
        if env.get(f"COGPIPE_MODEL_{alias.upper()}", "").strip():
            merged["models"] = {**merged["models"], alias: model}
    return merged


class Settings(BaseModel):
    """Everything the runtime needs to start. Build it with :meth:`load`."""

    graphs_dir: Path = PROJECT_DIR / "graphs"
    default_graph: str | None = None
    trace_dir: Path = PROJECT_DIR / "trace"
    trace_max_bytes: int = Field(10_000_000, gt=0)
    trace_backups: int = Field(4, ge=0)
    session_db: Path | None = PROJECT_DIR / "var" / "sessions.db"
    demo_db: Path = PROJECT_DIR / "var" / "demo.db"
    tool_servers: list[ToolServerConfig] | None = Field(
        None, description="MCP servers; None means the demo SQLite server"
    )
    llm: LLMConfig = Field(default_factory=LLMConfig)
    ring_size: int = Field(2000, gt=0, description="trace events kept per session")
    max_history: int = Field(100, gt=0, description="turns kept per session")

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read ``COGPIPE_CONFIG`` (if set) and the environment.

        Raises:
            OSError: the config file cannot be read.
            pydantic.ValidationError: a value is invalid (the message names the key).
        """
        env = os.environ if env is None else env
        data: dict[str, Any] = {}
        if env.get("COGPIPE_CONFIG"):
            data = yaml.safe_load(Path(env["COGPIPE_CONFIG"]).read_text(encoding="utf-8")) or {}
        for key, var in (
            ("graphs_dir", "COGPIPE_GRAPHS_DIR"),
            ("default_graph", "COGPIPE_DEFAULT_GRAPH"),
            ("trace_dir", "COGPIPE_TRACE_DIR"),
            ("demo_db", "COGPIPE_DEMO_DB"),
        ):
            if env.get(var):
                data[key] = env[var]
        if env.get("COGPIPE_TRACE_MAX_MB"):
            data["trace_max_bytes"] = int(float(env["COGPIPE_TRACE_MAX_MB"]) * 1_000_000)
        if env.get("COGPIPE_SESSION_DB"):
            db = env["COGPIPE_SESSION_DB"]
            data["session_db"] = None if db == "memory" else db
        if env.get("COGPIPE_TOOLS", "").lower() == "none":
            data["tool_servers"] = []
        data["llm"] = _llm_settings(data.get("llm") or {}, env)
        return cls.model_validate(data)

    def servers(self) -> list[ToolServerConfig]:
        """Return the configured MCP servers (the demo SQLite server by default)."""
        if self.tool_servers is None:
            return [_demo_db_server(self.demo_db)]
        return self.tool_servers

    def catalog(self) -> GraphCatalog:
        """Return the graph catalog of ``graphs_dir`` with the configured default."""
        catalog = GraphCatalog(self.graphs_dir)
        default = self.default_graph
        if default is None and PREFERRED_DEFAULT in catalog.names():
            default = PREFERRED_DEFAULT
        if default is not None:
            catalog.set_default(default)
        return catalog


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, observers: Iterable[Observer] = (), tools: bool = True
) -> AsyncIterator[Runtime]:
    """Start everything a runtime needs, yield it, and shut it all down afterwards.

    Opens the LLM client (offline model unless configured), starts the MCP tool servers
    (unless ``tools=False``), opens the session store and the JSONL trace sink.

    Raises:
        UnknownGraphError, GraphValidationError: the default graph cannot be used.
    """
    async with AsyncExitStack() as stack:
        catalog = settings.catalog()
        llm = await stack.enter_async_context(LLMClient(settings.llm))
        manager = None
        if tools:
            manager = await stack.enter_async_context(ToolManager(settings.servers()))
        if settings.session_db is None:
            store: Any = MemorySessionStore()
        else:
            store = SqliteSessionStore(settings.session_db)
            stack.callback(store.close)
        sink = JsonlSink(
            settings.trace_dir, max_bytes=settings.trace_max_bytes, backups=settings.trace_backups
        )
        runtime = Runtime(
            catalog,
            store=store,
            observers=[sink, *observers],
            llm=llm,
            tools=manager,
            ring_size=settings.ring_size,
            max_history=settings.max_history,
        )
        yield await stack.enter_async_context(runtime)


def tune_gc(threshold0: int = 50_000) -> None:
    """Make CPython's cyclic garbage collector cheap for a long-running server.

    Freezes everything allocated so far (modules, schemas, graphs) out of future
    collections and collects young objects every ``threshold0`` allocations instead of
    700. Measured with ``bench/engine_overhead.py``: with default thresholds, runs/s at
    1000 concurrent runs fall by half as the trace ring fills, because each full
    collection walks every retained event. ``cogpipe serve`` calls this at start-up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold0, 20, 100)
