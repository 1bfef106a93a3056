"""The REST API under ``/api`` (contract: ``docs/api.md``).

Every route is ``async def``: the runtime, its session store and its event bus live on
the event loop and are not thread-safe, so no route may run in the thread pool.
"""

from __future__ import annotations

import dataclasses
from contextlib import AbstractAsyncContextManager, nullcontext
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from cogpipe.engine import (
    CatalogEntry,
    EventLog,
    JsonlSink,
    ResumeError,
    Runtime,
    Session,
    StoreError,
    UnknownGraphError,
    UnknownNodeError,
    to_cytoscape,
    to_mermaid,
)
from cogpipe.engine.events import events_schema
from cogpipe.engine.session import jsonable
from cogpipe.forward import HookForwarder
from cogpipe.settings import Settings

from .errors import ApiError, problem_texts
from .models import (
    ActionIn,
    BreakpointsBody,
    DashboardReport,
    DefaultGraph,
    ErrorBody,
    GraphChoice,
    GraphDetail,
    GraphSummary,
    Health,
    MessageIn,
    ResumeIn,
    RunAccepted,
    RunInfo,
    SessionCreate,
    SessionDetail,
    SessionSummary,
    SwitchGraph,
    TraceFile,
    encodable_params,
)
from .quota import SessionQuota
from .runs import RunRecord, RunRegistry, stored_info
from .traces import find_trace, read_trace, trace_files

if TYPE_CHECKING:
    from cogpipe.engine import RunRecord as StoredRun

    from .cluster import Cluster

__all__ = ["router", "server_version"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 503)
}
router = APIRouter(prefix="/api", responses=_ERRORS, dependencies=[Depends(encodable_params)])


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def _runs(request: Request) -> RunRegistry:
    return request.app.state.runs


def _cluster(request: Request) -> Cluster | None:
    """Redis mode's :class:`Cluster` (``None`` without ``redis_url``)."""
    return getattr(request.app.state, "cluster", None)


def _settings(request: Request) -> Settings:
    return request.app.state.settings


RuntimeDep = Annotated[Runtime, Depends(_runtime)]
RunsDep = Annotated[RunRegistry, Depends(_runs)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def server_version() -> str:
    """Return the installed cogpipe version (``0.0.0`` when run from a bare checkout)."""
    try:
        return version("cogpipe")
    except PackageNotFoundError:
        return "0.0.0"


def _default_graph(rt: Runtime) -> str | None:
    try:
        return rt.catalog.default
    except UnknownGraphError:
        return None


# -- health ------------------------------------------------------------------------


def _failures(rt: Runtime) -> dict[str, Any]:
    """Count the trace writes that failed (a full disk, a folder made read-only)."""
    found: dict[str, Any] = {}
    for observer in rt.bus.observers:
        if isinstance(observer, JsonlSink):
            found["trace"] = {
                "failed": observer.failed,
                "dropped": observer.dropped,
                "file": str(observer.path),
            }
        elif isinstance(observer, EventLog):
            found["event_log"] = {"failed": observer.failed, "dropped": observer.dropped}
    return found


def _changing(rt: Runtime, session_id: str) -> AbstractAsyncContextManager[Any]:
    """Redis mode: hold the session as a turn does while a request changes it. It waits
    for a turn running on any process, since that turn saves the whole session when it
    ends and would undo the change. Without Redis, nothing: the running turn's session
    is the same object, and its save includes the change."""
    return rt.exclusive(session_id) if rt.lease is not None else nullcontext()


def _stored_sessions(rt: Runtime) -> int | None:
    """Count the stored sessions (``None`` while the store cannot be read: Redis away)."""
    try:
        return len(rt.session_ids())
    except StoreError:
        return None


@router.get("/health", response_model=Health, tags=["server"])
async def health(rt: RuntimeDep, runs: RunsDep, request: Request) -> dict[str, Any]:
    """Which LLM is active and whether it answers, which tool servers are up, the
    default graph, what is held in memory, and trace writes that failed."""
    tools = rt.tools.status() if rt.tools is not None else []  # type: ignore[attr-defined]
    llm: dict[str, Any] = {"mode": "none"}
    if rt.llm is not None:
        llm = {**rt.llm.info(), "probe": await rt.llm.reachability()}  # type: ignore[attr-defined]
    return {
        "status": "ok",
        "version": server_version(),
        "llm": llm,
        "tools": [{**t, "up": t["status"] == "up"} for t in tools],
        "default_graph": _default_graph(rt),
        "sessions": _stored_sessions(rt),
        "hooks": next((o.stats() for o in rt.bus.observers if isinstance(o, HookForwarder)), None),
        "memory": {
            **rt.memory(),
            "runs": len(runs.recent(runs.keep)),
            "sessions_per_minute": request.app.state.quota.per_minute,
        },
        "failures": _failures(rt),
        "redis": await cluster.health() if (cluster := _cluster(request)) else None,
    }


# -- graphs --------------------------------------------------------------------------


def _named_graph(rt: Runtime, name: str, field: str) -> None:
    """Check a graph named in a request body: an unknown one is a 422 naming the field
    (404 answers a path that names nothing; here the path's resource exists)."""
    if name not in {e.name for e in rt.catalog.entries()}:
        err = UnknownGraphError(name, rt.catalog.names())
        raise ApiError(422, f"invalid request: {field}: {err.message}", known=err.known)


def _catalog_entry(rt: Runtime, name: str) -> CatalogEntry:
    entries = {e.name: e for e in rt.catalog.entries()}
    if name not in entries:
        err = UnknownGraphError(name, sorted(entries))
        raise ApiError(404, err.message, known=err.known)
    return entries[name]


def _problems(entry: CatalogEntry) -> list[str] | None:
    return problem_texts(entry.error) if entry.error is not None else None


@router.get("/graphs", response_model=list[GraphSummary], tags=["graphs"])
async def list_graphs(rt: RuntimeDep) -> list[dict[str, Any]]:
    """Every graph of the graph folder, valid or not (with its problems)."""
    return [
        {
            "name": e.name,
            "description": e.graph.description if e.graph else "",
            "nodes": len(e.graph.nodes) if e.graph else 0,
            "valid": e.valid,
            "problems": _problems(e),
            "path": str(e.path) if e.path else None,
        }
        for e in rt.catalog.entries()
    ]


@router.get("/graphs/{name}", response_model=GraphDetail, tags=["graphs"])
async def get_graph(name: str, rt: RuntimeDep) -> dict[str, Any]:
    """One graph: YAML, cytoscape.js elements and Mermaid text (``valid: false`` and
    ``elements: null`` when the file has problems; after an invalid edit of a valid file
    the elements are those of the last valid version, which keeps running)."""
    entry = _catalog_entry(rt, name)
    graph = entry.graph
    text: str | None = graph.text if graph and entry.valid else None
    if text is None and entry.path is not None:
        text = await anyio.Path(entry.path).read_text(encoding="utf-8", errors="replace")
    return {
        "name": entry.name,
        "description": graph.description if graph else "",
        "valid": entry.valid,
        "problems": _problems(entry),
        "yaml": text,
        "elements": to_cytoscape(graph) if graph else None,
        "mermaid": to_mermaid(graph) if graph else None,
    }


@router.get("/default-graph", response_model=DefaultGraph, tags=["graphs"])
async def get_default_graph(rt: RuntimeDep) -> dict[str, Any]:
    """The graph new sessions run (``null`` when no graph is valid)."""
    return {"name": _default_graph(rt)}


@router.put("/default-graph", response_model=DefaultGraph, tags=["graphs"])
async def put_default_graph(body: GraphChoice, rt: RuntimeDep) -> dict[str, Any]:
    """Make another registered graph the default for new sessions (until restart)."""
    _named_graph(rt, body.name, "name")
    rt.catalog.set_default(body.name)
    return {"name": body.name}


# -- sessions ------------------------------------------------------------------------


def _controls(state: dict[str, Any]) -> dict[str, Any] | None:
    """Return the UI node's Controls: ``state["ui"]`` is the Controls JSON (ui_v1); a
    Controls dict nested under ``state["ui"]["controls"]`` is accepted too."""
    ui = state.get("ui")
    if not isinstance(ui, dict):
        return None
    controls = ui.get("controls")
    if isinstance(controls, list):
        return {"controls": controls, "version": ui.get("version", 0)}
    return controls if isinstance(controls, dict) else None


def _session_detail(session: Session) -> dict[str, Any]:
    state = jsonable(session.state)
    return {
        "id": session.id,
        "graph": session.graph,
        "created": session.created,
        "updated": session.updated,
        "seq": session.seq,
        "history": [jsonable(dataclasses.asdict(t)) for t in session.history],
        "state": state,
        "controls": _controls(state),
    }


@router.post(
    "/sessions",
    status_code=201,
    response_model=SessionDetail,
    responses={429: {"model": ErrorBody, "description": "too many new sessions; Retry-After"}},
    tags=["sessions"],
)
async def create_session(
    rt: RuntimeDep, request: Request, response: Response, body: SessionCreate | None = None
) -> dict[str, Any]:
    """Start a session on a graph (the default graph when ``graph`` is omitted); one
    client may create ``sessions_per_minute`` sessions a minute (then 429)."""
    name = body.graph if body is not None else None
    if name is not None:
        _named_graph(rt, name, "graph")
    elif _default_graph(rt) is None:
        raise ApiError(
            404,
            f"no default graph: no valid graph in {', '.join(map(str, rt.catalog.dirs))}; "
            "add a graph file or fix the invalid ones (GET /api/graphs lists their problems)",
            known=rt.catalog.names(),
        )
    quota: SessionQuota = request.app.state.quota
    quota.take(request.client.host if request.client else "unknown")
    session = rt.create_session(name)
    response.headers["Location"] = f"/api/sessions/{session.id}"
    return _session_detail(session)


@router.get("/sessions", response_model=list[SessionSummary], tags=["sessions"])
async def list_sessions(
    rt: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="sessions at most")] = 200,
) -> list[dict[str, Any]]:
    """Stored sessions, most recently changed first."""
    found = []
    for sid in rt.session_ids():
        session = rt.store.load(sid)
        if session is not None:
            found.append(
                {
                    "id": sid,
                    "graph": session.graph,
                    "turns": len(session.history),
                    "updated": session.updated,
                }
            )
    found.sort(key=lambda s: -s["updated"])
    return found[:limit]


@router.get("/sessions/{session_id}", response_model=SessionDetail, tags=["sessions"])
async def get_session(session_id: str, rt: RuntimeDep) -> dict[str, Any]:
    """A session's graph, history, state and current UI controls."""
    return _session_detail(rt.session(session_id))


@router.put("/sessions/{session_id}/graph", response_model=SessionDetail, tags=["sessions"])
async def switch_graph(session_id: str, body: SwitchGraph, rt: RuntimeDep) -> dict[str, Any]:
    """Run another registered graph from the session's next turn on; history and state
    are kept, and ``graph.switched`` (with the new elements) goes to the event streams."""
    rt.session(session_id)
    _named_graph(rt, body.graph, "graph")
    async with _changing(rt, session_id):
        rt.switch_graph(session_id, body.graph)
        return _session_detail(rt.session(session_id))


@router.get("/sessions/{session_id}/breakpoints", response_model=BreakpointsBody, tags=["sessions"])
async def get_breakpoints(session_id: str, rt: RuntimeDep) -> dict[str, Any]:
    """The session's breakpoints (kept in memory until the server restarts)."""
    return dataclasses.asdict(rt.breakpoints(session_id))


@router.put("/sessions/{session_id}/breakpoints", response_model=BreakpointsBody, tags=["sessions"])
async def put_breakpoints(
    session_id: str, body: BreakpointsBody, rt: RuntimeDep, request: Request
) -> dict[str, Any]:
    """Replace the session's breakpoints: its runs pause before / after these nodes, from
    its next run on (``run.paused``; resume with ``POST /api/runs/{run_id}/resume``).
    Names the session's graph does not run are a 409 listing them and the graph's nodes
    (the request is well formed; it conflicts with the graph the session runs, as an
    event the graph has no entry for does)."""
    try:
        points = rt.set_breakpoints(session_id, body.before, body.after)
    except UnknownNodeError as exc:
        raise ApiError(409, exc.message, unknown=exc.unknown, known=exc.known) from None
    if (cluster := _cluster(request)) is not None:  # Redis mode: every process pauses there
        await cluster.share_breakpoints(session_id, points)
    return dataclasses.asdict(points)


def _accepted(record: RunRecord, response: Response) -> dict[str, Any]:
    response.headers["Location"] = f"/api/runs/{record.run_id}"
    return {"run_id": record.run_id, "session_id": record.session_id, "status": record.status}


_RUN = {"run_id": "$response.body#/run_id"}
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {  # OpenAPI links: what a client (or a fuzzer) can do with the run it got
        "links": {
            "GetRun": {"operationRef": "#/paths/~1api~1runs~1{run_id}/get", "parameters": _RUN},
            "CancelRun": {
                "operationRef": "#/paths/~1api~1runs~1{run_id}~1cancel/post",
                "parameters": _RUN,
            },
        }
    }
}


@router.post(
    "/sessions/{session_id}/messages",
    status_code=202,
    response_model=RunAccepted,
    responses=_ACCEPTED,
    tags=["runs"],
)
async def post_message(
    session_id: str, body: MessageIn, runs: RunsDep, response: Response
) -> dict[str, Any]:
    """Send a user message; answers at once with the run id (the run goes on in the
    background: follow it on the event stream or at ``GET /api/runs/{run_id}``)."""
    return _accepted(runs.submit(session_id, "message", body.text), response)


@router.post(
    "/sessions/{session_id}/actions",
    status_code=202,
    response_model=RunAccepted,
    responses=_ACCEPTED,
    tags=["runs"],
)
async def post_action(
    session_id: str, body: ActionIn, runs: RunsDep, response: Response
) -> dict[str, Any]:
    """Send a UI action (a control was clicked); answers at once with the run id."""
    return _accepted(runs.submit(session_id, "action", body.model_dump()), response)


@router.put("/sessions/{session_id}/dashboard", status_code=204, tags=["sessions"])
async def put_dashboard(session_id: str, body: DashboardReport, rt: RuntimeDep) -> Response:
    """Report which controls the browser shows; kept as ``state["dashboard"]`` (the
    sensor node compares it with what the UI node built)."""
    async with _changing(rt, session_id):
        session = rt.session(session_id)
        session.state["dashboard"] = {"version": body.version, "controls": body.controls}
        rt.store.save(session)
    return Response(status_code=204)


# -- runs ------------------------------------------------------------------------------


def _unknown_run(runs: RunRegistry, run_id: str) -> ApiError:
    return ApiError(
        404,
        f"unknown run '{run_id}': no run with this id was accepted by this server "
        "(or its session was deleted); 'known' lists the latest",
        known=runs.recent(),
    )


def _run(runs: RunRegistry, run_id: str) -> RunRecord:
    record = runs.get(run_id)
    if record is None:
        stored = runs.stored(run_id)
        if stored is None:
            raise _unknown_run(runs, run_id)
        raise ApiError(  # a run of an earlier process, or one the registry forgot
            409,
            f"run '{run_id}' already ended as {stored.status}; nothing to cancel",
            run=stored_info(stored),
        )
    return record


@router.get("/runs/{run_id}", response_model=RunInfo, tags=["runs"])
async def get_run(run_id: str, runs: RunsDep) -> dict[str, Any]:
    """A run's status, progress (nodes done / skipped / total) and result; a run of an
    earlier server process is read from the session store (``interrupted`` when that
    process stopped before the run ended)."""
    record = runs.get(run_id)
    if record is not None:
        return record.info()
    stored = runs.stored(run_id)
    if stored is None:
        raise _unknown_run(runs, run_id)
    return stored_info(stored)


@router.post("/runs/{run_id}/cancel", status_code=202, response_model=RunInfo, tags=["runs"])
async def cancel_run(run_id: str, runs: RunsDep, request: Request) -> dict[str, Any]:
    """Cancel a queued or running run; answers once it stopped (or after 2 s). The run
    stays readable at ``GET /api/runs/{run_id}`` as ``cancelled`` (which is why this is
    not a DELETE: nothing is deleted). In Redis mode any process can cancel any
    process's run."""
    cluster = _cluster(request)
    if cluster is not None and runs.get(run_id) is None:  # Redis mode: maybe another's
        stored = runs.stored(run_id)
        if stored is not None and stored.active:
            ended = await cluster.cancel(run_id)
            return stored_info(ended or stored)
    record = _run(runs, run_id)
    if not record.active:
        raise ApiError(
            409,
            f"run '{run_id}' already ended as {record.status}; nothing to cancel",
            run=record.info(),
        )
    runs.cancel(record)
    with anyio.move_on_after(2.0):
        await record.ended.wait()
    return record.info()


async def _resume_elsewhere(cluster: Cluster, stored: StoredRun, body: ResumeIn) -> dict[str, Any]:
    """Redis mode: resume a run paused on another process, which answers over Redis."""
    run_id = stored.run_id
    answer = await cluster.resume(run_id, body.action, body.inputs)
    if answer is not None and answer.get("error") == "invalid":
        raise ApiError(422, f"invalid request: {answer['message']}", problems=answer["problems"])
    if answer is None or answer.get("error"):
        now = cluster.runtime.store.load_run(run_id) or stored
        raise ApiError(
            409, f"run '{run_id}' is not paused (it is {now.status})", run=stored_info(now)
        )
    return stored_info(cluster.runtime.store.load_run(run_id) or stored)


@router.post("/runs/{run_id}/resume", response_model=RunInfo, tags=["runs"])
async def resume_run(
    run_id: str, body: ResumeIn, runs: RunsDep, rt: RuntimeDep, request: Request
) -> dict[str, Any]:
    """Resume a paused run: ``continue``, ``step`` (pause before the next node) or
    ``reject`` (skip the pending node, drop its outputs, or refuse the tool call), with
    ``inputs`` replacing the pending inputs or tool arguments (422 with ``problems``
    when they do not fit). 409 when the run is not paused. Answers once the run took
    the decision (its ``run.resumed`` event was emitted)."""
    cluster = _cluster(request)
    if cluster is not None and runs.get(run_id) is None:  # Redis mode: maybe another's
        stored = runs.stored(run_id)
        if stored is not None and stored.status == "paused":
            return await _resume_elsewhere(cluster, stored, body)
    record = _run(runs, run_id)
    try:
        pause = rt.resume(run_id, body.action, body.inputs)
    except ResumeError as exc:
        raise ApiError(422, f"invalid request: {exc.message}", problems=exc.problems) from None
    except LookupError:
        raise ApiError(
            409, f"run '{run_id}' is not paused (it is {record.status})", run=record.info()
        ) from None
    with anyio.move_on_after(2.0):  # the run's task takes the decision at its next step
        await pause.taken.wait()
    return record.info()


# -- the event catalogue ---------------------------------------------------------------


@router.get("/events/schema", tags=["events"])
async def event_schema() -> dict[str, Any]:
    """The JSON Schema of every trace event type's ``data`` (engine/events.py):
    ``{"title", "events": {type: {"description", "data": <schema>}}, "$defs"}``."""
    return events_schema()


# -- traces ----------------------------------------------------------------------------


@router.get("/traces", response_model=list[TraceFile], tags=["traces"])
async def list_traces(settings: SettingsDep) -> list[dict[str, Any]]:
    """The JSONL trace files (current and rotated), newest first."""
    return trace_files(settings.trace_dir)


@router.get(
    "/traces/{name}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}},
    tags=["traces"],
)
async def get_trace(name: str, settings: SettingsDep) -> StreamingResponse:
    """Download one trace file (one JSON event per line)."""
    path = find_trace(settings.trace_dir, name)
    if path is None:
        known = [f["name"] for f in trace_files(settings.trace_dir)]
        raise ApiError(404, f"unknown trace file '{name}'; GET /api/traces lists them", known=known)
    return StreamingResponse(
        read_trace(path),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{path.name}"'},
    )
