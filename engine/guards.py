"""Cheap checks against a weak model's favourite non-answers.

Small models, when unsure, copy: a structured field gets its own schema ``description``
as its value ("a short friendly reply ..."), and prose answers repeat the system
prompt's instructions ("Summarise the tool results below ..."). Both look like answers
to every other check. :func:`echoed_descriptions` and :func:`echoes_prompt` find them by
comparing word sequences (lower-case, punctuation ignored); they cost microseconds.
"""

from __future__ import annotations

import re
from typing import Any

from .handles import Messages
from .schemas import resolve_ref

__all__ = ["echoed_descriptions", "echoes_prompt"]

_WORD = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains(seq: list[str], part: list[str]) -> bool:
    n = len(part)
    return any(seq[i : i + n] == part for i in range(len(seq) - n + 1))


def echoes_prompt(text: str, messages: Messages, *, min_words: int = 8) -> bool:
    """Return True when ``text`` repeats a large part of the system prompt.

    That is: ``text`` contains a run of ``min_words`` consecutive words of a system
    message, or ``text`` has fewer words (but at least 4) and all of them are one run
    of a system message. Only system messages count: repeating the user's words, tool
    results or a draft given in a user message is what answers are for.

    Args:
        text: the model's answer.
        messages: the messages that asked for it (a string means one user message).
        min_words: the run length that counts as repeating (default 8 words).
    """
    answer = _words(text)
    if len(answer) < 4 or isinstance(messages, str):
        return False
    n = min(min_words, len(answer))
    grams: set[tuple[str, ...]] = set()
    for message in messages:
        if message.get("role") != "system":
            continue
        source = _words(_text_of(message.get("content")))
        grams.update(tuple(source[i : i + n]) for i in range(len(source) - n + 1))
    return any(tuple(answer[i : i + n]) in grams for i in range(len(answer) - n + 1))


def _text_of(content: Any) -> str:
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}]
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def echoed_descriptions(value: Any, schema: dict[str, Any]) -> list[str]:
    """Return the paths of string fields in ``value`` that only repeat their description.

    A string repeats its schema ``description`` when their words are the same (for a
    description of two words or more), when it is three or more words taken from the
    description in order, or when it contains the whole description (four words or
    more). ``$ref``, ``anyOf``/``oneOf``/``allOf``, ``properties`` and ``items`` are
    followed.

    Args:
        value: a decoded JSON value.
        schema: the JSON Schema it was asked for (draft 2020-12, local ``$ref`` only).

    Returns:
        Paths like ``reply`` or ``steps[0].note``, in order, without duplicates.
    """
    found: list[str] = []
    _walk(value, schema, schema, "", found, 0)
    return list(dict.fromkeys(found))


def _walk(
    value: Any, node: Any, root: dict[str, Any], path: str, found: list[str], depth: int
) -> None:
    if not isinstance(node, dict) or depth > 32:
        return
    node = resolve_ref(node, root)
    if isinstance(value, str) and _repeats(value, node.get("description")):
        found.append(path or "(the answer)")
    for key in ("anyOf", "oneOf", "allOf"):
        for branch in node.get(key) or []:
            _walk(value, branch, root, path, found, depth + 1)
    if isinstance(value, dict):
        props = node.get("properties") or {}
        for key, item in value.items():
            if key in props:
                _walk(item, props[key], root, f"{path}.{key}" if path else key, found, depth + 1)
    elif isinstance(value, list) and isinstance(node.get("items"), dict):
        for i, item in enumerate(value):
            _walk(item, node["items"], root, f"{path}[{i}]", found, depth + 1)


def _repeats(value: str, description: Any) -> bool:
    if not isinstance(description, str):
        return False
    said, described = _words(value), _words(description)
    if not said or not described:
        return False
    if said == described:
        return len(described) >= 2
    if len(said) >= 3 and _contains(described, said):
        return True
    return len(described) >= 4 and _contains(said, described)
