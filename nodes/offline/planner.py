"""The offline model's tool planner: which listed tool a message asks for, and with which
arguments, for whatever tools are connected.

:func:`plan` first asks the planners registered with :func:`register_planner` (extras
for one tool server, such as the demo database's rules in ``cogpipe.demo.offline``);
when none of them answers, it matches the message against every listed tool's name,
title and description and fills the tool's required arguments from what it finds in
the message (:class:`Finder`): an IANA time zone (``Europe/Berlin``), a file system path,
a time (``14:30``), a date, a number, a quoted string, a place after "in"/"from"/"at",
or one of the values a parameter allows. A tool whose required arguments are not all
found is not planned: the offline model never guesses a value.

A tool is given as a mapping with ``name`` (the name to call it by), ``description``,
``input_schema`` and optionally ``title``, as nodes pass them in their hints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Finder",
    "Planner",
    "ToolSpec",
    "fill",
    "match",
    "plan",
    "register_planner",
    "unregister_planner",
    "words",
]

ToolSpec = Mapping[str, Any]
"""``{"name", "description", "input_schema", "title"?}``: one listed tool."""
Planner = Callable[[str, Sequence[ToolSpec]], list[dict[str, Any]]]
"""``fn(message, tools) -> steps``; a step is ``{"tool", "arguments", "why"}`` and names
a listed tool; ``[]`` means "not mine" and lets the next planner try."""

_extras: list[Planner] = []

_STOP_WORDS = """a about all am an and any are as at be by can could do does for from have
how i in is it its many me much my of on or our please than that the their them there
these this to us was we were what when where which who why will with would you your"""
_STOP = frozenset(_STOP_WORDS.split())
_TIMEZONE = re.compile(
    r"\b(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|"
    r"Pacific|Etc)/[A-Za-z_]+(?:/[A-Za-z_]+)?\b|\bUTC\b"
)
_PATH = re.compile(r"(?<![\w/])(?:~|\.{1,2})?/[\w.\-/]*[\w/]")
_TIME = re.compile(r"(?<![\d:])\d{1,2}:\d{2}(?![\d:])")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_NUMBER = re.compile(r"(?<![\w.:/-])-?\d+(?:\.\d+)?(?![\w:/-]|\.\d)")
_QUOTED = re.compile(r'"([^"]+)"|\u201c([^\u201d]+)\u201d|(?<!\w)\'([^\']+)\'(?!\w)')
_PLACE = re.compile(r"\b(?i:in|from|at|for|near)\s+((?:[A-Z][\w-]+)(?:\s[A-Z][\w-]+)?)")
_OPTION = re.compile(r"'([\w-]+)'|\"([\w-]+)\"")


def register_planner(fn: Planner) -> Planner:
    """Consult ``fn`` before the generic matching (later registrations first); return it.
    Registering the same function again does nothing."""
    if fn not in _extras:
        _extras.insert(0, fn)
    return fn


def unregister_planner(fn: Planner) -> None:
    """Stop consulting ``fn`` (no error if it is not registered)."""
    if fn in _extras:
        _extras.remove(fn)


def plan(message: str, tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    """Return the tool steps that answer ``message`` with ``tools``: the first registered
    planner's, else one step from :func:`match`, else ``[]``."""
    for extra in _extras:
        steps = extra(message, tools)
        if steps:
            return steps
    step = match(message, tools)
    return [step] if step is not None else []


def words(text: str) -> set[str]:
    """Return the content words of ``text``: lower case, split at non-letters and
    camelCase, stop words and one- or two-letter words dropped, an English plural ending
    removed (``branches`` -> ``branch``, ``logs`` -> ``log``)."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)
    found = set()
    for word in re.findall(r"[a-z]+", spaced.lower()):
        if len(word) > 2 and word not in _STOP:
            found.add(_singular(word))
    return found


def _singular(word: str) -> str:
    if re.search(r"(?:ch|sh|x|ss|zz)es$", word):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def match(message: str, tools: Sequence[ToolSpec]) -> dict[str, Any] | None:
    """Return the step for the listed tool the message names best, or ``None``.

    A tool is a candidate when a word of its name or title occurs in the message and
    :func:`fill` finds all its required arguments there. Its score is twice the words
    shared with the name and title plus those shared with the description; the first
    tool listed wins a tie.
    """
    said = words(message)
    best: tuple[int, dict[str, Any]] | None = None
    for tool in tools:
        named = words(f"{tool.get('name', '')} {tool.get('title') or ''}")
        hits = said & named
        if not hits:
            continue
        described = words(str(tool.get("description") or "")[:300]) - named
        score = 2 * len(hits) + len(said & described)
        arguments = fill(tool.get("input_schema") or {}, Finder(message))
        if arguments is None or (best is not None and score <= best[0]):
            continue
        why = f"the message speaks of {', '.join(sorted(hits))}"
        best = (score, {"tool": tool["name"], "arguments": arguments, "why": why})
    return best[1] if best is not None else None


def fill(schema: Mapping[str, Any], finder: Finder) -> dict[str, Any] | None:
    """Return arguments for every required parameter of ``schema`` found by ``finder``,
    or ``None`` when one is missing."""
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in schema.get("required") or []:
        value = finder.value_for(name, properties.get(name) or {})
        if value is None:
            return None
        arguments[name] = value
    return arguments


def _types(prop: Mapping[str, Any]) -> set[str]:
    declared = prop.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    return {t for branch in prop.get("anyOf") or [] for t in _types(branch)}


class Finder:
    """The values a message offers, each handed out once, in the order they appear."""

    def __init__(self, message: str) -> None:
        self.message = message
        self.used: set[str] = set()
        self.zones = [m.group() for m in _TIMEZONE.finditer(message)]
        self.paths = _PATH.findall(message)
        self.times = _TIME.findall(message)
        self.dates = _DATE.findall(message)
        self.quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(message)]
        self.places = _PLACE.findall(message)
        masked = _PATH.sub(" ", _TIME.sub(" ", _DATE.sub(" ", message)))
        self.numbers = _NUMBER.findall(masked)

    def take(self, found: list[str]) -> str | None:
        """Return the first value of ``found`` not handed out yet (and mark it)."""
        for value in found:
            if value not in self.used:
                self.used.add(value)
                return value
        return None

    def value_for(self, name: str, prop: Mapping[str, Any]) -> Any:
        """Return a value for parameter ``name`` (its JSON Schema ``prop``), or ``None``."""
        types, key = _types(prop), name.lower()
        about = f"{key} {prop.get('title') or ''} {prop.get('description') or ''}".lower()
        enum = prop.get("enum")
        if isinstance(enum, list):
            return self.option([str(v) for v in enum], enum)
        if types & {"integer", "number"} and not types & {"string"}:
            number = self.take(self.numbers)
            if number is None:
                return None
            return int(float(number)) if "integer" in types else float(number)
        if types and "string" not in types:
            return None
        return self.text_for(key, about)

    def text_for(self, key: str, about: str) -> str | None:
        """Return a string value for a parameter named ``key`` described by ``about``."""
        if "timezone" in about or "iana" in about:
            zone = self.take(self.zones)
            return "Etc/UTC" if zone == "UTC" else zone
        if re.search(r"path|dir|folder|file|repo", key):
            return self.take(self.paths)
        if "time" in key and ("hh:mm" in about or "24-hour" in about):
            return self.take(self.times)
        if "date" in key:
            return self.take(self.dates)
        if re.search(r"city|place|location|country|region", key):
            return self.take(self.places)
        options = [a or b for a, b in _OPTION.findall(about)]
        if len(options) > 1:
            return self.option(options, options)
        return self.take(self.quoted)

    def option(self, names: list[str], values: list[Any]) -> Any:
        """Return the value whose name occurs in the message as a word, or ``None``."""
        for label, value in zip(names, values, strict=True):
            if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", self.message, re.I):
                return value
        return None
