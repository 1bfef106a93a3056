"""How the built-in offline model answers each purpose of the built-in nodes.

Every responder reads the structured ``hints`` the node passed with its call
(``request["hints"]``; see each node's docstring for what it sends) and the OpenAI
protocol fields of the request (the offered ``tools``, ``tool`` messages), never the
node's prompt text. Without hints (a real HTTP endpoint serving the offline model sees
none) a responder answers what it can from the protocol alone and otherwise gives the
empty answer, which makes the node use its documented fallback.

Importing this module registers the responders (``cogpipe.nodes`` does).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from cogpipe.engine.offline import offline_responder

from .. import facts, purposes
from ..memorizer import requests_summary
from ..thinker import SHOW_CONTROLS
from ..types import ToolOutcome
from .conversation import (
    analyse,
    chat_reply,
    controls_for,
    controls_reply,
    introduced_name,
    introduction,
    situation,
)
from .planner import ToolSpec, plan

__all__: list[str] = []

Messages = list[dict[str, Any]]


def _hints(request: Mapping[str, Any]) -> Mapping[str, Any]:
    hints = request.get("hints")
    return hints if isinstance(hints, Mapping) else {}


def _last_user(messages: Messages) -> str:
    """The last user message: the user's own words for the nodes that send them as is."""
    for message in reversed(messages):
        if message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _outcomes(hints: Mapping[str, Any]) -> list[ToolOutcome]:
    return [ToolOutcome.model_validate(o) for o in hints.get("outcomes") or []]


def _tools(hints: Mapping[str, Any]) -> Sequence[ToolSpec]:
    return list(hints.get("tools") or [])


@offline_responder(purposes.ANALYSE)
def _analyse(messages: Messages, request: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(request)
    text = str(hints.get("message") or _last_user(messages))
    return analyse(text, list(hints.get("context") or []), plan(text, _tools(hints)))


@offline_responder(purposes.GUIDE)
def _guide(messages: Messages, request: dict[str, Any]) -> str:
    hints = _hints(request)
    steps = plan(str(hints.get("message") or _last_user(messages)), _tools(hints))
    if not steps:
        return "Answer directly from the conversation; no tools are needed."
    calls = "; then ".join(
        f"{s['tool']}({json.dumps(s['arguments'], ensure_ascii=False)})" for s in steps
    )
    return f"Call {calls}. Answer with the numbers exactly as returned; show rows as a table."


@offline_responder(purposes.STRATEGY)
def _strategy(messages: Messages, request: dict[str, Any]) -> str:
    topics = "; ".join(_hints(request).get("topics") or []) or "the data"
    return (
        f"The user is exploring {topics}; answer briefly with numbers from the tools and "
        "tables for lists."
    )


@offline_responder(purposes.PLAN)
def _plan(messages: Messages, request: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(request)
    text = str(hints.get("message") or _last_user(messages))
    return {
        "goal": text,
        "tool_sequence": plan(text, _tools(hints)),
        "response_style": "concise",
        "controls": controls_for(text),
    }


@offline_responder(purposes.THINK)
def _think(messages: Messages, request: dict[str, Any]) -> Any:
    hints = _hints(request)
    start = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=0)
    if any(m.get("role") == "tool" for m in messages[start:]):  # round 2: the draft
        outcomes, shown = _outcomes(hints), list(hints.get("controls") or [])
        parts = [facts.summarise(outcomes)] if outcomes else []
        return " ".join(parts + ([controls_reply(shown)] if shown else []))
    text = str(hints.get("message") or _last_user(messages))
    offered = [t["function"] for t in request.get("tools") or [] if "function" in t]
    specs = [
        {
            "name": f["name"],
            "description": f.get("description", ""),
            "input_schema": f.get("parameters") or {},
        }
        for f in offered
        if f["name"] != SHOW_CONTROLS
    ]
    steps = plan(text, specs)
    if steps:
        return {"tool_calls": [{"name": s["tool"], "arguments": s["arguments"]} for s in steps]}
    controls = controls_for(text)
    if controls and any(f["name"] == SHOW_CONTROLS for f in offered):
        return {"tool_calls": [{"name": SHOW_CONTROLS, "arguments": {"controls": controls}}]}
    return chat_reply(text, list(hints.get("context") or []))


@offline_responder(purposes.SUMMARISE)
def _summarise(messages: Messages, request: dict[str, Any]) -> str:
    outcomes = _outcomes(_hints(request))
    return facts.summarise(outcomes) if outcomes else ""  # '': the node's own summary


@offline_responder(purposes.ANSWER)
def _answer(messages: Messages, request: dict[str, Any]) -> str:
    hints = _hints(request)
    draft = str(hints.get("draft") or "")
    if draft or not hints:
        return draft  # '' without hints: the node falls back to the draft
    return chat_reply(str(hints.get("question") or ""), list(hints.get("context") or []))


@offline_responder(purposes.EXTRACT)
def _extract(messages: Messages, request: dict[str, Any]) -> dict[str, Any]:
    hints = _hints(request)
    said, answer = str(hints.get("message") or ""), str(hints.get("answer") or "")
    asked = "?" in said or re.match(r"\s*(how|what|which|who)\b", said, re.I)
    sentences = re.split(r"(?<=[.!?])\s+", answer) if asked else []
    return {
        "introduction": introduction(said),
        "name": introduced_name(said),
        "situation": situation(said),
        "facts": [s[:200] for s in sentences if re.search(r"\d", s)][:1],
    }


@offline_responder(purposes.SUMMARISE_MEMORY)
def _summarise_memory(messages: Messages, request: dict[str, Any]) -> str:
    return requests_summary(list(_hints(request).get("requests") or []))
