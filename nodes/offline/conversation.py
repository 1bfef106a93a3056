"""The offline model's conversation rules: small talk, introductions, UI controls, what
the user's name is, and a message's analysis.

Deterministic keyword rules, for English messages, that name no domain: which tool a
message needs is the planner's business (``nodes.offline.planner``). They never produce
data: numbers and names in answers come from tool results, the user's words or the
context lines.
"""

from __future__ import annotations

import re
from typing import Any

from ..prompts import NAME_PREFIX, RETURN_PREFIX
from .planner import words

__all__ = [
    "OFFLINE_HELP",
    "analyse",
    "chat_reply",
    "controls_for",
    "controls_reply",
    "introduced_name",
    "introduction",
    "situation",
    "social_reply",
    "topic_of",
]

OFFLINE_HELP = (
    "I'm running on the built-in offline model, so I can call a connected tool when your "
    "message names what it does, show a counter, a switch or a traffic light, and "
    "remember your name."
)

_GREETING = re.compile(
    r"^\W*(hi|hello|hey|hallo|howdy|moin|servus|good (morning|afternoon|evening))\b", re.I
)
_THANKS = re.compile(r"\b(thanks|thank you|cheers|much appreciated)\b", re.I)
_BYE = re.compile(r"\b(bye|goodbye|see you)\b", re.I)
_NAME = re.compile(r"\b(?i:my name is|i am|i'm|call me)\s+([A-Z][\w'-]+)")
_ABOUT = re.compile(r"\b(I (?:run|lead|manage|own|work (?:at|for|in|on|as))\b[^.!?,;]*)", re.I)
_QUESTION = re.compile(r"\s*(how|what|which|who|when|where|why)\b", re.I)
_MY_NAME = re.compile(r"\b(what('s| is) my name|who am i|(know|remember) my name)\b", re.I)


def introduced_name(text: str) -> str | None:
    """Return the name in "my name is Ada" / "I'm Ada" / "call me Ada", else ``None``."""
    match = _NAME.search(text)
    return match.group(1) if match else None


def introduction(text: str) -> str | None:
    """Return the introducing words ("my name is Ada"), else ``None``."""
    match = _NAME.search(text)
    return match.group(0) if match else None


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
    """Return a short friendly reply if ``text`` is a trivial social turn, else ``None``.

    Greetings, thanks, goodbyes and introductions of up to 14 words count; a greeting
    with a question does not, nor does a request for controls."""
    context = context or []
    if len(text.split()) > 14 or controls_for(text):
        return None
    name = introduced_name(text)
    known = name or _context_name(context)
    back = any(c.startswith(RETURN_PREFIX) for c in context)
    if name:
        reply = f"Nice to meet you, {name}! How can I help?"
    elif _THANKS.search(text) and "?" not in text:
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
    name = _context_name(context)
    if _MY_NAME.search(text):
        if name:
            return f"Your name is {name}."
        return 'You haven\'t told me your name yet; tell me with "my name is ...".'
    controls = controls_for(text)
    if controls:
        return controls_reply(controls)
    return social_reply(text, context) or OFFLINE_HELP


def topic_of(text: str) -> str:
    """Return a few words naming what ``text`` is about: its first five content words
    as the user wrote them ("customers Berlin" for "How many customers in Berlin?")."""
    kept = [w for w in re.findall(r"[\w'-]+", text) if words(w)]
    return " ".join(kept[:5]) or "chat"


def analyse(text: str, context: list[str], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Return an ``Analysis`` (as data) of a user message, given the tool ``steps`` the
    planner found for it: a social turn with its reply, else a question or request that
    needs data when there are steps and tools when there are steps or controls."""
    reply = None if steps else social_reply(text, context)
    if reply is not None:
        return {
            "intent": "social",
            "topic": "small talk",
            "complexity": "trivial",
            "needs_data": False,
            "needs_tools": False,
            "reply": reply,
        }
    deep = len(steps) > 1 or bool(re.search(r"\b(compare|trend|why|breakdown)\b", text, re.I))
    return {
        "intent": "question" if "?" in text or _QUESTION.match(text) else "request",
        "topic": topic_of(text),
        "complexity": "complex" if steps and deep else "simple",
        "needs_data": bool(steps),
        "needs_tools": bool(steps or controls_for(text)),
        "reply": "",
    }
