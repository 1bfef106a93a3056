"""The demo database's read-only query layer: checked SQL and the tool functions.

Every query runs on a connection opened read-only (``file:...?mode=ro``), with
``PRAGMA query_only=ON``, an authorizer that allows reads only, a time limit and a row
limit, after a text check that admits one ``SELECT``/``WITH`` statement. The aggregate
helpers (:func:`list_tables`, :func:`describe_table`, :func:`count_customers`,
:func:`revenue_by_month`, :func:`invoice_summary`) are what the MCP tools of
``cogpipe.demo.server`` call, each with the database path first.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from .data import TABLES, _connect, _one, table_counts

__all__ = [
    "MAX_ROWS",
    "QUERY_TIME_LIMIT_S",
    "QueryError",
    "QueryResult",
    "check_select",
    "count_customers",
    "describe_table",
    "invoice_summary",
    "list_tables",
    "revenue_by_month",
    "run_query",
]

MAX_ROWS = 1000
QUERY_TIME_LIMIT_S = 5.0


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
