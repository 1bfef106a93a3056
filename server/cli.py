"""The ``cogpipe`` command line: validate, list, draw and run graphs; serve the HUD; list
tools; read trace files. Every command reads the settings once (``cogpipe.settings``),
prints errors as one ``error: ...`` line on stderr with exit status 1, and ends quietly
on Ctrl-C (130) or a closed pipe (``cogpipe draw x | head``). The commands themselves
are in ``commands.py``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from cogpipe import __version__
from cogpipe.engine.errors import (
    GraphValidationError,
    NodeModuleError,
    RedisUnavailableError,
    UnknownGraphError,
    UnknownSessionError,
)
from cogpipe.telemetry import TelemetryError

if TYPE_CHECKING:
    from cogpipe.settings import Settings

__all__ = ["build_parser", "main"]

_ERRORS = (
    NodeModuleError,
    UnknownGraphError,
    UnknownSessionError,
    GraphValidationError,
    TelemetryError,
    RedisUnavailableError,
)


# -- the parser ------------------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    """Options every command that reads the settings takes."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("settings (see docs/config.md)")
    group.add_argument(
        "--config",
        metavar="FILE",
        help="YAML config file (default: $COGPIPE_CONFIG, else ./cogpipe.yaml if present)",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder for var/ (sessions, demo database) and trace/ (default: here)",
    )
    group.add_argument(
        "--nodes",
        action="append",
        metavar="FILE_OR_MODULE",
        help="import node kinds from a Python file or module (repeatable; adds to "
        "COGPIPE_NODE_MODULES); the graph YAML itself never names code",
    )
    return common


def _json(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON, for scripts")


def build_parser() -> argparse.ArgumentParser:
    """Return the ``cogpipe`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="cogpipe",
        description="Run cognitive LLM pipelines written as YAML graphs, and watch them live.",
        epilog="Settings come from COGPIPE_* environment variables, .env and a YAML config "
        "file; see docs/config.md. 'cogpipe COMMAND --help' explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"cogpipe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = [_common()]

    p = sub.add_parser(
        "validate", parents=common, help="check graph files; exit 1 and list every problem"
    )
    p.add_argument("files", nargs="*", help="YAML files or folders (default: the graphs folder)")
    _json(p, "each file's result and problems")
    p.set_defaults(func="validate")

    p = sub.add_parser(
        "graphs", parents=common, help="list graphs: name, node count, valid or why not"
    )
    _json(p, "the list")
    p.set_defaults(func="graphs")

    p = sub.add_parser("draw", parents=common, help="print a graph as Mermaid or cytoscape.js JSON")
    p.add_argument("graph", help="graph name or YAML file")
    p.add_argument(
        "--format",
        choices=["mermaid", "cytoscape"],
        default="mermaid",
        help="output format (default mermaid)",
    )
    p.set_defaults(func="draw")

    p = sub.add_parser(
        "run",
        parents=common,
        help="run one turn in the terminal with a live trace",
        description="Run one turn: TEXT enters the graph (default: the default graph, or "
        "the session's graph with --session) and every step is shown as it happens.",
    )
    p.add_argument(
        "words",
        nargs="+",
        metavar="[GRAPH] TEXT",
        help="graph name or YAML file (optional), then the user message "
        "(or, with --action, a UIAction as JSON)",
    )
    p.add_argument("--action", action="store_true", help="send TEXT as a UI action (JSON)")
    p.add_argument(
        "--session",
        metavar="ID",
        help="continue this stored session (its history, memory and graph)",
    )
    p.add_argument("--no-tools", action="store_true", help="do not start MCP tool servers")
    p.add_argument("--memory", action="store_true", help="keep the session in memory only")
    _json(p, "every trace event (one per line)")
    p.set_defaults(func="run")

    p = sub.add_parser("serve", parents=common, help="start the API server and the browser HUD")
    p.add_argument("--graph", help="default graph for new sessions (COGPIPE_DEFAULT_GRAPH)")
    p.add_argument("--host", help="address to bind (COGPIPE_HOST; default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (COGPIPE_PORT; default 8000)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N server processes on one port, sharing sessions and turns through Redis "
        "(needs COGPIPE_REDIS_URL; see docs/deploy.md); default 1",
    )
    p.set_defaults(func="serve")

    p = sub.add_parser(
        "tools", parents=common, help="start the tool servers; list their status and tools"
    )
    _json(p, "servers and tools with input schemas")
    p.set_defaults(func="tools")

    p = sub.add_parser("trace", help="read JSONL trace files (show one, follow one live)")
    trace = p.add_subparsers(dest="trace_command", required=True, metavar="ACTION")
    for name, text in (
        ("show", "render a trace file run by run, with timelines"),
        ("tail", "follow a trace file as it is written (Ctrl-C stops)"),
    ):
        t = trace.add_parser(name, parents=common, help=text, description=text)
        t.add_argument("file", nargs="?", help="a trace file (default: TRACE_DIR/cogpipe.jsonl)")
        t.add_argument("--run", metavar="RUN_ID", help="only this run")
        t.add_argument("--session", metavar="ID", help="only this session's runs")
        _json(t, "the events (one per line)")
        if name == "tail":
            t.add_argument(
                "--from-start", action="store_true", help="show what the file holds first"
            )
        t.set_defaults(func=f"trace_{name}")

    # main() hands demo-db's arguments to the demo server's own parser; listed for --help
    sub.add_parser("demo-db", help="run the demo SQLite MCP tool server (see demo-db --help)")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    from cogpipe.settings import Settings

    overrides = {
        "data_dir": getattr(args, "data_dir", None),
        "default_graph": getattr(args, "graph", None) if args.command == "serve" else None,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
    }
    settings = Settings.load(config_file=getattr(args, "config", None), **overrides)
    if getattr(args, "nodes", None):
        settings = settings.model_copy(
            update={"node_modules": [*settings.node_modules, *args.nodes]}
        )
    return settings


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the ``cogpipe`` command; return the exit status."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv[:1] == ["demo-db"]:  # its options belong to the demo server's own parser
            from cogpipe.demo import server as demo_db

            return demo_db.main(argv[1:])
        args = build_parser().parse_args(argv)
        from cogpipe.settings import SettingsError

        from . import commands

        try:
            settings = _settings(args)
            return int(getattr(commands, f"cmd_{args.func}")(args, settings, out))
        except SettingsError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 1
    except _ERRORS as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (cogpipe draw x | head): stop quietly, and point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    raise SystemExit(main())
