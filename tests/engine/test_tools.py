"""ToolManager against real MCP servers: the demo database (stdio and HTTP), the
unmodified ``mcp-server-time`` from PyPI, and the misbehaving test server in
``tests/helpers/mcp_servers.py`` (tool errors, crashes, slow tools)."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from cogpipe.demo.server import demo_db_server_config, ensure_db
from cogpipe.engine.errors import ToolError
from cogpipe.engine.node import RunContext
from cogpipe.engine.session import Session
from cogpipe.engine.tools import ToolInfo, ToolManager, ToolServerConfig
from cogpipe.engine.trace import DETAIL_CHARS, preview
from tests.helpers.mcp_servers import LONG_NAME, helper_server_config, http_server
from tests.helpers.server_thread import free_port

GHOST = "/nonexistent/cogpipe-no-such-server"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_db(tmp_path_factory.mktemp("demo") / "demo.db")


@pytest.fixture(scope="module")
async def tools(db: Path) -> AsyncIterator[ToolManager]:
    """Five servers: the demo DB, two copies of the helper, mcp-server-time, a ghost."""
    servers = [
        demo_db_server_config(str(db)),
        helper_server_config("a", odd_names=True, timeout_s=10),
        helper_server_config("b"),
        ToolServerConfig(name="time", command=[sys.executable, "-m", "mcp_server_time"]),
        ToolServerConfig(name="ghost", command=[GHOST]),
    ]
    async with ToolManager(servers) as manager:
        yield manager


def _scalar(path: Path, sql: str) -> Any:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchone()[0]


def _status(manager: ToolManager, name: str) -> dict[str, Any]:
    """The server's status without its tool lists (``offered``, ``hidden``)."""
    status = next(s for s in manager.status() if s["name"] == name)
    return {k: v for k, v in status.items() if k not in ("offered", "hidden")}


# --- connecting --------------------------------------------------------------------------


async def test_connects_to_every_server_and_records_the_one_that_failed(tools: ToolManager) -> None:
    assert [(s["name"], s["transport"], s["status"], s["tools"]) for s in tools.status()] == [
        ("demo_db", "stdio", "up", 6),
        ("a", "stdio", "up", 12),
        ("b", "stdio", "up", 10),
        ("time", "stdio", "up", 2),
        ("ghost", "stdio", "down", 0),
    ]
    assert _status(tools, "ghost")["error"] == f"command not found: {GHOST}"
    assert all(s["error"] is None for s in tools.status() if s["status"] == "up")
    with pytest.raises(ToolError) as info:
        await tools.call("ghost.anything", {})
    assert info.value.message == (
        f"tool server 'ghost' is not available: command not found: {GHOST}"
    )


async def test_lists_tools_with_schemas(tools: ToolManager) -> None:
    listed = {t.qualified: t for t in await tools.list_tools()}
    assert {"demo_db.query", "a.echo", "b.echo", "time.get_current_time"} <= set(listed)
    query = listed["demo_db.query"]
    assert isinstance(query, ToolInfo) and query.server == "demo_db" and query.name == "query"
    assert query.input_schema["required"] == ["sql"]
    assert "read-only SQL" in query.description
    assert query.model_dump()["qualified"] == "demo_db.query"


async def test_server_that_exits_at_start_is_down_with_its_stderr() -> None:
    script = "import sys; sys.stderr.write('boom: DEMO_API_KEY is not set\\n'); sys.exit(3)"
    config = ToolServerConfig(name="dies", command=[sys.executable, "-c", script])
    async with ToolManager([config]) as manager:
        assert manager.status() == [
            {
                "name": "dies",
                "transport": "stdio",
                "status": "down",
                "tools": 0,
                "error": "the server process exited before completing the MCP handshake\n"
                "  last stderr lines of 'dies':\n    boom: DEMO_API_KEY is not set",
                "offered": [],
                "hidden": [],
            }
        ]


async def test_unreachable_http_server_is_down_with_its_url() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    async with ToolManager([ToolServerConfig(name="far", url=url, timeout_s=5)]) as manager:
        status = _status(manager, "far")
        assert (status["status"], status["transport"]) == ("down", "http")
        assert status["error"].startswith(f"{url}: ")
        with pytest.raises(
            ToolError, match=re.escape(f"tool server 'far' is not available: {url}: ")
        ):
            await manager.call("far.x", {})


async def test_disabled_server_is_not_started() -> None:
    async with ToolManager([helper_server_config("off", enabled=False)]) as manager:
        assert manager.status() == [
            {
                "name": "off",
                "transport": "stdio",
                "status": "disabled",
                "tools": 0,
                "error": None,
                "offered": [],
                "hidden": [],
            }
        ]
        assert await manager.list_tools() == []


async def test_call_outside_the_context_manager_is_an_error() -> None:
    manager = ToolManager([helper_server_config("a")])
    with pytest.raises(ToolError, match="the tool manager is not running"):
        await manager.call("a.echo", {"text": "x"})


# --- calling -----------------------------------------------------------------------------


async def test_demo_db_query_over_stdio(tools: ToolManager, db: Path) -> None:
    result = await tools.call("query", {"sql": "SELECT COUNT(*) AS n FROM invoices"})
    count = _scalar(db, "SELECT COUNT(*) FROM invoices")
    assert (result.server, result.tool, result.ok, result.error) == ("demo_db", "query", True, None)
    assert result.data == {"columns": ["n"], "rows": [[count]], "row_count": 1, "truncated": False}
    assert '"row_count": 1' in result.text
    assert result.arguments == {"sql": "SELECT COUNT(*) AS n FROM invoices"}
    assert 0 < result.duration_ms < 10_000


async def test_demo_db_over_http(db: Path) -> None:
    port = free_port()
    args = ["-m", "cogpipe.demo.server", "--transport", "http", "--port", str(port)]
    args += ["--db", str(db)]
    berlin = _scalar(db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")
    async with ToolManager(
        [ToolServerConfig(name="db", url=f"http://127.0.0.1:{port}/mcp")]
    ) as manager:
        url = f"http://127.0.0.1:{port}/mcp"
        assert _status(manager, "db")["status"] == "down"  # not started yet
        with pytest.raises(ToolError, match=re.escape(f"is not available: {url}: ")):
            await manager.call("db.count_customers", {})
        with http_server(args, port):
            result = await manager.call("db.count_customers", {"city": "Berlin"})
            assert result.data == {"count": berlin, "filters": {"city": "Berlin"}}
            assert _status(manager, "db") == {
                "name": "db",
                "transport": "http",
                "status": "up",
                "tools": 6,
                "error": None,
            }
            refused = await manager.call("query", {"sql": "DROP TABLE customers"})
            assert not refused.ok and "not DROP" in str(refused.error)
        with pytest.raises(
            ToolError,
            match=re.escape(
                "tool server 'db' failed during 'db.query' and could not be restarted: "
            ),
        ):
            await manager.call("query", {"sql": "SELECT 1"})  # stopped
        with http_server(args, port):
            assert (await manager.call("query", {"sql": "SELECT 1 AS one"})).data["rows"] == [[1]]


async def test_mcp_server_time_from_pypi(tools: ToolManager) -> None:
    result = await tools.call("get_current_time", {"timezone": "Europe/Berlin"})
    assert result.ok and result.server == "time"
    assert result.data["timezone"] == "Europe/Berlin"
    now = datetime.fromisoformat(result.data["datetime"])
    assert abs((now - datetime.now(UTC)).total_seconds()) < 120
    bad = await tools.call("time.get_current_time", {"timezone": "Mars/Olympus_Mons"})
    assert not bad.ok and "Invalid timezone" in str(bad.error) and bad.data is None


async def test_tool_error_is_a_failed_result_not_an_exception(tools: ToolManager) -> None:
    result = await tools.call("a.fail", {"message": "disk full"})
    assert (result.ok, result.error, result.text, result.data) == (
        False,
        "Error executing tool fail: disk full",
        "Error executing tool fail: disk full",
        None,
    )
    refused = await tools.call(
        "time.convert_time",
        {"source_timezone": "Mars/X", "time": "12:00", "target_timezone": "UTC"},
    )
    assert not refused.ok and "Invalid timezone" in str(refused.error)


async def test_text_results_are_parsed_as_json_when_they_are_json(tools: ToolManager) -> None:
    result = await tools.call("a.echo", {"text": '{"k": [1, 2]}'})
    assert result.data == {"result": '{"k": [1, 2]}'}  # structured content wins
    result = await tools.call("a.files.read", {"path": "/etc/hosts"})
    assert (result.text, result.data) == ("read /etc/hosts", None)


async def test_unknown_tool_lists_the_available_ones(tools: ToolManager) -> None:
    with pytest.raises(ToolError) as info:
        await tools.call("frobnicate", {})
    first, second = info.value.message.splitlines()
    names = first.removeprefix("unknown tool 'frobnicate'. Available tools: ").split(", ")
    assert {"query", "get_current_time", "a.echo", "b.echo", "a.crash"} <= set(names)
    assert "echo" not in names  # shared names are listed qualified
    assert second == f"Servers not up: ghost (command not found: {GHOST})"


async def test_ambiguous_name_needs_the_server(tools: ToolManager) -> None:
    with pytest.raises(ToolError) as info:
        await tools.call("echo", {"text": "hi"})
    assert info.value.message == (
        "tool name 'echo' is ambiguous: servers a, b all have it; call one of a.echo, b.echo"
    )
    a, b = [await tools.call(name, {"text": "hi"}) for name in ("a.echo", "b.echo")]
    assert (a.server, b.server, a.text, b.text) == ("a", "b", "hi", "hi")


async def test_openai_tools_have_valid_unique_names(tools: ToolManager) -> None:
    specs = tools.openai_tools()
    names = [spec["function"]["name"] for spec in specs]
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", n) for n in names), names
    assert len(set(names)) == len(names) == len(await tools.list_tools())
    assert {"query", "get_current_time", "a__echo", "b__echo", "files_read"} <= set(names)
    long = [n for n in names if n.startswith("summarise_very")]
    assert len(long) == 1 and len(long[0]) == 64
    query = next(s for s in specs if s["function"]["name"] == "query")
    assert query["type"] == "function"
    assert query["function"]["parameters"]["type"] == "object"
    assert "sql" in query["function"]["parameters"]["properties"]
    assert (
        next(s for s in specs if s["function"]["name"] == "a__pid")["function"]["parameters"][
            "properties"
        ]
        == {}
    )


async def test_call_accepts_openai_names(tools: ToolManager) -> None:
    assert (await tools.call("b__echo", {"text": "via alias"})).server == "b"
    assert (await tools.call("files_read", {"path": "x"})).tool == "files.read"
    long = next(
        s["function"]["name"]
        for s in tools.openai_tools()
        if s["function"]["name"].startswith("summarise_very")
    )
    result = await tools.call(long, {})
    assert (result.tool, result.text) == (LONG_NAME, "long")


async def test_calls_from_different_tasks_run_concurrently(tools: ToolManager) -> None:
    results: list[str] = []

    async def sleep(server: str) -> None:
        results.append((await tools.call(f"{server}.sleep", {"seconds": 0.6})).text)

    started = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for server in ("a", "a", "a", "b", "b"):
            tg.start_soon(sleep, server)
    assert results == ["slept 0.6"] * 5
    assert time.perf_counter() - started < 1.5


async def test_timeout_raises_within_the_limit_and_the_server_stays_up(tools: ToolManager) -> None:
    pid = (await tools.call("a.pid", {})).data
    started = time.perf_counter()
    with pytest.raises(ToolError) as info:
        await tools.call("a.sleep", {"seconds": 30}, timeout_s=0.5)
    assert time.perf_counter() - started < 1.5
    assert info.value.message == (
        "tool 'a.sleep' did not finish within 0.5 s and was cancelled; pass a larger "
        "timeout_s, or raise timeout_s of tool server 'a' in the config"
    )
    assert (await tools.call("a.pid", {})).data == pid
    assert _status(tools, "a")["status"] == "up"


# --- crashes -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def crashy() -> AsyncIterator[ToolManager]:
    async with ToolManager([helper_server_config("crashy", timeout_s=20)]) as manager:
        yield manager


async def _pid(manager: ToolManager) -> int:
    return int((await manager.call("crashy.pid", {})).data["result"])


async def test_crash_mid_call_raises_and_the_next_call_reconnects(crashy: ToolManager) -> None:
    before = await _pid(crashy)
    with pytest.raises(ToolError) as info:
        await crashy.call("crash", {})
    assert info.value.kind == "lost"
    assert info.value.message == (
        "tool server 'crashy' failed during 'crashy.crash', and again when the call was "
        "retried on a new connection: the server process exited\n"
        "  last stderr lines of 'crashy':\n    crash tool called: exiting with status 1"
    )
    assert _status(crashy, "crashy")["status"] == "down"
    after = await _pid(crashy)
    assert after != before
    assert _status(crashy, "crashy") == {
        "name": "crashy",
        "transport": "stdio",
        "status": "up",
        "tools": 10,
        "error": None,
    }


async def test_crash_once_is_retried_on_a_new_connection(
    crashy: ToolManager, tmp_path: Path
) -> None:
    before = await _pid(crashy)
    result = await crashy.call("crash_once", {"marker": str(tmp_path / "marker")})
    assert (result.ok, result.text) == (True, "survived")
    assert await _pid(crashy) != before


async def test_server_killed_while_idle_is_noticed_and_restarted(crashy: ToolManager) -> None:
    before = await _pid(crashy)
    os.kill(before, signal.SIGKILL)
    with anyio.fail_after(5):
        while _status(crashy, "crashy")["status"] == "up":
            await anyio.sleep(0.02)
    assert _status(crashy, "crashy")["error"] == "the server process exited"
    assert await _pid(crashy) != before


# --- tracing through a node's handle -----------------------------------------------------


def _context(manager: ToolManager, events: list[tuple[Any, ...]]) -> RunContext:
    def collect(type: str, node: str, kind: str, data: dict[str, Any] | None) -> None:
        events.append((type, node, kind, data))

    return RunContext(
        node="thinker",
        kind="thinker_v2",
        run_id="r1",
        graph="g",
        session=Session(id="s", graph="g"),
        context=[],
        emit=collect,
        tools=manager,
    )


async def test_handle_emits_tool_events(tools: ToolManager) -> None:
    events: list[tuple[Any, ...]] = []
    handle = _context(tools, events).tools
    assert {t.qualified for t in await handle.list()} == {
        t.qualified for t in await tools.list_tools()
    }
    assert handle.openai_tools() == tools.openai_tools()
    assert handle.find("count_customers") == tools.find("demo_db.count_customers")
    assert handle.find("echo") is None and events == []  # ambiguous; find emits nothing

    result = await handle.call("count_customers", {"city": "Berlin"})
    (started, *_), (finished, *_, data) = events
    assert (started, finished) == ("tool.started", "tool.finished")
    call_id = data["call_id"]  # one id for both events of the call
    assert re.fullmatch(r"[0-9a-f]{12}", call_id)
    assert events[0][1:] == (
        "thinker",
        "thinker_v2",
        {
            "server": "demo_db",
            "tool": "count_customers",
            "call_id": call_id,
            "arguments": preview({"city": "Berlin"}, DETAIL_CHARS),
            "hints": ["read-only"],
        },
    )
    assert data == {
        "server": "demo_db",
        "tool": "count_customers",
        "call_id": call_id,
        "ok": True,
        "result": preview(result.data, DETAIL_CHARS),
        "duration_ms": result.duration_ms,
    }
    await handle.call("count_customers", {"city": "Paris"})
    assert events[3][3]["call_id"] == events[2][3]["call_id"] != call_id


async def test_handle_events_for_failures(tools: ToolManager) -> None:
    events: list[tuple[Any, ...]] = []
    handle = _context(tools, events).tools
    await handle.call("a.fail", {"message": "nope"})
    with pytest.raises(ToolError):
        await handle.call("no_such_tool", {})
    with pytest.raises(ToolError):
        await handle.call("b.sleep", {"seconds": 5}, timeout_s=0.2)
    types = [(e[0], e[3]["tool"]) for e in events]
    assert types == [
        ("tool.started", "fail"),
        ("tool.finished", "fail"),
        ("tool.failed", "no_such_tool"),
        ("tool.started", "sleep"),
        ("tool.failed", "sleep"),
    ]
    assert events[1][3]["ok"] is False
    assert events[1][3]["error"] == "Error executing tool fail: nope"
    assert events[2][3]["error"].startswith("unknown tool 'no_such_tool'")
    assert events[4][3]["error"].startswith("tool 'b.sleep' did not finish within 0.2 s")
    assert [events[i][3]["error_kind"] for i in (2, 4)] == ["unknown", "timeout"]
    assert events[2][3]["server"] is None
    assert re.fullmatch(r"[0-9a-f]{12}", events[2][3]["call_id"])  # refused calls too
    assert events[3][3]["call_id"] == events[4][3]["call_id"] != events[2][3]["call_id"]
    assert events[4][3]["duration_ms"] >= 200


async def test_handle_previews_are_short(tools: ToolManager) -> None:
    events: list[tuple[Any, ...]] = []
    await _context(tools, events).tools.call("a.echo", {"text": "x" * 5000})
    assert len(events[0][3]["arguments"]) == DETAIL_CHARS
    assert len(events[1][3]["result"]) == DETAIL_CHARS


# --- configuration -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"name": "x"},
            "tool server 'x' needs exactly one of 'command' (stdio) or 'url' "
            "(streamable HTTP); neither was given",
        ),
        (
            {"name": "x", "command": ["srv"], "url": "http://h/mcp"},
            "tool server 'x' needs exactly one of 'command' (stdio) or 'url' (streamable HTTP); "
            "both was given",
        ),
        ({"name": "x", "command": []}, "tool server 'x': 'command' must not be empty"),
        (
            {"name": "x", "url": "http://h/mcp", "env": {"A": "1"}},
            "tool server 'x': 'env' and 'cwd' apply to stdio servers ('command') only",
        ),
        (
            {"name": "my.db", "url": "http://h/mcp"},
            "tool server name 'my.db' may contain only letters, digits, '_' and '-' (it prefixes "
            "qualified tool names as 'name.tool')",
        ),
        ({"name": "x", "url": "http://h/mcp", "timeout_s": 0}, "greater than 0"),
        (
            {"name": "x", "command": ["srv"], "headers": {"Authorization": "t"}},
            "tool server 'x': 'headers' apply to HTTP servers ('url') only; pass settings to "
            "a stdio server through 'env' or its 'command' arguments",
        ),
        (
            {"name": "x", "url": "http://h/mcp", "headers": {"Bad Name": "v"}},
            "tool server 'x': header name 'Bad Name' is not a valid HTTP header name",
        ),
        (
            {"name": "x", "url": "http://h/mcp", "headers": {"Accept": "text/plain"}},
            "tool server 'x': header 'Accept' is set by the MCP transport itself and cannot be "
            "configured; "
            "configurable are e.g. Authorization or X-Api-Key",
        ),
        (
            {"name": "x", "url": "http://h/mcp", "headers": {"X-A": "1\r\nX-B: 2"}},
            "tool server 'x': header 'X-A': the value must not contain line breaks",
        ),
        (
            {"name": "x", "url": "http://h/mcp", "include": []},
            "tool server 'x': 'include' must name at least one tool; leave it out to offer "
            "every tool, or set "
            "'enabled: false' to offer none",
        ),
        (
            {"name": "x", "url": "http://h/mcp", "exclude": ["a", " "]},
            "tool server 'x': 'exclude' patterns must not be empty; got ['a', ' ']",
        ),
    ],
)
def test_config_validation(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        ToolServerConfig(**fields)


def test_duplicate_server_names_are_refused() -> None:
    config = ToolServerConfig(name="x", url="http://h/mcp")
    with pytest.raises(
        ValueError, match="tool server names must be unique; configured more than once: x"
    ):
        ToolManager([config, config])


def test_demo_db_server_config(tmp_path: Path) -> None:
    config = demo_db_server_config(str(tmp_path / "d.db"))
    assert config.name == "demo_db" and config.transport == "stdio"
    assert config.command == [
        sys.executable,
        "-P",  # nothing in the working directory can shadow the package
        "-m",
        "cogpipe.demo.server",
        "--db",
        str((tmp_path / "d.db").resolve()),
    ]
