"""Graph files as YAML documents: bytes in; data and the line of every key out, safely.

A graph file is read in steps, each of which bounds the work of the next, so that no
file can cost more than a moment and a few megabytes or end in a traceback:

1. **size**: at most :data:`MAX_BYTES` (1 MiB; the shipped graphs are 1-3 KB);
2. **text**: UTF-8 (a leading BOM is fine); a byte that is not UTF-8 is reported with
   its line and column;
3. **shape**, read from the parser's event stream before any tree is built: nesting at
   most :data:`MAX_DEPTH` levels, at most :data:`MAX_ALIASES` aliases, none that
   refers to a node containing it, and at most :data:`MAX_VALUES` values once every
   alias is expanded (a 1 KB "billion laughs" file expands to 10^9). libyaml's parser
   is a loop over a stack, so this pass needs no recursion whatever the nesting, and
   it stops at the first limit passed;
4. **tree and data**: the composer (recursive, safe once the depth is bounded) and
   the safe constructor (plain data only: a tag such as ``!!python/object`` is an
   error); a value the constructor cannot read (``!!int x``, the date ``2024-13-45``,
   a 5,000-digit number) is a problem at its line;
5. **lines**: the line of every key and list item, and duplicate keys (which YAML
   would silently merge).

libyaml (PyYAML's C parser, in PyYAML's wheels) does the parsing when present: it is
about 50 times faster than the pure-Python parser, which needs ~20 s for a 1 MiB file
on a slow machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from .errors import Problem

__all__ = [
    "MAX_ALIASES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "LoadedYaml",
    "decode_yaml",
    "load_yaml",
]

MAX_BYTES = 1 << 20
"""Largest graph file, bytes."""
MAX_DEPTH = 64
"""Deepest nesting of mappings and lists (a graph needs about 5)."""
MAX_ALIASES = 100
"""Most aliases (``*name``) in one file."""
MAX_VALUES = 20_000
"""Most values (keys, scalars, lists, mappings) once aliases are expanded (a graph of
50 nodes has about 500)."""

Path = tuple[Any, ...]
_Loader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SYNTAX_FIX = "fix: check indentation, colons after keys, and matching quotes/brackets"


@dataclass
class LoadedYaml:
    """A YAML document and the line of every key and list item in it.

    ``lines`` maps a path such as ``('nodes', 'input', 'kind')`` or ``('edges', 3)`` to a
    1-based line number.
    """

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        """Return the line of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


def decode_yaml(data: bytes, size: int = 0) -> tuple[str | None, list[Problem]]:
    """Return a graph file's bytes as text, checking its size and encoding first.

    Args:
        data: the file's bytes (a caller may stop reading one byte past the limit).
        size: the file's size, bytes, when more than ``data`` (for the message).

    Returns:
        ``(text, [])``, or ``(None, [problem])`` for a file over :data:`MAX_BYTES` or
        one that is not UTF-8 (the problem names the line and column of the first bad
        byte, and says so when the file is UTF-16).
    """
    too_big = _size_problem(max(len(data), size))
    if too_big is not None:
        return None, [too_big]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        column = len(data[start : exc.start].decode("utf-8", "replace")) + 1
        fix = "fix: save the file as UTF-8 text"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            fix = "fix: the file is UTF-16 (it starts with a UTF-16 byte order mark); save as UTF-8"
        message = f"not UTF-8 text at column {column}: byte 0x{data[exc.start]:02X} is {exc.reason}"
        return None, [Problem(line, message, (fix,))]


def load_yaml(text: str) -> tuple[LoadedYaml | None, list[Problem]]:
    """Parse YAML text with line numbers, within the limits above.

    Returns:
        ``(loaded, problems)``; ``loaded`` is ``None`` when the text is not valid YAML
        or passes a limit, and then ``problems`` holds one problem, with the line and
        column where the text has them. Never raises.
    """
    too_big = _size_problem(len(text))
    if too_big is not None:
        return None, [too_big]
    bad = _SURROGATE.search(text)
    if bad is not None:
        line, column = _line_column(text, bad.start())
        return None, [
            Problem(
                line,
                f"not valid Unicode at column {column}: a lone surrogate",
                ("fix: pass text decoded from UTF-8",),
            )
        ]
    try:
        problem = _check_shape(text)
        if problem is not None:
            return None, [problem]
        loader = _ValueLoader(text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, text)]
    loaded = LoadedYaml(data)
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), loaded, problems)
    return loaded, problems


def _size_problem(size: int) -> Problem | None:
    """Return the problem of a graph file of ``size`` bytes (or characters), if too large."""
    if size <= MAX_BYTES:
        return None
    return Problem(
        None,
        f"the file is too large: {size:,} bytes, and graph files may have {MAX_BYTES:,} (1 MiB)",
        ("fix: a graph file describes nodes and edges; keep data and prompts out of it",),
    )


def _line_column(text: str, index: int) -> tuple[int, int]:
    """Return the 1-based line and column of character ``index`` of ``text``."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


class _Shape:
    """Counts of the event pass (:func:`_check_shape`)."""

    def __init__(self) -> None:
        self.depth = 0
        self.aliases = 0
        self.values = 0
        self.sizes: dict[str, int] = {}  # anchor -> values in its node, expanded
        self.open: list[tuple[str | None, int]] = []  # (anchor, values when it opened)


def _check_shape(text: str) -> Problem | None:
    """Return the first limit the document passes, reading parser events only.

    Raises:
        yaml.YAMLError: the text is not YAML (the parser stops at the first error).
    """
    shape = _Shape()
    loader = _Loader(text)
    try:
        while loader.check_event():
            event = loader.get_event()
            problem = _count(shape, event)
            if problem is not None:
                return Problem(event.start_mark.line + 1, *problem)
    finally:
        loader.dispose()
    return None


def _count(shape: _Shape, event: yaml.Event) -> tuple[str, tuple[str, ...]] | None:
    """Count one event; return ``(message, details)`` when a limit is passed."""
    if isinstance(event, yaml.CollectionStartEvent):
        shape.depth += 1
        if shape.depth > MAX_DEPTH:
            return f"nested more than {MAX_DEPTH} levels deep", (
                "fix: a graph needs a few levels (nodes -> node -> params -> value)",
            )
        shape.open.append((event.anchor, shape.values))
        shape.values += 1
    elif isinstance(event, yaml.CollectionEndEvent):
        shape.depth -= 1
        anchor, start = shape.open.pop()
        if anchor is not None:
            shape.sizes[anchor] = shape.values - start
    elif isinstance(event, yaml.ScalarEvent):
        shape.values += 1
        if event.anchor is not None:
            shape.sizes[event.anchor] = 1
    elif isinstance(event, yaml.AliasEvent):
        shape.aliases += 1
        if shape.aliases > MAX_ALIASES:
            return f"more than {MAX_ALIASES} aliases (*name)", (
                "fix: write the values out, or use fewer anchors and aliases",
            )
        if any(anchor == event.anchor for anchor, _ in shape.open):
            return f"alias '*{event.anchor}' refers to a node that contains it", (
                "fix: an alias may only repeat a node that is complete where it is used",
            )
        shape.values += shape.sizes.get(event.anchor, 1)
    if shape.values > MAX_VALUES:
        return f"more than {MAX_VALUES:,} values once aliases (*name) are expanded", (
            "fix: a graph needs far fewer; check for aliases that repeat large nodes",
        )
    return None


class _ValueLoader(_Loader):
    """The safe loader, but a value its constructor cannot read becomes a
    :class:`ConstructorError` at that value's line instead of a bare ``ValueError``."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, LookupError, ArithmeticError, AttributeError) as exc:
            shown = node.value if isinstance(node.value, str) else ""
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            why = str(exc).split("; use sys.set_int_max_str_digits()")[0]  # not a graph's fix
            raise ConstructorError(
                None, None, f"cannot read the value '{shown}' as {tag}: {why}", node.start_mark
            ) from None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> Problem:
    """Return the problem of a parser, composer or constructor error."""
    if isinstance(exc, yaml.reader.ReaderError):
        at, column = _line_column(text, exc.position)
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        return Problem(
            at,
            f"invalid YAML at column {column}: the character U+{ord(char):04X} is not allowed",
            ("fix: remove control characters; YAML allows tabs, line breaks and printable text",),
        )
    if not isinstance(exc, yaml.MarkedYAMLError):
        return Problem(None, f"invalid YAML: {exc}", (_SYNTAX_FIX,))
    mark = exc.problem_mark or exc.context_mark
    line: int | None = mark.line + 1 if mark else None
    col = f" at column {mark.column + 1}" if mark else ""
    what = exc.problem or exc.context or "syntax error"
    details = []
    if exc.context and exc.context_mark and exc.problem_mark:
        details.append(f"{exc.context} that starts on line {exc.context_mark.line + 1}")
    details.append(_fix(exc, text, mark))
    return Problem(line, f"invalid YAML{col}: {what}", tuple(details))


_FIXES = {  # words of the problem -> the fix (libyaml's and PyYAML's wording)
    "unhashable key": "fix: a key must be plain text, not a list or a mapping",
    "merging": "fix: '<<' merges mappings; point it at an anchored mapping (<<: *defaults)",
    "escape": "fix: write the character itself, or a \\uXXXX escape of a real character",
    "incompatible YAML document": "fix: remove the %YAML line; graph files are YAML 1.1",
}
_PLAIN_DATA = (
    "fix: graph files hold plain data (text, numbers, true/false, lists, mappings); "
    "remove tags such as !!python/object"
)


def _fix(exc: yaml.MarkedYAMLError, text: str, mark: yaml.Mark | None) -> str:
    """Return the fix line for a YAML error, naming what libyaml's terse messages leave
    out (the tab, the alias) where the text at ``mark`` explains it."""
    problem = exc.problem or ""
    for words, fix in _FIXES.items():
        if words in problem:
            return fix
    if isinstance(exc, ConstructorError):
        return _PLAIN_DATA
    char = text[mark.index] if mark is not None and mark.index < len(text) else ""
    if char == "\t":
        return "fix: this is a tab; YAML indents with spaces"
    alias = re.match(r"\*([^\s,\[\]{}]+)", text[mark.index :]) if char == "*" and mark else None
    if alias:
        return f"fix: define the anchor '&{alias.group(1)}' before the alias '*{alias.group(1)}'"
    return _SYNTAX_FIX


def _key(node: yaml.Node) -> Any:
    """Return a mapping key as the data holds it (``yes`` is ``True``, ``~`` is ``None``)."""
    if node.tag == "tag:yaml.org,2002:str" or not isinstance(node, yaml.ScalarNode):
        return node.value if isinstance(node.value, str) else repr(node)
    return yaml.constructor.SafeConstructor().construct_object(node)


def _walk(node: yaml.Node, path: Path, out: LoadedYaml, problems: list[Problem]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _key(key_node)
            line = key_node.start_mark.line + 1
            if key in seen:
                place = "in " + ".".join(map(str, path)) if path else "at the top level"
                problems.append(
                    Problem(
                        line,
                        f"duplicate key '{key}' {place}",
                        ("fix: keep one entry per key; YAML would silently drop the first",),
                    )
                )
            seen.add(key)
            out.lines[(*path, key)] = line
            _walk(value_node, (*path, key), out, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), out, problems)
