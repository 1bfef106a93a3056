"""Values every serialiser can write: lone surrogates and non-finite numbers made safe.

A Python ``str`` can hold lone UTF-16 surrogates (U+D800..U+DFFF): ``json.loads`` turns
a ``"\\ud800"`` escape into one, and so does decoding any JSON reply of an LLM or an MCP
server. UTF-8 cannot encode them (RFC 3629, section 3), so one such character makes
``json.dumps(...).encode()``, pydantic-core's ``to_json`` and SQLite raise; JSON has no
``NaN`` or ``Infinity`` either (RFC 8259, section 6). The API refuses such input at its
edge (:func:`first_unencodable`); everything that comes from elsewhere (nodes, models,
tools, stored data) is repaired where it is written: :func:`clean` replaces each lone
surrogate with U+FFFD and each non-finite float with ``None``, and :func:`report` logs
where that happened, so one bad value never stops a writer thread or an event stream.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from typing import Any

from pydantic_core import to_json, to_jsonable_python

__all__ = [
    "MAX_DEPTH",
    "clean",
    "clean_json",
    "clean_text",
    "dumps_clean",
    "first_unencodable",
    "replacements",
    "report",
    "safe_str",
]

log = logging.getLogger(__name__)

MAX_DEPTH = 64
"""Nesting of lists and dicts that :func:`clean` repairs; deeper values become a note."""

_SURROGATE = re.compile("[\ud800-\udfff]")

replacements: Counter[str] = Counter()
"""How often a value was repaired, by the place that wrote it (``report``'s ``where``)."""


def clean_text(text: str) -> str:
    """Return ``text`` with every lone surrogate replaced by U+FFFD (unchanged otherwise)."""
    return _SURROGATE.sub("\ufffd", text)


def safe_str(value: Any) -> str:
    """Return ``str(value)`` made encodable; an object whose ``__str__`` raises becomes
    ``<unprintable TYPE>``."""
    try:
        return clean_text(str(value))
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def clean(value: Any, _depth: int = 0) -> Any:
    """Return ``value`` with every string (keys too) passed through :func:`clean_text`
    and every non-finite float replaced by ``None``; lists, tuples and dicts are copied,
    anything else is returned as it is.

    Nesting deeper than :data:`MAX_DEPTH` (or a container that holds itself) becomes
    the text ``"<nested too deep>"`` rather than a ``RecursionError``.
    """
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dict, list, tuple)) and _depth >= MAX_DEPTH:
        return "<nested too deep>"
    if isinstance(value, dict):
        return {
            (clean_text(k) if isinstance(k, str) else k): clean(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [clean(v, _depth + 1) for v in value]
    return value


def report(where: str) -> None:
    """Count a repaired value written by ``where``; log its first and then every
    1000th occurrence (a model that keeps answering bad text does not flood the log)."""
    replacements[where] += 1
    count = replacements[where]
    if count == 1 or count % 1000 == 0:
        log.warning(
            "%s: replaced text UTF-8 cannot encode (lone surrogates) or numbers JSON cannot "
            "hold (NaN, Infinity) with U+FFFD / null (%d time%s so far)",
            where,
            count,
            "" if count == 1 else "s",
        )


def dumps_clean(value: Any, where: str) -> str:
    """Return ``value`` as JSON text that encodes to UTF-8, repairing it when needed.

    The common case costs one ``json.dumps``; a value with a lone surrogate, a
    non-finite float or a reference cycle is passed through :func:`clean` first and
    :func:`report`-ed under ``where``. Objects JSON cannot hold become their ``str()``.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, default=str)
        text.encode("utf-8")
        return text
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        report(where)
        return json.dumps(clean(value), ensure_ascii=False, allow_nan=False, default=safe_str)


def clean_json(value: Any, *, exclude_none: bool = False) -> bytes:
    """Return ``value`` as JSON bytes after :func:`clean` (the slow, safe path).

    Pydantic models and other objects pydantic-core knows are turned into JSON data
    (then cleaned again: a model's strings are not touched by the first pass);
    anything else becomes :func:`safe_str` text. Never raises.
    """
    data = to_jsonable_python(clean(value), fallback=safe_str, exclude_none=exclude_none)
    return to_json(clean(data), fallback=safe_str)


def first_unencodable(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """Find the first place in JSON data that cannot be written back as JSON in UTF-8.

    Args:
        value: data as ``json.loads`` returns it (str, numbers, lists, dicts, None).
        path: where ``value`` sits, for the answer.

    Returns:
        ``None`` when everything is fine, else ``(where, what)``: the dotted path
        (``payload.items.2``) and one sentence saying what is wrong there (a lone
        surrogate with its position, a non-finite number, or nesting deeper than
        :data:`MAX_DEPTH`).
    """
    where = ".".join(map(str, path)) or "(value)"
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        if found is None:
            return None
        return where, (
            f"holds a lone surrogate U+{ord(found.group()):04X} at character "
            f"{found.start()}, which UTF-8 cannot encode; send well-formed Unicode text"
        )
    if isinstance(value, float) and not math.isfinite(value):
        return where, f"is {value}, which JSON cannot hold; send a finite number"
    if isinstance(value, (dict, list, tuple)) and len(path) >= MAX_DEPTH:
        return where, f"is nested more than {MAX_DEPTH} levels deep; send flatter data"
    if isinstance(value, dict):
        for key, item in value.items():
            bad = first_unencodable(key, (*path, "(key)")) if isinstance(key, str) else None
            if bad is None:
                bad = first_unencodable(item, (*path, key))
            if bad is not None:
                return bad
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            bad = first_unencodable(item, (*path, i))
            if bad is not None:
                return bad
    return None
