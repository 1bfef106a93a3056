"""The demo MCP tool server: its database, and its tools through a real MCP client.

The tool tests run once over stdio (the server as a subprocess of the client) and once
over streamable HTTP (the server started as a process on a free port of 127.0.0.1).
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters, stdio_client

from cogpipe.demo.server import SCHEMA_VERSION, TABLES, ensure_db, main, table_counts
from tests.helpers.mcp_servers import ROOT, http_server
from tests.helpers.server_thread import free_port


def _rows(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def _scalar(path: Path, sql: str, *params: Any) -> Any:
    return _rows(path, sql, *params)[0][0]


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    for table in TABLES:
        for row in _rows(path, f"SELECT * FROM {table} ORDER BY id"):
            digest.update(repr(row).encode())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_db(tmp_path_factory.mktemp("demo") / "demo.db")


# --- the database ------------------------------------------------------------------------


def test_generation_is_deterministic(tmp_path: Path, db: Path) -> None:
    other = ensure_db(tmp_path / "other.db")
    assert table_counts(other) == table_counts(db)
    assert _checksum(other) == _checksum(db)


def test_generation_is_fast_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "demo.db"
    started = time.perf_counter()
    assert ensure_db(path) == path.resolve()
    assert time.perf_counter() - started < 1.0
    stamp = path.stat().st_mtime_ns
    ensure_db(path)
    assert path.stat().st_mtime_ns == stamp
    assert [p.name for p in path.parent.iterdir()] == ["demo.db"]  # no temp files left


def test_outdated_schema_is_regenerated(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    ensure_db(path)
    assert _scalar(path, "PRAGMA user_version") == SCHEMA_VERSION
    assert _checksum(path) == _checksum(db)


def test_row_counts_and_values_are_plausible(db: Path) -> None:
    counts = table_counts(db)
    assert 150 <= counts["customers"] <= 500
    assert counts["devices"] > 2 * counts["customers"]
    assert counts["contracts"] >= counts["customers"]
    assert counts["invoices"] > 4 * counts["contracts"]
    assert 2000 <= sum(counts.values()) <= 10000
    cities = {r[0] for r in _rows(db, "SELECT DISTINCT city FROM customers")}
    assert {"Berlin", "Hamburg", "Munich", "Vienna", "Zurich"} <= cities
    statuses = _scalar(db, "SELECT group_concat(DISTINCT status) FROM invoices")
    assert sorted(statuses.split(",")) == ["open", "overdue", "paid"]
    # invoices belong to their contract's customer and fall due after they are issued
    assert (
        _scalar(
            db,
            """SELECT COUNT(*) FROM invoices i JOIN contracts c ON c.id = i.contract_id
                          WHERE c.customer_id != i.customer_id OR i.due_at <= i.issued_at""",
        )
        == 0
    )


def test_init_only_prints_path_and_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], db: Path
) -> None:
    path = tmp_path / "init.db"
    assert main(["--init-only", "--db", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(path.resolve())
    assert out[1:] == [f"{t:10} {n:6}" for t, n in table_counts(db).items()]


# --- the tools, over stdio and HTTP --------------------------------------------------------


@pytest.fixture(scope="module", params=["stdio", "http"])
async def client(request: pytest.FixtureRequest, db: Path) -> AsyncIterator[Client]:
    args = ["-m", "cogpipe.demo.server", "--db", str(db)]
    if request.param == "stdio":
        params = StdioServerParameters(command=sys.executable, args=args, cwd=str(ROOT))
        async with Client(stdio_client(params), cache=None) as session:
            yield session
    else:
        port = free_port()
        with http_server([*args, "--transport", "http", "--port", str(port)], port) as url:
            async with Client(url, cache=None) as session:
                yield session


async def _call(client: Client, tool: str, **arguments: Any) -> Any:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def _error(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error
    return "\n".join(block.text for block in result.content)  # type: ignore[union-attr]


async def test_lists_the_tools(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert sorted(tools) == [
        "count_customers",
        "describe_table",
        "invoice_summary",
        "list_tables",
        "query",
        "revenue_by_month",
    ]
    assert tools["query"].input_schema["required"] == ["sql"]
    assert all(t.description for t in tools.values())
    assert all(t.title and t.annotations and t.annotations.read_only_hint for t in tools.values())
    assert tools["query"].title == "Run a SQL query"


async def test_list_tables(client: Client, db: Path) -> None:
    data = await _call(client, "list_tables")
    assert {t["name"]: t["rows"] for t in data["tables"]} == table_counts(db)


async def test_describe_table(client: Client, db: Path) -> None:
    data = await _call(client, "describe_table", table="invoices")
    assert [c["name"] for c in data["columns"]] == [
        "id",
        "customer_id",
        "contract_id",
        "issued_at",
        "due_at",
        "amount",
        "status",
    ]
    assert data["columns"][2]["references"] == "contracts.id"
    assert data["row_count"] == table_counts(db)["invoices"]
    assert [row[0] for row in data["sample"]["rows"]] == [1, 2, 3]
    error = await _error(client, "describe_table", table="orders")
    assert "unknown table 'orders'. Tables: customers, devices, contracts, invoices" in error


async def test_query_select(client: Client, db: Path) -> None:
    sql = "SELECT city, COUNT(*) AS n FROM customers GROUP BY city ORDER BY n DESC, city"
    data = await _call(client, "query", sql=sql + ";")
    expected = [list(row) for row in _rows(db, sql)]
    assert data == {
        "columns": ["city", "n"],
        "rows": expected,
        "row_count": len(expected),
        "truncated": False,
    }
    semicolon = await _call(client, "query", sql="SELECT ';' AS s -- a comment; with ;")
    assert semicolon["rows"] == [[";"]]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO customers (name) VALUES ('x')",
        "UPDATE customers SET city = 'Paris'",
        "DELETE FROM invoices",
        "DROP TABLE customers",
        "CREATE TABLE t (x)",
        "REPLACE INTO customers (id) VALUES (1)",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA query_only = OFF",
        "PRAGMA user_version = 7",
        "VACUUM",
    ],
)
async def test_query_refuses_statements_other_than_select(
    client: Client, db: Path, sql: str
) -> None:
    word = sql.split()[0]
    error = await _error(client, "query", sql=sql)
    assert (
        f"only SELECT (or WITH ... SELECT) queries are allowed, not {word}: "
        "the demo database is read-only"
    ) in error
    assert _scalar(db, "PRAGMA user_version") == SCHEMA_VERSION


async def test_query_refuses_writes_hidden_in_a_with_clause(client: Client, db: Path) -> None:
    before = table_counts(db)
    error = await _error(client, "query", sql="WITH x AS (SELECT 1) DELETE FROM invoices")
    assert "SQL refused (not authorized): the demo database allows reading only" in error
    assert table_counts(db) == before


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 1; SELECT 2",
        "SELECT 1; DELETE FROM invoices",
        "SELECT 1;\n-- note\nDROP TABLE customers;",
    ],
)
async def test_query_refuses_several_statements(client: Client, sql: str) -> None:
    error = await _error(client, "query", sql=sql)
    assert (
        "only one statement per query is allowed, got 2; remove everything after the "
        "first ';'" in error
    )


async def test_query_row_limit(client: Client) -> None:
    data = await _call(client, "query", sql="SELECT id FROM invoices ORDER BY id", limit=10)
    assert data["rows"] == [[i] for i in range(1, 11)]
    assert (data["row_count"], data["truncated"]) == (10, True)
    default = await _call(client, "query", sql="SELECT id FROM invoices")
    assert (default["row_count"], default["truncated"]) == (100, True)
    exact = await _call(client, "query", sql="SELECT id FROM customers WHERE id <= 5", limit=5)
    assert (exact["row_count"], exact["truncated"]) == (5, False)
    assert "less than or equal to 1000" in await _error(client, "query", sql="SELECT 1", limit=5000)


async def test_query_sql_errors_are_clear(client: Client) -> None:
    error = await _error(client, "query", sql="SELECT FROM customers WHERE")
    assert (
        'SQL error: near "FROM": syntax error. Tables: customers, devices, contracts, '
        "invoices (use describe_table for their columns)" in error
    )
    assert "SQL error: no such column: colour" in await _error(
        client, "query", sql="SELECT colour FROM devices"
    )
    assert "the query is empty" in await _error(client, "query", sql="  ;  ")


async def test_count_customers_matches_sqlite(client: Client, db: Path) -> None:
    berlin = _scalar(db, "SELECT COUNT(*) FROM customers WHERE city = 'Berlin'")
    assert berlin > 10
    data = await _call(client, "count_customers", city="Berlin")
    assert data == {"count": berlin, "filters": {"city": "Berlin"}}
    both = await _call(client, "count_customers", country="austria", segment="smb")
    assert both["count"] == _scalar(
        db, "SELECT COUNT(*) FROM customers WHERE country = 'Austria' AND segment = 'smb'"
    )
    everyone = await _call(client, "count_customers")
    assert everyone["count"] == table_counts(db)["customers"]


async def test_revenue_and_invoice_summary(client: Client, db: Path) -> None:
    revenue = await _call(client, "revenue_by_month", year=2025)
    assert [m["month"] for m in revenue["months"]] == [f"2025-{m:02d}" for m in range(1, 7)]
    total = _scalar(db, "SELECT ROUND(SUM(amount), 2) FROM invoices WHERE issued_at >= '2025'")
    assert revenue["total_invoiced"] == pytest.approx(total)
    summary = await _call(client, "invoice_summary")
    assert [s["status"] for s in summary["statuses"]] == ["open", "overdue", "paid"]
    assert summary["total_invoices"] == table_counts(db)["invoices"]
    overdue = await _call(client, "invoice_summary", status="overdue")
    assert overdue["statuses"] == [summary["statuses"][1]]
    assert "Input should be 'paid', 'open' or 'overdue'" in await _error(
        client, "invoice_summary", status="late"
    )
