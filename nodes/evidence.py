"""Evidence for memory: is what a model wants remembered found in what the user said or
in the tool results? Pure functions; each returns ``None`` when the value may be kept,
else the reason it may not.

The checks are made for a weak or careless model: a name is kept only when the user
introduced themselves with it (the quoted introduction occurs in their message, an
introducing phrase stands right before the name, and the name is written as a name);
a situation only when the user's message contains it word for word; a fact or a topic
only when its numbers and names occur in the user's words or the tool results
(``nodes.facts.unsupported``) and most of its words do too.
"""

from __future__ import annotations

import re

from . import facts
from .types import ToolOutcome

__all__ = ["INTRODUCTIONS", "grounded", "introduction", "normal", "verbatim"]

INTRODUCTIONS = (
    "my name is",
    "my name's",
    "i am",
    "i'm",
    "call me",
    "mein name ist",
    "ich bin",
    "ich heiße",
    "je m'appelle",
)
"""Phrases that introduce a name, lower case; memorizer_v1's default ``introductions``."""

_LETTERS = re.compile(r"[^\W\d_]{2,}")
_NAME = re.compile(r"[^\W\d_]+(?:[ '\u2019-][^\W\d_]+){0,2}")


def normal(text: str) -> str:
    """Return ``text`` case-folded, with typographic apostrophes made plain, runs of
    white space made one space and quotes and end punctuation stripped."""
    text = text.replace("\u2019", "'").casefold()
    return " ".join(text.split()).strip(" \"'`.,;:!?\u201c\u201d")


def verbatim(quote: str, text: str) -> bool:
    """Tell whether ``quote`` (normalised, not empty) occurs in ``text``."""
    quote = normal(quote)
    return bool(quote) and quote in normal(text)


def introduction(
    name: str, quote: str, message: str, phrases: tuple[str, ...] | list[str] = INTRODUCTIONS
) -> str | None:
    """Check a name the model says the user introduced themselves with.

    Args:
        name: the name to keep (``"Ada"``).
        quote: the model's quote of the introducing words (``"my name is Ada"``).
        message: what the user said.
        phrases: introducing phrases, lower case.

    Returns:
        ``None`` when ``quote`` occurs in ``message``, one of ``phrases`` stands right
        before ``name`` in it, and the name is written with capitals in the message;
        else the reason, one sentence.
    """
    name = " ".join(name.split())
    if not _NAME.fullmatch(name):
        return f"{name!r} is not a name (letters, at most three words)"
    if not verbatim(quote, message):
        return f"the quoted introduction {quote!r} is not in the user's message"
    heads = "|".join(re.escape(p) for p in phrases)
    if not re.search(rf"(?:^|\W)(?:{heads})\s+{re.escape(normal(name))}(?!\w)", normal(quote)):
        return f"in {quote!r} no introduction ({', '.join(phrases)}) stands before {name!r}"
    written = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", message, re.I)
    if written is None or any(w[:1].islower() for w in written.group().split()):
        return f"{name!r} is not written as a name in the user's message"
    return None


def grounded(
    text: str, outcomes: list[ToolOutcome], said: str, *, min_words: int = 2
) -> str | None:
    """Check a fact (or a topic) against the tool results and the user's words.

    Returns:
        ``None`` when ``text`` has at least ``min_words`` words, adds no number or name
        that ``outcomes`` and ``said`` do not hold, and at least half of its longer
        words (four letters or more) occur in them; else the reason, one sentence.
    """
    words = _LETTERS.findall(text)
    if len(words) < min_words:
        return f"{text!r} has fewer than {min_words} words"
    bad = facts.unsupported(text, outcomes, said)
    if bad:
        return f"{', '.join(bad[:5])} occur in no tool result and no word of the user"
    blob = (facts.outcomes_json(outcomes) + "\n" + said).casefold()
    long = [w.casefold() for w in words if len(w) >= 4]
    if long and 2 * sum(w in blob for w in long) < len(long):
        return "most of its words occur in no tool result and no word of the user"
    return None
