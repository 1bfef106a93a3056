"""The FastAPI app: REST API, event streams, the HUD's static files, and ``cogpipe serve``.

The app's lifespan opens the runtime with :func:`cogpipe.assembly.open_runtime` (LLM
client, MCP tool servers, session store, JSONL trace sink) and a task group that owns
every run started through the API; both close when the server stops.
"""

from __future__ import annotations

import contextlib
import ipaddress
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import uvicorn
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

import cogpipe.frontend
from cogpipe.assembly import catalog, open_runtime
from cogpipe.engine import GraphCatalog, tune_gc
from cogpipe.settings import Settings, SettingsError
from cogpipe.telemetry import exporting, instrument_app

from . import api, hooks, metrics, streams
from .accesslog import redact_access_log
from .errors import install_error_handlers
from .metrics import Metrics
from .middleware import (
    LOOPBACK_HOSTS,
    BodyLimitMiddleware,
    HostMiddleware,
    OriginMiddleware,
    TokenMiddleware,
)
from .openapi import finish_openapi
from .quota import SessionQuota
from .reload import watch_graphs
from .responses import SafeJSONResponse
from .runs import RunRegistry
from .streams import EventStreams, StreamOptions, StreamSubscription
from .tickets import StreamTickets

if TYPE_CHECKING:  # Redis mode's modules (and redis-py) load only in Redis mode
    from cogpipe.redis_mode import RedisMode

__all__ = ["create_app", "serve"]

MAX_BODY = 128 * 1024
"""Request bodies are limited to 128 KiB: a message of 8,000 characters, each sent as
JSON escapes of a surrogate pair (12 bytes), still fits."""
_FROM_SETTINGS = object()
FRONTEND_DIR = Path(cogpipe.frontend.__file__).resolve().parent
"""The HUD's folder (package data)."""

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cogpipe: HUD not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>cogpipe is running, but the HUD is not built</h1>
<p>The server found no <code>{index}</code>.</p>
<p>In a checkout, build it with <code>make run</code> (installs the HUD's npm packages
into <code>frontend/vendor</code> and starts the server), or
<code>cd frontend && npm ci && node vendor.mjs</code>, then reload this page. An
installed cogpipe carries its HUD: reinstall it if this page shows there.</p>
<p>The API works meanwhile: see <a href="/docs">/docs</a> and
<a href="/api/health">/api/health</a>.</p>
</body></html>
"""


def create_app(
    settings: Settings | None = None,
    *,
    token: str | object | None = _FROM_SETTINGS,
    streams_options: StreamOptions | None = None,
    frontend_dir: Path | None = None,
    max_body: int = MAX_BODY,
) -> FastAPI:
    """Build the app; the runtime starts when the app's lifespan starts.

    Args:
        settings: where graphs, traces and sessions live (default: :meth:`Settings.load`).
        token: the token every ``/api`` request needs; default: ``settings.token``
            (``COGPIPE_TOKEN``; none when unset); ``None`` turns the check off.
        streams_options: event stream tuning (ping interval, per-client buffer ...).
        frontend_dir: the HUD's folder (default: the one installed with cogpipe).
        max_body: the largest request body accepted, bytes (larger: 413).

    Returns:
        The app; ``app.state`` holds ``settings`` and, while it runs, ``runtime``,
        ``runs`` (:class:`RunRegistry`), ``metrics`` (:class:`Metrics`), ``streams``
        (:class:`EventStreams`) and ``cluster`` (:class:`Cluster` in Redis mode, else
        ``None``); ``hooks`` (:class:`~cogpipe.server.hooks.HookStore`) holds other
        agents' events.
    """
    settings = settings or Settings.load()
    if token is _FROM_SETTINGS:
        token = settings.token.get_secret_value() if settings.token else None
    app = FastAPI(
        title="cogpipe",
        version=api.server_version(),
        description="Run cognitive LLM pipelines written as YAML graphs and watch them "
        "live. Contract: docs/api.md.",
        lifespan=_lifespan(settings, streams_options or StreamOptions()),
        docs_url=None,  # served by _api_docs from the installed Swagger UI, not a CDN
        redoc_url=None,
        default_response_class=SafeJSONResponse,  # one bad value never makes a 500
    )
    app.state.settings = settings
    app.state.tickets = tickets = StreamTickets()
    app.state.hooks = hooks.HookStore()  # events other agents post (federated HUD)
    app.state.quota = SessionQuota(settings.sessions_per_minute)
    install_error_handlers(app)
    app.include_router(api.router)
    app.include_router(streams.router)
    app.include_router(metrics.router)
    app.include_router(hooks.router)
    _api_docs(app)
    _mount_frontend(app, frontend_dir or FRONTEND_DIR)
    finish_openapi(app, guarded=bool(token))
    # added innermost first: a request meets Host, then Origin, then the token
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body)
    token_text = token if isinstance(token, str) else None
    app.add_middleware(TokenMiddleware, token=token_text, tickets=tickets)
    app.add_middleware(TokenMiddleware, token=token_text, prefix="/metrics")
    app.add_middleware(OriginMiddleware)
    app.add_middleware(HostMiddleware, allowed=allowed_hosts(settings))
    return app


def allowed_hosts(settings: Settings) -> list[str]:
    """Return the host names the app answers to: the loopback names, the bound host
    (unless it is a wildcard address such as ``0.0.0.0``) and ``allowed_hosts``."""
    bound = [] if settings.host in ("0.0.0.0", "::", "") else [settings.host]
    return [*LOOPBACK_HOSTS, *bound, *settings.allowed_hosts]


def _lifespan(
    settings: Settings, options: StreamOptions
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Return the app's lifespan: the runtime, and a task group that owns the runs
    (in Redis mode also the Redis connections and the :class:`Cluster` tasks)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()  # uvicorn has configured its loggers by now
        async with (
            _redis(settings) as redis,
            open_runtime(settings, redis=redis) as runtime,
            anyio.create_task_group() as tg,
        ):
            runs = RunRegistry(runtime, tg)
            cluster = None
            if redis is None:
                runs.recover()  # runs a killed process accepted become 'interrupted'
            else:  # Redis mode: the sweeper interrupts the runs of dead workers
                from .cluster import Cluster

                cluster = Cluster(redis, runtime, runs, settings.redis_worker_turns)
                cluster.start(tg)
            metrics = Metrics(
                settings.prices,
                queued_turns=runs.queued,
                sse_clients=lambda: sum(
                    isinstance(o, StreamSubscription) for o in runtime.bus.observers
                ),
            )
            runtime.bus.add(runs)
            runtime.bus.add(metrics)
            app.state.runtime, app.state.runs, app.state.metrics = runtime, runs, metrics
            app.state.cluster = cluster
            app.state.streams = EventStreams(runtime, options, shared=cluster)
            if cluster is None:  # Redis mode: a dead worker's paused runs are interrupted
                runs.restore_paused()  # runs paused when the server last stopped pause again
            stop_watching = anyio.Event()
            if settings.watch_graphs:
                tg.start_soon(watch_graphs, runtime, stop_watching, name="graph folder watcher")
            try:
                yield
            finally:
                stop_watching.set()  # before the cancel: the watcher waits in a thread
                tg.cancel_scope.cancel()  # runs still going end as cancelled
                app.state.streams.close()
                runtime.bus.remove(runs)
                runtime.bus.remove(metrics)

    return lifespan


def worker_app(settings: Settings) -> FastAPI:
    """Return the app of one ``serve --workers N`` process (called in that process)."""
    tune_gc()
    return create_app(settings)


def _redis(settings: Settings) -> AbstractAsyncContextManager[RedisMode | None]:
    """Open Redis mode's connections when ``redis_url`` is set (else yield ``None``)."""
    if not settings.redis_url:
        return nullcontext(None)
    from cogpipe.redis_mode import open_redis

    return open_redis(settings)


def _api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from ``/vendor/swagger-ui-dist`` (the npm package
    ``swagger-ui-dist``, installed with the HUD), so the page works with no internet."""
    vendor = "/vendor/swagger-ui-dist"

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="cogpipe API",
            swagger_js_url=f"{vendor}/swagger-ui-bundle.js",
            swagger_css_url=f"{vendor}/swagger-ui.css",
            swagger_favicon_url=f"{vendor}/favicon-32x32.png",
            oauth2_redirect_url=None,
            swagger_ui_parameters={"validatorUrl": None},
        )


def _mount_frontend(app: FastAPI, folder: Path) -> None:
    """Serve ``folder`` at ``/`` and its ``vendor`` folder at ``/vendor``.

    The files answer only paths no route matched (they are the router's default), so
    routes added to the app later still win over the catch-all ``/``.
    """
    index = folder / "index.html"

    @app.get("/", include_in_schema=False)
    async def hud() -> Response:
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_NOT_BUILT.format(index=f"{folder.name}/index.html"))

    if (folder / "vendor").is_dir():
        app.mount("/vendor", StaticFiles(directory=folder / "vendor"), name="vendor")
    files = StaticFiles(directory=folder, check_dir=False)

    async def frontend(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/") or not folder.is_dir():
            raise HTTPException(404)
        await files(scope, receive, send)

    app.router.default = frontend


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _report_broken(graphs: GraphCatalog) -> None:
    """Say which graph files have problems; the server starts with the valid ones."""
    broken = [(e.path, e.error.problems) for e in graphs.entries() if e.error is not None]
    if not broken:
        return
    lines = [
        f"warning: {len(broken)} graph file{'s' if len(broken) != 1 else ''} cannot be used "
        "(GET /api/graphs lists their problems; 'cogpipe validate' checks them):"
    ]
    for path, problems in broken:
        first = problems[0].render().strip().splitlines()[0] if problems else "invalid"
        lines.append(f"  {path}: {first}")
        if len(problems) > 1:
            more = len(problems) - 1
            lines.append(f"    (and {more} more problem{'s' if more != 1 else ''})")
    print("\n".join(lines), file=sys.stderr, flush=True)


def serve(settings: Settings, workers: int = 1) -> int:
    """Run the server until interrupted (``cogpipe serve``).

    Args:
        settings: as loaded by the CLI; ``host``, ``port`` and ``default_graph`` say
            where to listen and what new sessions run. Spans are exported as the
            ``OTEL_*`` variables say (:func:`cogpipe.telemetry.exporting`).
        workers: server processes sharing the port (uvicorn's process supervisor, which
            restarts a worker that dies); more than 1 needs ``redis_url``.

    Returns:
        The exit status: 0 after a clean stop (Ctrl-C), 1 when the server could not
        start. On SIGTERM uvicorn stops cleanly, then ends the process by that signal.

    Raises:
        NodeModuleError: a node module cannot be imported.
        UnknownGraphError, GraphValidationError: ``default_graph`` names no runnable graph.
        TelemetryError: the ``OTEL_*`` variables ask for an unknown protocol.
        RedisUnavailableError: ``redis_url`` is set and Redis does not answer there.
        SettingsError: ``workers`` > 1 without ``redis_url``, or ``workers`` < 1.
    """
    if workers < 1:
        raise SettingsError(f"--workers {workers}: must be at least 1")
    if workers > 1 and not settings.redis_url:
        raise SettingsError(
            f"--workers {workers}: several processes share sessions and turns only "
            "through Redis; set COGPIPE_REDIS_URL (see docs/deploy.md)"
        )
    _report_broken(catalog(settings))  # a bad node module or default graph fails here
    if settings.redis_url:  # fail here with the URL, not in the middle of uvicorn's start
        from cogpipe.engine.distributed import sync_client

        sync_client(settings.redis_url).close()
    host, port = settings.host, settings.port
    app = create_app(settings)
    shown = f"[{host}]" if ":" in host else host
    print(f"cogpipe HUD on http://{shown}:{port}  (API docs: /docs)", flush=True)
    if not _is_loopback(host) and settings.token is None:
        print(
            f"warning: listening on {host} without COGPIPE_TOKEN: anyone who can reach "
            "this port can run graphs; set COGPIPE_TOKEN or bind 127.0.0.1",
            file=sys.stderr,
            flush=True,
        )
    if host in ("0.0.0.0", "::") and not settings.allowed_hosts:
        print(
            f"note: listening on {host}, but answering only requests for "
            f"{', '.join(allowed_hosts(settings))}; add the names clients use to reach "
            "this machine to COGPIPE_ALLOWED_HOSTS",
            file=sys.stderr,
            flush=True,
        )
    if workers > 1:  # each worker builds its own app (spawned processes)
        config = uvicorn.Config(
            partial(worker_app, settings),
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            timeout_graceful_shutdown=5,
        )
        sock = config.bind_socket()
        Multiprocess(config, sockets=[sock]).run()
        return 0
    tune_gc()  # the default collector thresholds halve throughput at 1000 concurrent runs
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    with exporting() as tracing:  # OTEL_* variables; None when export is off
        if tracing is not None:
            instrument_app(app, tracing)
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises Ctrl-C after stopping
            server.run()
    return 0 if server.started else 1
