"""What each ``cogpipe`` command does (the parser and dispatch are in ``cli.py``, which
imports this module only once a command is chosen, so ``--help`` and ``--version`` stay
fast)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from cogpipe.assembly import catalog, open_runtime, tool_servers
from cogpipe.engine import (
    CallbackObserver,
    Graph,
    GraphValidationError,
    NodeRunError,
    Problem,
    TraceEvent,
    import_node_modules,
    load_graph,
    to_cytoscape,
    to_mermaid,
)
from cogpipe.engine.session import jsonable
from cogpipe.settings import Settings
from cogpipe.telemetry import exporting

from .console import JsonLines, LiveTrace
from .traces import follow, read_events

__all__ = [
    "cmd_draw",
    "cmd_graphs",
    "cmd_run",
    "cmd_serve",
    "cmd_tools",
    "cmd_trace_show",
    "cmd_trace_tail",
    "cmd_validate",
]


def _dump(value: Any, out: TextIO) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str), file=out)


def _problem(p: Problem) -> dict[str, Any]:
    return {"line": p.line, "message": p.message, "details": list(p.details)}


# -- graphs ------------------------------------------------------------------------------


def _graph_files(paths: Sequence[str], settings: Settings) -> list[Path]:
    files: list[Path] = []
    for raw in paths or [str(settings.graphs_dir)]:
        path = Path(raw)
        if path.is_dir():
            files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            files.append(path)
    return files


def _check(path: Path) -> dict[str, Any]:
    """Load one graph file; return ``{file, valid, graph, nodes, problems, text}``."""
    found: dict[str, Any] = {"file": str(path), "valid": False, "graph": None, "nodes": 0}
    try:
        graph = load_graph(path)
    except GraphValidationError as exc:
        problems = [_problem(p) for p in exc.problems]
        return {**found, "graph": exc.graph, "problems": problems, "text": f"FAIL  {exc.message}"}
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        problem = {"line": None, "message": reason, "details": []}
        return {**found, "problems": [problem], "text": f"FAIL  {path}: {reason}"}
    text = f"ok    {path}: graph '{graph.name}', {len(graph.nodes)} nodes"
    return {
        **found,
        "valid": True,
        "graph": graph.name,
        "nodes": len(graph.nodes),
        "problems": [],
        "text": text,
    }


def cmd_validate(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Validate graph files; print every problem; exit 1 if any file is invalid."""
    import_node_modules(settings.node_modules)
    files = _graph_files(args.files, settings)
    checked = [_check(path) for path in files]
    bad = sum(not c["valid"] for c in checked)
    if args.json:
        _dump([{k: v for k, v in c.items() if k != "text"} for c in checked], out)
    elif not files:
        print(f"no graph files found in {', '.join(args.files) or settings.graphs_dir}", file=out)
    else:
        for c in checked:
            print(c["text"], file=out)
        print(f"{len(files) - bad} valid, {bad} invalid", file=out)
    return 1 if bad or not files else 0


def cmd_graphs(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """List the graphs of the graph folder: name, nodes, validity, description."""
    graphs = catalog(settings)
    entries = graphs.entries()
    default = graphs.default if graphs.names() else None
    if args.json:
        listed = [
            {
                "name": e.name,
                "path": str(e.path) if e.path else None,
                "valid": e.valid,
                "default": e.name == default,
                "nodes": len(e.graph.nodes) if e.graph else 0,
                "description": e.graph.description if e.graph else "",
                "problems": [_problem(p) for p in e.error.problems] if e.error else [],
            }
            for e in entries
        ]
        _dump(listed, out)
        return 0 if entries else 1
    if not entries:
        print(f"no graphs in {settings.graphs_dir}", file=out)
        return 1
    width = max(len(e.name) for e in entries)
    for e in entries:
        mark = "*" if e.name == default else " "
        if e.graph is not None:
            line = f"{len(e.graph.nodes):>2} nodes  valid    {e.graph.description}"
        else:
            count = len(e.error.problems) if e.error else 0
            line = f" - nodes  INVALID  {count} problem(s); run: cogpipe validate {e.path}"
        print(f"{mark} {e.name:<{width}}  {line}", file=out)
    print("(* = default graph)", file=out)
    return 0


def _resolve(name: str, settings: Settings) -> Graph:
    """Return the graph called ``name``, or loaded from ``name`` when it is a YAML file."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        import_node_modules(settings.node_modules)
        return load_graph(path)
    return catalog(settings).get(name)


def cmd_draw(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print a graph as Mermaid text or cytoscape.js JSON."""
    graph = _resolve(args.graph, settings)
    if args.format == "mermaid":
        out.write(to_mermaid(graph))
    else:
        _dump(to_cytoscape(graph), out)
    return 0


# -- run ---------------------------------------------------------------------------------


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(jsonable(value), default=str)


async def _run_turn(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    *named, text = args.words
    view = JsonLines(out) if args.json else LiveTrace(out)
    observer = CallbackObserver(view)
    async with open_runtime(settings, observers=[observer], tools=not args.no_tools) as rt:
        graph = _resolve(named[0], settings) if named else None
        if graph is not None and graph.name not in rt.catalog.names():
            rt.catalog.add(graph)
        if args.session:
            session = rt.session(args.session)
            if graph is not None and graph.name != session.graph:
                rt.switch_graph(session.id, graph.name)
        else:
            session = rt.create_session(graph.name if graph else None)
        entry, payload = ("action", json.loads(text)) if args.action else ("message", text)
        try:
            result = await rt.run(session.id, entry, payload)
        except NodeRunError as exc:
            print(f"run failed: {exc.message}", file=sys.stderr)
            return 1
    if not args.json:
        print("", file=out)
        for name, value in result.outputs.items():
            print(f"{name}: {_shown(value)}", file=out)
        if settings.session_db != "memory":
            print(f"(session {session.id}: continue with --session {session.id})", file=out)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run one turn of a graph in the terminal with a live per-node trace."""
    if len(args.words) > 2:
        raise SystemExit("error: run takes [GRAPH] TEXT; quote a message with spaces")
    if args.memory:
        if args.session:
            raise SystemExit("error: --memory starts a new session; it cannot continue --session")
        settings = settings.model_copy(update={"session_db": "memory"})
    if args.action:
        try:
            json.loads(args.words[-1])
        except ValueError as exc:
            raise SystemExit(f"error: --action needs a UIAction as JSON: {exc}") from None
    with exporting():  # spans to an OTLP backend when OTEL_* variables say so
        return anyio.run(_run_turn, args, settings, out)


# -- serve, tools ------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Start the HTTP server and the HUD."""
    from .app import serve

    return serve(settings, workers=args.workers)


async def _tools(settings: Settings) -> dict[str, Any]:
    from cogpipe.engine.tools import ToolManager

    async with ToolManager(tool_servers(settings)) as manager:
        tools = await manager.list_tools()
        servers = []
        for status in manager.status():
            offered = [t.model_dump() for t in tools if t.server == status["name"]]
            status.pop("offered")  # the full records below say more
            servers.append({**status, "tools": offered})
        return {"servers": servers}


def cmd_tools(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Start the configured tool servers and list them with their tools."""
    found = anyio.run(_tools, settings)
    if args.json:
        _dump(found, out)
        return 0
    if not found["servers"]:
        print("no tool servers configured (tool_servers is empty)", file=out)
    for server in found["servers"]:
        error = f": {server['error']}" if server.get("error") else ""
        print(f"{server['name']} ({server['transport']}) {server['status']}{error}", file=out)
        for tool in server["tools"]:
            title = f" ({tool['title']})" if tool["title"] else ""
            hints = f" [{', '.join(tool['hints'])}]" if tool["hints"] else ""
            about = " ".join(tool["description"].split())
            print(f"  {tool['name']}{title}{hints}: {about}", file=out)
            schema = json.dumps(tool["input_schema"], ensure_ascii=False, separators=(",", ":"))
            print(f"    input: {schema}", file=out)
        for hidden in server["hidden"]:
            print(f"  hidden {hidden['name']}: {hidden['reason']}", file=out)
    return 0


# -- trace files ---------------------------------------------------------------------------


def _trace_file(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.file) if args.file else settings.trace_dir / "cogpipe.jsonl"


def _wanted(args: argparse.Namespace, event: TraceEvent) -> bool:
    if args.run and event.run_id != args.run:
        return False
    return not (args.session and event.session_id != args.session)


def cmd_trace_show(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Render a JSONL trace file run by run, as ``cogpipe run`` shows a run live."""
    path = _trace_file(args, settings)
    skipped: list[str] = []
    try:
        with path.open(encoding="utf-8", errors="replace") as lines:
            events = [e for e in read_events(lines, skipped) if _wanted(args, e)]
    except OSError as exc:
        raise SystemExit(f"error: trace file {path}: {exc.strerror or exc}") from None
    runs: dict[str, list[TraceEvent]] = {}
    for event in events:
        if event.run_id:
            runs.setdefault(event.run_id, []).append(event)
    if skipped:
        print(f"note: {len(skipped)} line(s) of {path} are not trace events", file=sys.stderr)
    if not runs:
        print(f"no runs in {path}" + (" match" if args.run or args.session else ""), file=out)
        return 1
    for i, run in enumerate(runs.values()):
        if args.json:
            for event in run:
                print(event.to_json(), file=out)
            continue
        if i:
            print("", file=out)
        print(f"== session {run[0].session_id}, run {run[0].run_id}", file=out)
        view = LiveTrace(out)
        for event in run:
            view(event)
    return 0


class _PerRun:
    """Renders interleaved runs (several sessions at once) each with its own clock."""

    def __init__(self, out: TextIO, json_lines: bool) -> None:
        self.out, self.json = out, json_lines
        self.views: dict[str, LiveTrace] = {}

    def __call__(self, event: TraceEvent) -> None:
        if self.json:
            print(event.to_json(), file=self.out, flush=True)
            return
        if not event.run_id:
            return
        view = self.views.get(event.run_id)
        if view is None:
            print(f"== session {event.session_id}, run {event.run_id}", file=self.out)
            view = self.views[event.run_id] = LiveTrace(self.out)
        view(event)
        self.out.flush()
        if event.type in ("run.finished", "run.failed", "run.cancelled"):
            del self.views[event.run_id]


def cmd_trace_tail(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Follow a trace file as it is written (until Ctrl-C), rendering each run live."""
    path = _trace_file(args, settings)
    if not path.exists():
        print(f"waiting for {path} to be written ...", file=sys.stderr, flush=True)
    view = _PerRun(out, args.json)
    for event in follow(path, from_start=args.from_start):
        if _wanted(args, event):
            view(event)
    return 0
