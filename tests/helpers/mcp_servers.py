"""MCP test servers, and helpers to start them from tests.

Run as a script, this module is a tiny MCP server (mcp 2.x ``MCPServer``) with tools
that misbehave on purpose, over stdio or (``--http PORT``) streamable HTTP::

    python tests/helpers/mcp_servers.py [--name NAME] [--odd-names] [--http PORT]
                                        [--record FILE]

Tools: ``echo(text)`` (titled in its annotations only), ``add(a, b)``,
``pick(color, size=None, note="")`` (required, optional and enum parameters with
descriptions), ``pid()`` (titled, annotated read-only), ``calls()`` (how many
``tools/call`` requests for each tool name reached this process, counted before the
server validates anything), ``header(name)`` (the value of an HTTP request header,
``""`` on stdio), ``fail(message)`` (a tool error), ``sleep(seconds)``, ``crash()`` (the
process exits mid-call) and ``crash_once(marker)`` (exits the first time, i.e. while
``marker`` does not exist yet, then works). With ``--odd-names`` it also serves
``files.read`` and a tool with a 90-character name: valid MCP names that are not valid
OpenAI function names. With ``--record FILE`` every ``tools/call`` request that reaches
the process is appended to ``FILE`` as a JSON line ``{"name", "arguments"}``, before
the server validates anything (:func:`received` reads them back).

Imported, it offers :func:`helper_server_config`, :func:`http_server` (starts a
streamable HTTP server as a subprocess), and for the unmodified PyPI servers
:func:`time_server_config`, :func:`git_repo` and :func:`git_server_config`.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp_types import ToolAnnotations
from pydantic import Field

if TYPE_CHECKING:
    from cogpipe.engine.tools import ToolServerConfig

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).resolve()


LONG_NAME = "summarise_" + "very_" * 15 + "long_tool_name"


def helper_server_config(
    name: str = "helper", *, odd_names: bool = False, record: Path | None = None, **kwargs: Any
) -> ToolServerConfig:
    """Return the stdio config that runs this module's test server under ``name``
    (recording the calls it receives in ``record``, see :func:`received`)."""
    from cogpipe.engine.tools import ToolServerConfig

    command = [sys.executable, str(SCRIPT), "--name", name] + ["--odd-names"] * odd_names
    command += ["--record", str(record)] if record is not None else []
    return ToolServerConfig(name=name, command=command, **kwargs)


def received(record: Path) -> list[dict[str, Any]]:
    """Return the ``tools/call`` requests a server started with ``record`` received:
    ``[{"name", "arguments"}]`` in order (``[]`` before the first)."""
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines() if line]


def time_server_config(name: str = "time", **kwargs: Any) -> ToolServerConfig:
    """Return the config that runs the unmodified ``mcp-server-time`` under ``name``."""
    from cogpipe.engine.tools import ToolServerConfig

    return ToolServerConfig(name=name, command=[sys.executable, "-m", "mcp_server_time"], **kwargs)


def git_repo(path: Path) -> Path:
    """Create a git repository at ``path`` with one commit (``README.md``); return it."""
    path.mkdir(parents=True, exist_ok=True)
    identity = ["-c", "user.name=cogpipe tests", "-c", "user.email=tests@cogpipe.invalid"]
    (path / "README.md").write_text("cogpipe test repository\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "README.md"],
        ["commit", "-q", "-m", "init"],
    ):
        subprocess.run(["git", *identity, *args], cwd=path, check=True, capture_output=True)
    return path


def git_server_config(repo: Path, name: str = "git", **kwargs: Any) -> ToolServerConfig:
    """Return the config that runs the unmodified ``mcp-server-git`` on ``repo``."""
    from cogpipe.engine.tools import ToolServerConfig

    command = [sys.executable, "-m", "mcp_server_git", "--repository", str(repo)]
    return ToolServerConfig(name=name, command=command, **kwargs)


@contextmanager
def http_server(args: list[str], port: int, timeout_s: float = 20.0) -> Iterator[str]:
    """Run ``python <args>`` (a server listening on ``port``) and yield its MCP URL.

    Waits until the port accepts connections; stops the process afterwards.

    Raises:
        RuntimeError: the process exited or did not listen within ``timeout_s``.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a full pipe would block it
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=errors
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not _listening(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    errors.seek(0)
                    text = errors.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"MCP server {args} did not start: {text}")
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/mcp"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _serve(name: str, odd_names: bool, port: int | None, record: str | None = None) -> None:
    from collections import Counter

    from mcp.server.mcpserver import MCPServer

    calls: Counter[str] = Counter()

    async def count(ctx: Any, call_next: Any) -> Any:
        # Middleware runs before the server validates anything: a call counted here
        # reached the server, whatever became of it.
        if ctx.method == "tools/call" and isinstance(ctx.params, dict):
            calls[str(ctx.params.get("name"))] += 1
            if record is not None:
                line = {"name": ctx.params.get("name"), "arguments": ctx.params.get("arguments")}
                with open(record, "a", encoding="utf-8") as out:
                    out.write(json.dumps(line, default=str) + "\n")
        return await call_next(ctx)

    server = MCPServer(name, log_level="WARNING", middleware=[count])

    @server.tool(annotations=ToolAnnotations(title="Echo back"))
    def echo(text: str) -> str:
        """Return the text unchanged."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool(name="calls")
    def _calls() -> dict[str, int]:
        """Count the tools/call requests that reached this server, per tool name."""
        return dict(calls)

    _add_described_tools(server)
    _add_failing_tools(server)
    if odd_names:
        server.add_tool(
            lambda path: f"read {path}", name="files.read", description="Pretend to read a file."
        )
        server.add_tool(lambda: "long", name=LONG_NAME, description="A tool with a long name.")
    if port is None:
        server.run()
    else:
        server.run(transport="streamable-http", host="127.0.0.1", port=port)


def _add_described_tools(server: Any) -> None:
    @server.tool()
    def pick(
        color: Annotated[Literal["red", "green", "blue"], Field(description="the colour")],
        size: Annotated[int | None, Field(ge=1, le=10, description="how many")] = None,
        note: str = "",
    ) -> str:
        """Pick a colour."""
        return f"{color} x{size or 1}{f' ({note})' if note else ''}"

    @server.tool(title="Process id", annotations=ToolAnnotations(read_only_hint=True))
    def pid() -> int:
        """Return this server's process id."""
        return os.getpid()

    @server.tool()
    def header(name: str, ctx: Context) -> str:
        """Return the value of an HTTP request header ('' when absent or over stdio)."""
        request = ctx.request_context.request
        return str(request.headers.get(name, "")) if request is not None else ""


def _add_failing_tools(server: Any) -> None:
    import anyio
    from mcp.server.mcpserver.exceptions import ToolError

    @server.tool()
    def fail(message: str) -> str:
        """Report a tool error with the given message."""
        raise ToolError(message)

    @server.tool()
    async def sleep(seconds: float) -> str:
        """Sleep, then say so."""
        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @server.tool()
    def crash() -> str:
        """Exit the server process in the middle of the call."""
        print("crash tool called: exiting with status 1", file=sys.stderr, flush=True)
        os._exit(1)

    @server.tool()
    def crash_once(marker: str) -> str:
        """Exit the process if ``marker`` does not exist yet (creating it), else work."""
        if not os.path.exists(marker):
            Path(marker).touch()
            os._exit(1)
        return "survived"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="MCP test server for cogpipe's tests")
    parser.add_argument("--name", default="helper")
    parser.add_argument("--odd-names", action="store_true")
    parser.add_argument("--http", type=int, metavar="PORT", help="streamable HTTP on PORT")
    parser.add_argument("--record", metavar="FILE", help="append each call received to FILE")
    args = parser.parse_args()
    _serve(args.name, args.odd_names, args.http, args.record)
