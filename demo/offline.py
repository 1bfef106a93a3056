"""The offline model's rules for the demo database: which of its tools answers a data
request, with which arguments (a counted city, a listing as SQL, revenue of a year).

They are an extra for the demo MCP server (``cogpipe.demo.server``), registered with
the generic offline planner (``cogpipe.nodes.offline.planner.register_planner``) by
:func:`register`, which the composition root (``cogpipe.assembly``) calls when the demo
server is one of the tool servers. They answer only when the demo server's tools are
listed, and name them as listed (``query``, ``demo_db.query`` or ``demo_db__query``
when another server has a tool of the same name); for anything else the generic
planner matches the message against whatever tools are listed.

The rules never produce data: numbers and names in answers come from tool results.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cogpipe.nodes.offline.planner import ToolSpec, register_planner

__all__ = ["TOOLS", "listed_names", "register", "steps", "tool_steps"]

TOOLS = (
    "count_customers",
    "describe_table",
    "invoice_summary",
    "list_tables",
    "query",
    "revenue_by_month",
)
"""The demo server's tool names."""

_ENTITIES = {
    "customer": "customers",
    "client": "customers",
    "device": "devices",
    "contract": "contracts",
    "invoice": "invoices",
}
_MONEY = re.compile(r"\b(revenue|sales|turnover|income)\b", re.I)
_COUNT = re.compile(r"\b(how many|number of|count|total)\b", re.I)
_LIST = re.compile(r"\b(list|show|which|who|display|give me|names?)\b", re.I)
_PLACE = re.compile(r"\b(?i:in|from|at|based in|located in)\s+([A-Z][\w-]+)")
_YEAR = re.compile(r"\b(20\d\d)\b")
_SEGMENT = re.compile(r"\b(smb|midmarket|enterprise)\b", re.I)
_STATUS = {
    "devices": ("active", "inactive", "faulty", "retired"),
    "contracts": ("active", "ended", "cancelled"),
    "invoices": ("paid", "open", "overdue"),
}
_COUNTRIES = {
    "Germany",
    "Austria",
    "Switzerland",
    "France",
    "Italy",
    "Spain",
    "Netherlands",
    "Belgium",
    "Poland",
    "Denmark",
    "Sweden",
    "Norway",
    "Czechia",
    "Luxembourg",
}
_COLUMNS = {
    "customers": "c.name, c.company, c.city, c.country, c.segment",
    "devices": "d.type, d.model, d.serial, d.status, c.company, c.city",
    "contracts": "k.plan, k.monthly_fee, k.start_date, k.end_date, k.status, c.company",
    "invoices": "i.issued_at, i.amount, i.status, c.company, c.city",
}
_FROM = {
    "customers": "customers c",
    "devices": "devices d JOIN customers c ON c.id = d.customer_id",
    "contracts": "contracts k JOIN customers c ON c.id = k.customer_id",
    "invoices": "invoices i JOIN customers c ON c.id = i.customer_id",
}
_ALIAS = {"devices": "d", "contracts": "k", "invoices": "i"}


def register() -> None:
    """Make the generic offline planner consult :func:`steps` first (idempotent)."""
    register_planner(steps)


def steps(message: str, tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Return the demo database steps for ``message`` with the tools as listed, or ``[]``
    when the demo server's tools are not listed or the message is no data request."""
    names = listed_names(tools)
    return [{**s, "tool": names[s["tool"]]} for s in tool_steps(message) if s["tool"] in names]


def listed_names(tools: Sequence[ToolSpec]) -> dict[str, str]:
    """Return demo tool name -> the name it is listed under, for the server that lists
    ``count_customers`` (the listed name is bare, ``server.tool`` or ``server__tool``)."""
    servers: dict[str, dict[str, str]] = {}
    for tool in tools:
        listed = str(tool["name"])
        prefix, bare = _split(listed)
        if bare in TOOLS:
            servers.setdefault(prefix, {})[bare] = listed
    return next((found for found in servers.values() if "count_customers" in found), {})


def _split(name: str) -> tuple[str, str]:
    for separator in (".", "__"):
        if separator in name:
            prefix, _, bare = name.rpartition(separator)
            return prefix, bare
    return "", name


def _entity(low: str) -> str | None:
    return next((table for word, table in _ENTITIES.items() if word in low), None)


def _filters(text: str, table: str) -> dict[str, str]:
    """Return ``{"city"|"country": place, "segment"/"status": word}`` found in ``text``."""
    found: dict[str, str] = {}
    place = _PLACE.search(text)
    if place:
        found["country" if place.group(1) in _COUNTRIES else "city"] = place.group(1)
    segment = _SEGMENT.search(text)
    if segment and table == "customers":
        found["segment"] = segment.group(1).lower()
    status = next((s for s in _STATUS.get(table, ()) if re.search(rf"\b{s}\b", text, re.I)), None)
    if status:
        found["status"] = status
    return found


def _where(table: str, filters: dict[str, str]) -> str:
    own = _ALIAS.get(table, "c")
    parts = []
    for key, value in filters.items():
        column = f"{own}.status" if key == "status" else f"c.{key}"
        parts.append(f"{column} = '{value.replace(chr(39), chr(39) * 2)}' COLLATE NOCASE")
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def _step(tool: str, why: str, **arguments: Any) -> dict[str, Any]:
    return {"tool": tool, "arguments": arguments, "why": why}


def tool_steps(text: str) -> list[dict[str, Any]]:
    """Return the steps (``{"tool", "arguments", "why"}``, bare tool names) that answer a
    data request against the demo database, or ``[]`` when ``text`` is none."""
    low = text.lower()
    table = _entity(low)
    year = _YEAR.search(text)
    if _MONEY.search(text) and table in (None, "invoices") and not _LIST.search(text):
        args = {"year": int(year.group(1))} if year else {}
        return [_step("revenue_by_month", "invoiced EUR per month", **args)]
    if table is None:
        if re.search(r"\b(tables|database|data do you have)\b", low):
            return [_step("list_tables", "what data there is")]
        return []
    filters = _filters(text, table)
    counting = bool(_COUNT.search(text)) or not _LIST.search(text)
    if table == "customers" and counting and "status" not in filters:
        return [_step("count_customers", "count matching customers", **filters)]
    if table == "invoices" and counting and set(filters) <= {"status"}:
        return [_step("invoice_summary", "invoice counts and amounts per status", **filters)]
    where = _where(table, filters)
    if counting:
        sql = f"SELECT COUNT(*) AS {table[:-1]}_count FROM {_FROM[table]}{where}"
        return [_step("query", f"count {table}", sql=sql)]
    sql = f"SELECT {_COLUMNS[table]} FROM {_FROM[table]}{where} ORDER BY 1"
    return [_step("query", f"list {table}", sql=sql, limit=100)]
