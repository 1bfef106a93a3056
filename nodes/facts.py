"""Facts from tool results: outcomes, a deterministic summary, a check that a text adds no
numbers or names, and table controls for row data.

The check is deliberately conservative: a number counts as supported only when it
occurs in the results (their data, text, arguments, errors), in the question, or as the
length of a list in the data; a capitalised word (not starting a sentence) only when it
occurs in the same places, case-insensitively. When in doubt a caller falls back to
:func:`summarise`, which is built from the data alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

from cogpipe.engine.tools import ToolCallResult

from .types import Control, ToolOutcome

__all__ = [
    "controls_note",
    "outcome_of",
    "outcomes_json",
    "summarise",
    "table_of",
    "tables",
    "tool_message",
    "unsupported",
]

_NUMBER = re.compile(r"(?<![\w.])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[A-ZÄÖÜ][\w'\u2019-]*")
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s+|\n\s*[-*•]?\s*)$")
_ALWAYS = {"i", "eur", "ok", "id"}


def outcome_of(result: ToolCallResult) -> ToolOutcome:
    """Return a tool call's result as the outcome nodes pass on."""
    return ToolOutcome(
        tool=result.tool,
        server=result.server,
        arguments=result.arguments,
        ok=result.ok,
        text=result.text,
        data=result.data,
        error=result.error,
    )


def tool_message(outcome: ToolOutcome, limit: int = 6000) -> str:
    """Return an outcome as the JSON content of a ``tool`` chat message, at most ``limit``
    characters: when too long, table rows are dropped from the end (``row_count`` still
    tells how many there were), then the text is cut."""
    body = outcome.model_dump(mode="json", exclude={"server"})
    if body["data"] is not None:
        body.pop("text")
    text = json.dumps(body, ensure_ascii=False, default=str)
    rows = (body.get("data") or {}).get("rows") if isinstance(body.get("data"), dict) else None
    while len(text) > limit and isinstance(rows, list) and rows:
        del rows[len(rows) // 2 :]
        body["data"]["rows_shown"] = len(rows)
        text = json.dumps(body, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def outcomes_json(outcomes: list[ToolOutcome]) -> str:
    """Return outcomes as indented JSON for a prompt."""
    return json.dumps(
        [o.model_dump(mode="json", exclude={"server"}) for o in outcomes],
        ensure_ascii=False,
        indent=1,
        default=str,
    )


# -- the deterministic summary -----------------------------------------------------------


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None


def _args(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in arguments.items() if _scalar(v) and k != "limit")


def _row(row: list[Any]) -> str:
    return ", ".join(str(v) for v in row)


def _rows(outcome: ToolOutcome, data: dict[str, Any]) -> str:
    columns, rows = data.get("columns") or [], data.get("rows") or []
    count = data.get("row_count", len(rows))
    if count == 1 and len(columns) == 1 and rows:
        return f"The {str(columns[0]).replace('_', ' ')} is {rows[0][0]}."
    if not rows:
        return f"The {outcome.tool} call found no rows."
    what = f"({', '.join(map(str, columns))})"
    if count == 1:
        return f"The {outcome.tool} call found one row {what}: {_row(rows[0])}."
    more = ", more matched than the limit" if data.get("truncated") else ""
    first = "; ".join(_row(r) for r in rows[:3])
    return f"The {outcome.tool} call found {count} rows {what}{more}. The first: {first}."


def _item(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    head = next((v for v in item.values() if isinstance(v, str)), None)
    rest = ", ".join(f"{k} {v}" for k, v in item.items() if _scalar(v) and v != head)
    return f"{head} ({rest})" if head is not None else rest


def _mapping(outcome: ToolOutcome, data: dict[str, Any]) -> str:
    args = _args(outcome.arguments)
    if outcome.tool.startswith("count_") and isinstance(data.get("count"), int):
        noun = outcome.tool[len("count_") :].replace("_", " ")
        where = _args(data.get("filters") or outcome.arguments)
        return f"There are {data['count']} {noun}{f' with {where}' if where else ''}."
    parts = [f"{k.replace('_', ' ')} {v}" for k, v in data.items() if _scalar(v) and v is not None]
    for key, value in data.items():
        if isinstance(value, list) and len(value) <= 6:
            parts.append(f"{key}: " + "; ".join(_item(i) for i in value))
        elif isinstance(value, list):
            parts.append(f"{key}: {len(value)} entries")
    head = f"{outcome.tool} ({args})" if args else outcome.tool
    return f"{head}: {', '.join(parts) or 'no data'}."


def _one(outcome: ToolOutcome) -> str:
    if not outcome.ok:
        return f"The {outcome.tool} call failed: {outcome.error or 'no reason given'}"
    data = outcome.data
    if isinstance(data, dict) and "rows" in data and "columns" in data:
        return _rows(outcome, data)
    if isinstance(data, dict):
        return _mapping(outcome, data)
    if isinstance(data, list):
        return f"{outcome.tool} returned {len(data)} items: " + "; ".join(map(_item, data[:5]))
    return outcome.text.strip() or f"The {outcome.tool} call returned nothing."


def summarise(outcomes: list[ToolOutcome]) -> str:
    """Return a plain summary of tool outcomes built from their data only, one sentence
    (or so) per outcome, failures included."""
    if not outcomes:
        return "No tools were called."
    return " ".join(_one(o) for o in outcomes)


def controls_note(controls: list[Control]) -> str:
    """Return a draft naming the controls put on screen (or '' when there are none)."""
    names = [c.label or c.id for c in controls if c.type != "button"]
    return f"On screen now: {', '.join(names)}." if names else ""


# -- the check ----------------------------------------------------------------------------


def _numbers(text: str) -> set[float]:
    return {round(float(t.replace(",", "")), 2) for t in _NUMBER.findall(text)}


def _lengths(value: Any) -> set[float]:
    if isinstance(value, dict):
        return set().union(*(_lengths(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        found = {float(len(value))}
        for item in value:
            found |= _lengths(item)
        return found
    return set()


def unsupported(text: str, outcomes: list[ToolOutcome], question: str = "") -> list[str]:
    """Return the numbers and names in ``text`` that the outcomes (or the question) do
    not contain; an empty list means the text adds no facts."""
    blob = outcomes_json(outcomes) + "\n" + question
    allowed = _numbers(blob) | _lengths([o.data for o in outcomes]) | {float(len(outcomes))}
    bad = [t for t in _NUMBER.findall(text) if round(float(t.replace(",", "")), 2) not in allowed]
    lower = blob.lower()
    for match in _WORD.finditer(text):
        word = re.sub(r"['\u2019]s$", "", match.group())
        if _SENTENCE_START.search(text[: match.start()]) or word.lower() in _ALWAYS:
            continue
        if word.lower() not in lower:
            bad.append(word)
    return bad


# -- tables -------------------------------------------------------------------------------


def _first_records(value: Any) -> list[dict[str, Any]] | None:
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return value
    if isinstance(value, dict):
        for item in value.values():
            found = _first_records(item)
            if found is not None:
                return found
    return None


def table_of(
    outcome: ToolOutcome,
    control_id: str = "results",
    caption: str = "",
) -> Control | None:
    """Return a table control for an outcome whose data holds more than one row:
    ``{"columns", "rows"}`` (a query) or a list of records; else ``None``. The caption
    defaults to the tool name and its scalar arguments (SQL left out)."""
    data = outcome.data
    if not outcome.ok or data is None:
        return None
    if isinstance(data, dict) and isinstance(data.get("rows"), list) and "columns" in data:
        columns, rows = list(data["columns"]), [list(r) for r in data["rows"]]
    else:
        records = _first_records(data)
        if records is None:
            return None
        columns = list(records[0])
        rows = [[r.get(c) for c in columns] for r in records]
    if len(rows) <= 1:
        return None
    args = {k: v for k, v in outcome.arguments.items() if k != "sql"}
    label = caption or f"{outcome.tool} {_args(args)}".strip()
    return Control(id=control_id, type="table", label=label, columns=columns, rows=rows)


def tables(outcomes: list[ToolOutcome], caption: str = "") -> list[Control]:
    """Return the table controls of every outcome with rows: ids ``results``,
    ``results_2`` ... in order, each captioned ``caption`` when given."""
    found: list[Control] = []
    for outcome in outcomes:
        cid = "results" if not found else f"results_{len(found) + 1}"
        table = table_of(outcome, cid, caption)
        if table is not None:
            found.append(table)
    return found
