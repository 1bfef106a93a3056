"""The demo MCP tool server: a small-business SQLite database, read-only, over MCP.

A separate process that speaks the Model Context Protocol through the ``mcp`` SDK's
``MCPServer`` (stdio or streamable HTTP), so data questions in the demo graphs have
something real to query. The database (customers, devices, contracts, invoices of a
DACH-region IoT service company; amounts in EUR) is generated deterministically from a
fixed seed on first run and reused afterwards; a schema version stored in
``PRAGMA user_version`` regenerates it when this module's schema changes.

Every query runs on a connection opened read-only (``file:...?mode=ro``), with
``PRAGMA query_only=ON``, an authorizer that allows reads only, a time limit and a row
limit, after a text check that admits one ``SELECT``/``WITH`` statement.

Run it::

    python -m server.demo_db                          # stdio (what ToolManager starts)
    python -m server.demo_db --transport http --port 8766   # http://127.0.0.1:8766/mcp
    python -m server.demo_db --init-only              # create the DB, print row counts
"""

from __future__ import annotations

import argparse
import os
import random
import re
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import anyio.to_thread
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from engine.tools import ToolServerConfig

__all__ = [
    "SCHEMA_VERSION",
    "TABLES",
    "QueryError",
    "QueryResult",
    "build_server",
    "check_select",
    "count_customers",
    "default_db_path",
    "demo_db_server_config",
    "describe_table",
    "ensure_db",
    "invoice_summary",
    "list_tables",
    "main",
    "revenue_by_month",
    "run_query",
    "table_counts",
]

SCHEMA_VERSION = 1
SEED = 20240611
TODAY = date(2025, 6, 30)
"""The database's "today": fixed, so every generation gives the same rows."""
INVOICES_FROM = date(2024, 1, 1)
MAX_ROWS = 1000
QUERY_TIME_LIMIT_S = 5.0

TABLES = {
    "customers": "Customer companies with their contact person, city, country and segment.",
    "devices": "IoT devices installed at customers (routers, gateways, sensors, cameras).",
    "contracts": "Service contracts: plan, monthly fee in EUR, start/end date, status.",
    "invoices": "Monthly invoices per contract since 2024-01: amount in EUR, "
    "status paid/open/overdue.",
}

_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, company TEXT NOT NULL,
  city TEXT NOT NULL, country TEXT NOT NULL, segment TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE devices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id),
  type TEXT NOT NULL, model TEXT NOT NULL, serial TEXT NOT NULL UNIQUE, status TEXT NOT NULL,
  installed_at TEXT NOT NULL);
CREATE TABLE contracts (id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id), plan TEXT NOT NULL,
  monthly_fee REAL NOT NULL, start_date TEXT NOT NULL, end_date TEXT NOT NULL,
  status TEXT NOT NULL);
CREATE TABLE invoices (id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  contract_id INTEGER NOT NULL REFERENCES contracts(id), issued_at TEXT NOT NULL,
  due_at TEXT NOT NULL, amount REAL NOT NULL, status TEXT NOT NULL);
CREATE INDEX customers_city ON customers(city);
CREATE INDEX devices_customer ON devices(customer_id);
CREATE INDEX contracts_customer ON contracts(customer_id);
CREATE INDEX invoices_customer ON invoices(customer_id);
CREATE INDEX invoices_issued ON invoices(issued_at);
"""


def _words(text: str) -> list[str]:
    return text.split()


# "city:country:weight", weight = how often customers are in that city
_CITIES = [
    (city, country, int(weight))
    for city, country, weight in (
        item.split(":")
        for item in _words(
            "Berlin:Germany:14 Hamburg:Germany:9 Munich:Germany:9 Cologne:Germany:6 "
            "Frankfurt:Germany:6 Stuttgart:Germany:5 Leipzig:Germany:3 Nuremberg:Germany:3 "
            "Vienna:Austria:8 Graz:Austria:3 Linz:Austria:2 Salzburg:Austria:2 "
            "Zurich:Switzerland:7 Geneva:Switzerland:3 Basel:Switzerland:3 Bern:Switzerland:2"
        )
    )
]
_FIRST = _words(
    "Anna Ben Clara David Elena Felix Greta Hannah Jonas Katrin Lukas Marie Nina Oliver "
    "Paula Sophie Tobias Ursula Viktor Jana Moritz Lea Stefan Sabine Thomas Julia Markus Laura"
)
_LAST = _words(
    "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Hoffmann Koch Richter Klein "
    "Wolf Huber Gruber Keller Brunner Steiner Baumann Frei Lang Berger Vogel Schwarz Zimmermann"
)
_PREFIX = _words(
    "Nord Alpen Rhein Elb Isar Donau Spree Main Berg See Stadt Grün Blau Licht Stern Hafen "
    "Wald Feld"
)
_TRADE = _words(
    "tech logistik bau energie medien handel werk data pharma hotel food systeme mobil immobilien"
)
_SUFFIX = {
    "Germany": ["GmbH", "GmbH", "AG", "KG"],
    "Austria": ["GmbH", "GmbH", "AG"],
    "Switzerland": ["AG", "AG", "GmbH", "SA"],
}
# segment, weight, devices per customer (min, max), plans
_SEGMENTS = [
    ("smb", 60, (1, 3), ("basic", "standard")),
    ("midmarket", 25, (2, 6), ("standard", "premium")),
    ("enterprise", 15, (4, 12), ("premium", "enterprise")),
]
_FEES = {"basic": 49.0, "standard": 129.0, "premium": 349.0, "enterprise": 990.0}
_DEVICES = {
    "router": ["RX-200", "RX-500 Pro"],
    "gateway": ["GW-10", "GW-20 LTE"],
    "sensor": ["TS-1 Temp", "HS-2 Humidity", "AQ-3 Air"],
    "camera": ["CAM-HD", "CAM-4K"],
    "thermostat": ["TH-Smart"],
}


# --- generation --------------------------------------------------------------------------


def default_db_path() -> Path:
    """Return ``$COGPIPE_DEMO_DB``, else ``var/demo.db`` under the current directory."""
    return Path(os.environ.get("COGPIPE_DEMO_DB") or Path.cwd() / "var" / "demo.db")


def ensure_db(path: str | Path | None = None) -> Path:
    """Create the demo database at ``path`` unless a current one is there; return its path.

    Idempotent and safe against concurrent starts: a database whose ``user_version`` is
    ``SCHEMA_VERSION`` is reused; otherwise a new one is written to a temporary file and
    moved into place atomically. Generation takes well under a second.
    """
    target = Path(path) if path is not None else default_db_path()
    target = target.expanduser().resolve()
    if _schema_version(target) == SCHEMA_VERSION:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        _generate(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _schema_version(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:
        return int(_one(path, "PRAGMA user_version")[0][0])
    except sqlite3.DatabaseError:
        return None


def _generate(path: Path) -> None:
    rng = random.Random(SEED)
    customers = _customers(rng)
    devices = _devices(rng, customers)
    contracts = _contracts(rng, customers, devices)
    invoices = _invoices(rng, contracts)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.executescript(_SCHEMA)
            for table, rows in (
                ("customers", customers),
                ("devices", devices),
                ("contracts", contracts),
                ("invoices", invoices),
            ):
                marks = ",".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    finally:
        conn.close()


def _day(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _customers(rng: random.Random) -> list[tuple[Any, ...]]:
    rows = []
    weights = [w for *_, w in _CITIES]
    for cid in range(1, 241):
        city, country, _ = rng.choices(_CITIES, weights)[0]
        segment = rng.choices(_SEGMENTS, [s[1] for s in _SEGMENTS])[0][0]
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        company = f"{rng.choice(_PREFIX)}{rng.choice(_TRADE)} {rng.choice(_SUFFIX[country])}"
        created = _day(rng, date(2019, 1, 1), date(2025, 3, 31))
        rows.append((cid, name, company, city, country, segment, created.isoformat()))
    return rows


def _devices(rng: random.Random, customers: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    spans = {s[0]: s[2] for s in _SEGMENTS}
    for cid, *_, segment, created in customers:
        for _ in range(rng.randint(*spans[segment])):
            kind = rng.choices(list(_DEVICES), [3, 2, 5, 2, 2])[0]
            did = len(rows) + 1
            installed = _day(rng, date.fromisoformat(created), TODAY)
            serial = f"{kind[:2].upper()}{installed.year % 100:02d}-{did:05d}-{rng.randint(10, 99)}"
            status = rng.choices(["active", "inactive", "faulty", "retired"], [80, 8, 5, 7])[0]
            rows.append(
                (did, cid, kind, rng.choice(_DEVICES[kind]), serial, status, installed.isoformat())
            )
    return rows


def _contracts(
    rng: random.Random, customers: list[tuple[Any, ...]], devices: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    plans = {s[0]: s[3] for s in _SEGMENTS}
    device_count: dict[int, int] = {}
    for _, cid, *_ in devices:
        device_count[cid] = device_count.get(cid, 0) + 1
    rows: list[tuple[Any, ...]] = []
    for cid, *_, segment, created in customers:
        start = _day(rng, date.fromisoformat(created), date.fromisoformat(created) + timedelta(90))
        for _ in range(rng.choices([1, 2, 3], [70, 25, 5])[0]):
            if start > TODAY:
                break
            plan = rng.choice(plans[segment])
            fee = round(_FEES[plan] * (1 + 0.04 * device_count.get(cid, 0)), 2)
            end = start + timedelta(days=365 * rng.choice([1, 2, 3]) - 1)
            cancelled = rng.random() < 0.08
            if cancelled:
                end = _day(rng, start + timedelta(days=60), end)
            status = "cancelled" if cancelled else ("ended" if end < TODAY else "active")
            rows.append((len(rows) + 1, cid, plan, fee, start.isoformat(), end.isoformat(), status))
            start = end + timedelta(days=1)
    return rows


def _invoices(rng: random.Random, contracts: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for kid, cid, _, fee, start_s, end_s, _ in contracts:
        start, end = date.fromisoformat(start_s), min(date.fromisoformat(end_s), TODAY)
        month = max(date(start.year, start.month, 1), INVOICES_FROM)
        while month <= end:
            issued = max(month, start)
            due = issued + timedelta(days=30)
            extra = rng.choice([0.0, 0.0, 0.0, round(rng.uniform(5, 80), 2)])
            status = "open" if due >= TODAY else "overdue" if rng.random() < 0.07 else "paid"
            rows.append(
                (
                    len(rows) + 1,
                    cid,
                    kid,
                    issued.isoformat(),
                    due.isoformat(),
                    round(fee + extra, 2),
                    status,
                )
            )
            month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return rows


# --- read-only queries -------------------------------------------------------------------


class QueryError(ValueError):
    """Raised when a query is refused or fails; the text says why and what to do."""


class QueryResult(BaseModel):
    """Rows of one query: ``rows[i][j]`` is column ``columns[j]`` of row ``i``."""

    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool = Field(description="True when more rows matched than the limit allowed")


# String literals, quoted identifiers and comments, so ';' and keywords inside them are ignored.
_CODE = re.compile(
    r"""'(?:[^']|'')*'?|"(?:[^"]|"")*"?|`[^`]*`?|\[[^\]]*\]?"""
    r"""|--[^\n]*|/\*.*?(?:\*/|$)""",
    re.S,
)
_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]*)")
_READ_ACTIONS = {
    sqlite3.SQLITE_SELECT,
    sqlite3.SQLITE_READ,
    sqlite3.SQLITE_FUNCTION,
    sqlite3.SQLITE_RECURSIVE,
}


def check_select(sql: str) -> str:
    """Return ``sql`` without trailing semicolons if it is one SELECT/WITH statement.

    Raises:
        QueryError: empty text, several statements, or a statement that is not a query.
    """
    code = _CODE.sub(lambda m: " " if m.group().startswith(("--", "/*")) else "''", sql)
    statements = [part for part in code.split(";") if part.strip()]
    if not statements:
        raise QueryError("the query is empty: give one SELECT statement")
    if len(statements) > 1:
        raise QueryError(
            f"only one statement per query is allowed, got {len(statements)}; "
            "remove everything after the first ';'"
        )
    match = _FIRST_WORD.match(statements[0])
    word = match.group(1).upper() if match else ""
    if word not in ("SELECT", "WITH"):
        raise QueryError(
            f"only SELECT (or WITH ... SELECT) queries are allowed, not "
            f"{word or 'this statement'}: the demo database is read-only"
        )
    return sql.strip().rstrip(";").strip()


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _authorize(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_OK if action in _READ_ACTIONS else sqlite3.SQLITE_DENY


def run_query(path: Path, sql: str, limit: int = 100) -> QueryResult:
    """Run one read-only query on the database at ``path``, returning at most ``limit`` rows.

    Raises:
        QueryError: the query was refused (see :func:`check_select`), is not valid SQL,
            touches something other than reading, or ran longer than 5 s.
    """
    sql = check_select(sql)
    limit = max(1, min(limit, MAX_ROWS))
    deadline = time.monotonic() + QUERY_TIME_LIMIT_S
    conn = _connect(path)
    try:
        conn.set_authorizer(_authorize)
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
        cursor = conn.execute(sql)
        rows = cursor.fetchmany(limit + 1)
        columns = [d[0] for d in cursor.description or ()]
    except sqlite3.Error as exc:
        raise QueryError(_explain(exc)) from exc
    finally:
        conn.close()
    values = [[v.hex() if isinstance(v, bytes) else v for v in row] for row in rows[:limit]]
    return QueryResult(
        columns=columns, rows=values, row_count=len(values), truncated=len(rows) > limit
    )


def _explain(exc: sqlite3.Error) -> str:
    text = str(exc)
    if text == "interrupted":
        return (
            f"the query ran longer than {QUERY_TIME_LIMIT_S:g} s and was stopped; "
            "add filters or aggregate"
        )
    if "not authorized" in text or "readonly" in text or "read-only" in text:
        return f"SQL refused ({text}): the demo database allows reading only"
    tables = ", ".join(TABLES)
    return f"SQL error: {text}. Tables: {tables} (use describe_table for their columns)"


def _one(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    conn = _connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def table_counts(path: Path) -> dict[str, int]:
    """Return ``{table: row count}`` for every demo table."""
    return {t: _one(path, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


# --- aggregate helpers -------------------------------------------------------------------


class TableInfo(BaseModel):
    """One table: name, what it holds, how many rows."""

    name: str
    description: str
    rows: int


class TableList(BaseModel):
    """Every table of the demo database."""

    tables: list[TableInfo]


class Column(BaseModel):
    """One column of a table."""

    name: str
    type: str
    not_null: bool
    primary_key: bool
    references: str | None = Field(None, description="'table.column' for a foreign key")


class TableDescription(BaseModel):
    """A table's columns, row count and three sample rows."""

    table: str
    description: str
    row_count: int
    columns: list[Column]
    sample: QueryResult


class CustomerCount(BaseModel):
    """How many customers match the given filters (case-insensitive)."""

    count: int
    filters: dict[str, str]


class MonthRevenue(BaseModel):
    """Invoiced amounts of one month (by issue date), in EUR."""

    month: str
    invoices: int
    invoiced: float
    paid: float
    outstanding: float = Field(description="open + overdue")


class Revenue(BaseModel):
    """Revenue per month, in EUR."""

    currency: str = "EUR"
    year: int | None
    months: list[MonthRevenue]
    total_invoiced: float


class StatusSummary(BaseModel):
    """Invoices of one status."""

    status: str
    invoices: int
    customers: int
    amount: float


class InvoiceSummary(BaseModel):
    """Invoice counts and amounts per status, in EUR."""

    currency: str = "EUR"
    statuses: list[StatusSummary]
    total_invoices: int
    total_amount: float


def list_tables(path: Path) -> TableList:
    """Return every table with its description and row count."""
    counts = table_counts(path)
    return TableList(
        tables=[TableInfo(name=t, description=d, rows=counts[t]) for t, d in TABLES.items()]
    )


def describe_table(path: Path, table: str) -> TableDescription:
    """Return the columns, row count and first three rows of ``table``.

    Raises:
        QueryError: ``table`` is not one of the demo tables.
    """
    name = table.strip().lower()
    if name not in TABLES:
        raise QueryError(f"unknown table '{table}'. Tables: {', '.join(TABLES)}")
    refs = {r[3]: f"{r[2]}.{r[4]}" for r in _one(path, f"PRAGMA foreign_key_list({name})")}
    columns = [
        Column(
            name=c[1],
            type=c[2],
            not_null=bool(c[3]),
            primary_key=bool(c[5]),
            references=refs.get(c[1]),
        )
        for c in _one(path, f"PRAGMA table_info({name})")
    ]
    return TableDescription(
        table=name,
        description=TABLES[name],
        row_count=table_counts(path)[name],
        columns=columns,
        sample=run_query(path, f"SELECT * FROM {name} ORDER BY id", 3),
    )


def count_customers(
    path: Path, city: str | None = None, country: str | None = None, segment: str | None = None
) -> CustomerCount:
    """Count customers, optionally filtered by city, country and segment."""
    filters = {k: v for k, v in (("city", city), ("country", country), ("segment", segment)) if v}
    where = " AND ".join(f"{k} = ? COLLATE NOCASE" for k in filters) or "1"
    count = _one(path, f"SELECT COUNT(*) FROM customers WHERE {where}", tuple(filters.values()))[0][
        0
    ]
    return CustomerCount(count=count, filters=filters)


def revenue_by_month(path: Path, year: int | None = None) -> Revenue:
    """Sum invoice amounts per month of issue, optionally for one year only."""
    rows = _one(
        path,
        """
        SELECT substr(issued_at, 1, 7), COUNT(*), ROUND(SUM(amount), 2),
               ROUND(SUM(CASE WHEN status = 'paid' THEN amount ELSE 0 END), 2),
               ROUND(SUM(CASE WHEN status != 'paid' THEN amount ELSE 0 END), 2)
        FROM invoices WHERE ? IS NULL OR substr(issued_at, 1, 4) = ?
        GROUP BY 1 ORDER BY 1""",
        (year, str(year)),
    )
    months = [
        MonthRevenue(month=m, invoices=n, invoiced=a, paid=p, outstanding=o)
        for m, n, a, p, o in rows
    ]
    return Revenue(
        year=year, months=months, total_invoiced=round(sum(m.invoiced for m in months), 2)
    )


def invoice_summary(path: Path, status: str | None = None) -> InvoiceSummary:
    """Count invoices and sum their amounts per status (or for one status)."""
    rows = _one(
        path,
        """
        SELECT status, COUNT(*), COUNT(DISTINCT customer_id), ROUND(SUM(amount), 2)
        FROM invoices WHERE ? IS NULL OR status = ? GROUP BY status ORDER BY status""",
        (status, status),
    )
    statuses = [StatusSummary(status=s, invoices=n, customers=c, amount=a) for s, n, c, a in rows]
    return InvoiceSummary(
        statuses=statuses,
        total_invoices=sum(s.invoices for s in statuses),
        total_amount=round(sum(s.amount for s in statuses), 2),
    )


# --- the MCP server ----------------------------------------------------------------------

_INSTRUCTIONS = (
    "A read-only SQLite database of a small IoT service company in Germany, Austria and "
    "Switzerland: customers, devices, contracts, invoices (amounts in EUR, data up to "
    f"{TODAY.isoformat()}). Start with list_tables or describe_table; use query for "
    "anything the helpers do not answer."
)


def build_server(db_path: str | Path | None = None) -> MCPServer:
    """Return the ``demo_db`` MCPServer over the database at ``db_path`` (created if needed)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    path = ensure_db(db_path)
    server = MCPServer("demo_db", instructions=_INSTRUCTIONS, log_level="WARNING")

    async def run(fn: Any, *args: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(fn, path, *args)
        except QueryError as exc:
            raise ToolError(str(exc)) from None

    _add_table_tools(server, run)
    _add_summary_tools(server, run)
    return server


_Run = Callable[..., Awaitable[Any]]


def _add_table_tools(server: MCPServer, run: _Run) -> None:
    @server.tool(name="list_tables")
    async def _list_tables() -> TableList:
        """List the tables with a description and row count each."""
        return await run(list_tables)

    @server.tool(name="describe_table")
    async def _describe_table(
        table: Annotated[str, Field(description="customers, devices, contracts or invoices")],
    ) -> TableDescription:
        """Describe a table: columns (type, key, foreign key), row count, 3 sample rows."""
        return await run(describe_table, table)

    @server.tool(name="query")
    async def _query(
        sql: Annotated[str, Field(description="one SQLite SELECT (or WITH ... SELECT)")],
        limit: Annotated[int, Field(ge=1, le=MAX_ROWS, description="maximum rows")] = 100,
    ) -> QueryResult:
        """Run one read-only SQL query; returns columns, rows and whether rows were cut off."""
        return await run(run_query, sql, limit)


def _add_summary_tools(server: MCPServer, run: _Run) -> None:
    @server.tool(name="count_customers")
    async def _count_customers(
        city: str | None = None,
        country: str | None = None,
        segment: Literal["smb", "midmarket", "enterprise"] | None = None,
    ) -> CustomerCount:
        """Count customers, optionally by city (e.g. Berlin), country (Germany, Austria,
        Switzerland) and segment."""
        return await run(count_customers, city, country, segment)

    @server.tool(name="revenue_by_month")
    async def _revenue_by_month(year: int | None = None) -> Revenue:
        """Invoiced, paid and outstanding EUR per month of issue (optionally one year)."""
        return await run(revenue_by_month, year)

    @server.tool(name="invoice_summary")
    async def _invoice_summary(
        status: Literal["paid", "open", "overdue"] | None = None,
    ) -> InvoiceSummary:
        """Number of invoices, customers and EUR amount per invoice status."""
        return await run(invoice_summary, status)


def demo_db_server_config(db_path: str | None = None) -> ToolServerConfig:
    """Return the stdio config that starts this server for ``engine.tools.ToolManager``.

    Args:
        db_path: the database file; default ``$COGPIPE_DEMO_DB`` or ``./var/demo.db``
            (resolved now, so the server process may run in any directory).
    """
    from engine.tools import ToolServerConfig

    path = str(Path(db_path).resolve() if db_path else default_db_path().resolve())
    root = str(Path(__file__).resolve().parents[1])
    return ToolServerConfig(
        name="demo_db",
        command=[sys.executable, "-m", "server.demo_db", "--db", path],
        env={"PYTHONPATH": root},
    )


def main(argv: list[str] | None = None) -> int:
    """Run the demo server (``cogpipe demo-db`` and ``python -m server.demo_db``).

    Returns:
        The process exit code.
    """
    parser = argparse.ArgumentParser(prog="cogpipe demo-db", description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=["stdio", "http"], default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--db", help="database file (default: $COGPIPE_DEMO_DB or var/demo.db)")
    parser.add_argument(
        "--init-only",
        action="store_true",
        help="create the database, print its path and row counts, and exit",
    )
    args = parser.parse_args(argv)
    if args.init_only:
        path = ensure_db(args.db)
        print(path)
        for table, count in table_counts(path).items():
            print(f"{table:10} {count:6}")
        return 0
    server = build_server(args.db)
    if args.transport == "http":
        print(f"demo_db MCP server on http://{args.host}:{args.port}/mcp", file=sys.stderr)
        server.run(transport="streamable-http", host=args.host, port=args.port)
    else:
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
