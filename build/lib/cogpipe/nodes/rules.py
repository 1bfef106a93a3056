"""Deterministic keyword rules behind the built-in nodes' offline responders.

With no LLM endpoint configured, the offline model answers each node's purpose
(``input_v1.analyse``, ``director_v2.plan`` ...) with these rules, so a fresh clone
holds a real conversation: greetings and thanks are social, questions about customers,
devices, contracts, invoices and revenue become tool steps against the demo database,
"show me a counter" becomes controls, "what is my name?" is answered from memory.

The rules never produce data: numbers and names in answers come from tool results.
They are used by offline responders only; with a real model, the model decides.
"""

from __future__ import annotations

import re
from typing import Any

from .prompts import NAME_PREFIX, RETURN_PREFIX

__all__ = [
    "OFFLINE_HELP",
    "analyse",
    "chat_reply",
    "controls_for",
    "controls_reply",
    "introduced_name",
    "situation",
    "social_reply",
    "tool_steps",
]

OFFLINE_HELP = (
    "I'm running on the built-in offline model, so I can answer questions about the demo "
    "database (customers, devices, contracts, invoices, revenue), show a counter, a switch "
    "or a traffic light, and remember your name."
)

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hallo|howdy|moin|servus|good (morning|afternoon|"
    r"evening))\b",
    re.I,
)
_THANKS = re.compile(r"\b(thanks|thank you|cheers|much appreciated)\b", re.I)
_BYE = re.compile(r"\b(bye|goodbye|see you)\b", re.I)
_NAME = re.compile(r"\b(?i:my name is|i am|i'm|call me)\s+([A-Z][\w'-]+)")
_ABOUT = re.compile(r"\b(I (?:run|lead|manage|own|work (?:at|for|in|on|as))\b[^.!?,;]*)", re.I)
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


def introduced_name(text: str) -> str | None:
    """Return the name in "my name is Ada" / "I'm Ada" / "call me Ada", else ``None``."""
    match = _NAME.search(text)
    return match.group(1) if match else None


def situation(text: str) -> str | None:
    """Return what the user says about their work ("I run the operations team")."""
    match = _ABOUT.search(text)
    return match.group(1).strip() if match else None


def _context_name(context: list[str]) -> str | None:
    for line in context:
        if line.startswith(NAME_PREFIX):
            return line[len(NAME_PREFIX) :].rstrip(".").strip() or None
    return None


def social_reply(text: str, context: list[str] | None = None) -> str | None:
    """Return a short friendly reply if ``text`` is a trivial social turn, else ``None``."""
    context = context or []
    if len(text.split()) > 14 or _entity(text.lower()) or controls_for(text) or _MONEY.search(text):
        return None
    name = introduced_name(text)
    known = name or _context_name(context)
    back = any(c.startswith(RETURN_PREFIX) for c in context)
    if name:
        reply = f"Nice to meet you, {name}! How can I help?"
    elif _THANKS.search(text):
        reply = "You're welcome!" + (" Goodbye!" if _BYE.search(text) else "")
    elif _BYE.search(text):
        reply = "Goodbye!"
    elif _GREETING.search(text) and "?" not in text:
        reply = f"Hello{', ' + known if known else ''}! How can I help?"
    else:
        return None
    if back:
        reply = f"Welcome back{', ' + known if known else ''}! " + reply.split("! ", 1)[-1]
    return reply


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
    """Return the tool steps (``{"tool", "arguments", "why"}``) that answer a data
    request against the demo database, or ``[]`` when ``text`` is no data request."""
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


def controls_for(text: str) -> list[dict[str, Any]]:
    """Return UI controls (as ``Control`` data) asked for in ``text``, else ``[]``."""
    low = text.lower()
    if "counter" in low:
        return [
            {"id": "counter", "type": "label", "label": "Counter", "value": 0},
            {
                "id": "counter_inc",
                "type": "button",
                "label": "+1",
                "action": "increment",
                "payload": {"target": "counter", "step": 1},
            },
            {
                "id": "counter_dec",
                "type": "button",
                "label": "-1",
                "action": "decrement",
                "payload": {"target": "counter", "step": 1},
            },
        ]
    if "traffic light" in low or "state machine" in low:
        return [
            {
                "id": "light",
                "type": "machine",
                "label": "Traffic light",
                "state": "red",
                "states": {
                    "red": {"label": "Stop", "go": {"Go": "green"}},
                    "green": {"label": "Go", "go": {"Slow down": "yellow"}},
                    "yellow": {"label": "Slow down", "go": {"Stop": "red"}},
                },
            }
        ]
    if re.search(r"\b(switch|toggle)\b", low):
        return [
            {"id": "switch", "type": "label", "label": "Switch", "value": False},
            {
                "id": "switch_toggle",
                "type": "button",
                "label": "Toggle",
                "action": "toggle",
                "payload": {"target": "switch"},
            },
        ]
    return []


def controls_reply(controls: list[dict[str, Any]]) -> str:
    """Return a sentence naming the controls now on screen."""
    names = [c.get("label") or c.get("id") for c in controls if c.get("type") != "button"]
    buttons = [c.get("label") for c in controls if c.get("type") == "button"]
    text = f"Here you go: {', '.join(map(str, names)) or 'the controls'}"
    return text + (f", with the buttons {', '.join(map(str, buttons))}." if buttons else ".")


def chat_reply(text: str, context: list[str]) -> str:
    """Return an answer that needs no tools: the user's name, controls, or what the
    offline model can do."""
    low = text.lower()
    name = _context_name(context)
    if re.search(r"\b(what('s| is) my name|who am i|(know|remember) my name)\b", low):
        if name:
            return f"Your name is {name}."
        return 'You haven\'t told me your name yet; tell me with "my name is ...".'
    controls = controls_for(text)
    if controls:
        return controls_reply(controls)
    return social_reply(text, context) or OFFLINE_HELP


def _topic(text: str, steps: list[dict[str, Any]]) -> str:
    low = text.lower()
    if steps:
        place = _PLACE.search(text)
        return " ".join(
            filter(
                None,
                [
                    _entity(low) or steps[0]["tool"].replace("_", " "),
                    place and f"in {place.group(1)}",
                ],
            )
        )
    controls = controls_for(text)
    return str(controls[0]["label"]).lower() if controls else " ".join(low.split()[:4])


def analyse(text: str, context: list[str]) -> dict[str, Any]:
    """Return an ``Analysis`` (as data) of a user message."""
    reply = social_reply(text, context)
    if reply is not None:
        return {
            "intent": "social",
            "topic": "small talk",
            "complexity": "trivial",
            "needs_data": False,
            "reply": reply,
        }
    low = text.lower()
    steps = tool_steps(text)
    question = "?" in text or bool(re.match(r"\s*(how|what|which|who|when|where|why)\b", low))
    several = len({t for w, t in _ENTITIES.items() if w in low}) > 1
    deep = several or bool(re.search(r"\b(compare|trend|why|breakdown)\b", low))
    return {
        "intent": "question" if question else "request",
        "topic": _topic(text, steps) or "chat",
        "complexity": "complex" if steps and deep else "simple",
        "needs_data": bool(steps),
        "reply": "",
    }
