"""The ``cogpipe`` command line: validate, list, draw and run graphs; serve the HUD."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import anyio

from cogpipe.engine import (
    CallbackObserver,
    GraphValidationError,
    NodeRunError,
    TraceEvent,
    UnknownGraphError,
    load_graph,
    to_cytoscape,
    to_mermaid,
)
from cogpipe.engine.config import Settings, open_runtime

__all__ = ["main"]


def _graph_files(paths: Sequence[str], settings: Settings) -> list[Path]:
    files: list[Path] = []
    for raw in paths or [str(settings.graphs_dir)]:
        path = Path(raw)
        if path.is_dir():
            files += sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
        else:
            files.append(path)
    return files


def cmd_validate(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Validate graph files; print every problem; exit 1 if any file is invalid."""
    files = _graph_files(args.files, settings)
    if not files:
        print(f"no graph files found in {', '.join(args.files) or settings.graphs_dir}", file=out)
        return 1
    bad = 0
    for path in files:
        try:
            graph = load_graph(path)
            print(f"ok    {path}: graph '{graph.name}', {len(graph.nodes)} nodes", file=out)
        except GraphValidationError as exc:
            bad += 1
            print(f"FAIL  {exc.message}", file=out)
        except OSError as exc:
            bad += 1
            print(f"FAIL  {path}: cannot read: {exc.strerror}", file=out)
    print(f"{len(files) - bad} valid, {bad} invalid", file=out)
    return 1 if bad else 0


def cmd_graphs(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """List the graphs of the graph folder: name, nodes, validity, description."""
    catalog = settings.catalog()
    entries = catalog.entries()
    if not entries:
        print(f"no graphs in {settings.graphs_dir}", file=out)
        return 1
    default = catalog.default if catalog.names() else None
    width = max(len(e.name) for e in entries)
    for e in entries:
        mark = "*" if e.name == default else " "
        if e.graph is not None:
            print(
                f"{mark} {e.name:<{width}}  {len(e.graph.nodes):>2} nodes  valid    "
                f"{e.graph.description}",
                file=out,
            )
        else:
            count = len(e.error.problems) if e.error else 0
            print(
                f"{mark} {e.name:<{width}}   - nodes  INVALID  {count} problem(s); "
                f"run: cogpipe validate {e.path}",
                file=out,
            )
    print("(* = default graph)", file=out)
    return 0


def _resolve(name: str, settings: Settings) -> Any:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return load_graph(path)
    return settings.catalog().get(name)


def cmd_draw(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Print a graph as Mermaid text or cytoscape.js JSON."""
    graph = _resolve(args.graph, settings)
    if args.format == "mermaid":
        out.write(to_mermaid(graph))
    else:
        print(json.dumps(to_cytoscape(graph), indent=2), file=out)
    return 0


class LiveTrace:
    """Prints a run's events as they happen: node spans in ms since the run started,
    tool and LLM calls, and the streamed answer; then a timeline of the node spans."""

    def __init__(self, out: TextIO, show_answer: bool = True) -> None:
        self.out = out
        self.t0: float | None = None
        self.spans: dict[str, list[float]] = {}
        self.streaming = False
        self.show_answer = show_answer

    def ms(self, event: TraceEvent) -> float:
        if self.t0 is None:
            self.t0 = event.ts
        return (event.ts - self.t0) * 1000

    def __call__(self, event: TraceEvent) -> None:
        if event.type == "session.started":
            return
        at = self.ms(event)
        data = event.data or {}
        if event.type == "output.delta":
            if self.show_answer:
                if not self.streaming:
                    self.line(at, f"answer streaming from {event.node}:")
                    self.out.write("           ")
                    self.streaming = True
                self.out.write(data.get("text", ""))
                self.out.flush()
            return
        if self.streaming:
            self.out.write("\n")
            self.streaming = False
        text = self.describe(event, data, at)
        if text:
            self.line(at, text)

    def describe(self, event: TraceEvent, data: dict[str, Any], at: float) -> str | None:
        node = f"{event.node} ({event.kind})"
        match event.type:
            case "run.started":
                return f"run {event.run_id} on graph '{event.graph}', entry {data.get('entry')}"
            case "node.started":
                self.spans[event.node or "?"] = [at, at]
                return f"▶ {node}"
            case "node.finished" | "node.failed" | "node.cancelled":
                self.spans.setdefault(event.node or "?", [at, at])[1] = at
                mark = {"node.finished": "✓", "node.failed": "✗", "node.cancelled": "⊘"}
                ports = ", ".join(data.get("outputs", {})) or data.get("error", "no outputs")
                return f"{mark[event.type]} {node} {event.duration_ms:.1f} ms → {ports}"
            case "node.skipped":
                return f"⤼ {node} skipped: {data.get('reason')}"
            case "tool.started":
                return f"  tool {data.get('server')}.{data.get('tool')} {data.get('arguments')}"
            case "tool.finished" | "tool.failed":
                what = data.get("result") if event.type == "tool.finished" else data.get("error")
                return f"  tool {data.get('tool')} → {str(what)[:160]}"
            case "llm.response":
                return (
                    f"  llm {data.get('model')} {data.get('purpose') or ''} "
                    f"{data.get('tokens_in')}→{data.get('tokens_out')} tokens "
                    f"{data.get('latency_ms', 0):.0f} ms"
                )
            case "run.finished" | "run.failed" | "run.cancelled":
                return f"{event.type} in {event.duration_ms:.1f} ms {data.get('error', '')}"
            case "edge.fired" | "llm.request":
                return None
        return f"  {event.type} {json.dumps(data, default=str)[:160]}"  # e.g. sensor.flag

    def line(self, at: float, text: str) -> None:
        print(f"{at:8.1f} ms  {text}", file=self.out)

    def timeline(self, width: int = 50) -> None:
        """Print one bar per node over the run's duration: overlaps show concurrency."""
        if not self.spans:
            return
        end = max(e for _, e in self.spans.values()) or 1.0
        print("timeline (each bar: node start → finish)", file=self.out)
        name_w = max(map(len, self.spans))
        for name, (start, stop) in self.spans.items():
            a = int(start / end * width)
            b = max(int(stop / end * width), a + 1)
            bar = " " * a + "█" * (b - a)
            span = f"{start:7.1f} - {stop:7.1f} ms"
            print(f"  {name:<{name_w}} |{bar:<{width}}| {span}", file=self.out)


async def _run_once(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    trace = LiveTrace(out)
    async with open_runtime(
        settings, observers=[CallbackObserver(trace)], tools=not args.no_tools
    ) as rt:
        graph = _resolve(args.graph, settings)
        if graph.name not in rt.catalog.names():
            rt.catalog.add(graph)
        session = rt.create_session(graph.name)
        entry, payload = (
            ("action", json.loads(args.text)) if args.action else ("message", args.text)
        )
        try:
            result = await rt.run(session.id, entry, payload)
        except NodeRunError as exc:
            print(f"\nrun failed: {exc.message}", file=out)
            return 1
    trace.timeline()
    print("", file=out)
    for name, value in result.outputs.items():
        shown = (
            value
            if isinstance(value, str)
            else json.dumps(
                value.model_dump(mode="json") if hasattr(value, "model_dump") else value,
                default=str,
            )
        )
        print(f"{name}: {shown}", file=out)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Run one turn of a graph in the terminal with a live per-node trace."""
    if args.memory:
        settings.session_db = None
    return anyio.run(_run_once, args, settings, out)


def cmd_serve(args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """Start the HTTP server and the HUD."""
    from cogpipe.server.app import serve

    return serve(args, settings)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``cogpipe`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="cogpipe",
        description="Run cognitive LLM pipelines written as YAML graphs, and watch them live.",
        epilog="Configuration comes from COGPIPE_* environment variables; see docs/config.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check graph files; exit 1 and list every problem")
    p.add_argument("files", nargs="*", help="YAML files or folders (default: the graphs folder)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("graphs", help="list graphs: name, node count, valid or why not")
    p.set_defaults(func=cmd_graphs)

    p = sub.add_parser("draw", help="print a graph as Mermaid or cytoscape.js JSON")
    p.add_argument("graph", help="graph name or YAML file")
    p.add_argument("--format", choices=["mermaid", "cytoscape"], default="mermaid")
    p.set_defaults(func=cmd_draw)

    p = sub.add_parser("run", help="run one turn in the terminal with a live trace")
    p.add_argument("graph", help="graph name or YAML file")
    p.add_argument("text", help="the user message (or, with --action, a UIAction as JSON)")
    p.add_argument("--action", action="store_true", help="send TEXT as a UI action (JSON)")
    p.add_argument("--no-tools", action="store_true", help="do not start MCP tool servers")
    p.add_argument("--memory", action="store_true", help="keep the session in memory only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("serve", help="start the API server and the browser HUD")
    p.add_argument("--graph", help="default graph for new sessions")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    # main() hands demo-db's arguments to the demo server's own parser; listed for --help
    sub.add_parser("demo-db", help="run the demo SQLite MCP tool server (see demo-db --help)")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``cogpipe`` command; return the exit status."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo-db"]:  # its options belong to the demo server's own parser
        from cogpipe.demo import server as demo_db

        return demo_db.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.load()
        return args.func(args, settings, out)
    except (UnknownGraphError, GraphValidationError) as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
