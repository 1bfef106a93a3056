"""Graph YAML: the schema (pydantic) and a loader that remembers line numbers.

A graph file looks like::

    name: v2-director-drives
    description: Director plans, Thinker executes, Interpreter summarises.
    entry: {message: input.text, action: [ui.action, input.action]}
    context: [memorizer, sensor]
    nodes:
      input: {kind: input_v1, params: {model: fast}}
      thinker: {kind: thinker_v2, timeout_s: 30}
    edges:
      - input.command -> thinker.command
    outputs: {response: output.response}
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Problem

__all__ = ["EdgeSpec", "GraphSpec", "LoadedYaml", "NodeSpec", "PortRef", "load_yaml", "parse_spec"]

Path = tuple[str | int, ...]
_REF = re.compile(r"^\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*$")
_EDGE = re.compile(r"^(.+?)\s*->\s*(.+)$")


class NodeSpec(BaseModel):
    """One node of a graph: ``{kind, params, timeout_s}``."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="registered node kind, e.g. 'thinker_v2'")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's Params")
    timeout_s: float | None = Field(None, gt=0, description="time limit of one run, seconds")


class GraphSpec(BaseModel):
    """A graph file as written, before it is checked against the registry."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, description="graph name; defaults to the file stem")
    description: str = ""
    entry: dict[str, str | list[str]] = Field(
        description="external event name -> 'node.port' (or a list of them)"
    )
    context: list[str] = Field(default_factory=list, description="context-providing node ids")
    nodes: dict[str, NodeSpec]
    edges: list[str] = Field(default_factory=list, description="'node.port -> node.port'")
    outputs: dict[str, str] = Field(
        default_factory=dict, description="result name -> 'node.port' of an output port"
    )


@dataclass(frozen=True)
class PortRef:
    """``node.port``."""

    node: str
    port: str

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"

    @classmethod
    def parse(cls, text: str) -> PortRef | None:
        """Parse ``'node.port'``; return ``None`` when the text is not of that form."""
        m = _REF.match(text)
        return cls(m.group(1), m.group(2)) if m else None


@dataclass(frozen=True)
class EdgeSpec:
    """A parsed edge ``src.port -> dst.port`` and the line it was written on."""

    src: PortRef
    dst: PortRef
    line: int | None

    def __str__(self) -> str:
        return f"{self.src} -> {self.dst}"

    @classmethod
    def parse(cls, text: str, line: int | None) -> EdgeSpec | None:
        """Parse ``'a.out -> b.in'``; return ``None`` when malformed."""
        m = _EDGE.match(text)
        if not m:
            return None
        src, dst = PortRef.parse(m.group(1)), PortRef.parse(m.group(2))
        if src is None or dst is None:
            return None
        return cls(src, dst, line)


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


def _walk(node: yaml.Node, path: Path, out: LoadedYaml, problems: list[Problem]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        line,
                        f"duplicate key '{key}'",
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


def load_yaml(text: str) -> tuple[LoadedYaml | None, list[Problem]]:
    """Parse YAML text with line numbers.

    Returns:
        ``(loaded, problems)``; ``loaded`` is ``None`` when the text is not valid YAML,
        and then ``problems`` holds one problem with the line and column.
    """
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        col = f" at column {mark.column + 1}" if mark else ""
        what = exc.problem or exc.context or "syntax error"
        details = []
        if exc.context and exc.context_mark and exc.problem_mark:
            details.append(f"{exc.context} that starts on line {exc.context_mark.line + 1}")
        details.append("fix: check indentation, colons after keys, and matching quotes/brackets")
        return None, [Problem(line, f"invalid YAML{col}: {what}", tuple(details))]
    except yaml.YAMLError as exc:
        return None, [Problem(None, f"invalid YAML: {exc}")]
    loaded = LoadedYaml(data)
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), loaded, problems)
    return loaded, problems


_ALLOWED = {
    (): list(GraphSpec.model_fields),
    ("nodes", "*"): list(NodeSpec.model_fields),
}


def _schema_problem(err: Any, loaded: LoadedYaml) -> Problem:
    loc = tuple(err["loc"])
    where = ".".join(str(p) for p in loc) or "(top level)"
    line = loaded.line(loc)
    if err["type"] == "extra_forbidden":
        parent = loc[:-1]
        key = "*" if len(parent) == 2 and parent[0] == "nodes" else None
        allowed = _ALLOWED.get(parent if key is None else (parent[0], key), [])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        guess = f". Did you mean '{close[0]}'?" if close else ""
        place = "in " + ".".join(map(str, parent)) if parent else "at the top level"
        return Problem(
            line,
            f"unknown key '{loc[-1]}' {place}{guess}",
            (f"allowed keys here: {', '.join(allowed)}",),
        )
    if err["type"] == "missing":
        return Problem(line, f"missing required key '{loc[-1]}' at {where}")
    got = type(err.get("input")).__name__
    return Problem(line, f"{where}: {err['msg']} (got {got})")


def parse_spec(loaded: LoadedYaml) -> tuple[GraphSpec | None, list[Problem]]:
    """Validate loaded YAML against :class:`GraphSpec`.

    Returns:
        ``(spec, problems)``; ``spec`` is ``None`` when the schema is not met.
    """
    if not isinstance(loaded.data, dict):
        kind = "empty" if loaded.data is None else type(loaded.data).__name__
        return None, [
            Problem(
                1,
                f"a graph file must be a mapping, got {kind}",
                ("fix: start with 'name:', 'entry:', 'nodes:' and 'edges:' keys",),
            )
        ]
    try:
        return GraphSpec.model_validate(loaded.data), []
    except ValidationError as exc:
        return None, [_schema_problem(err, loaded) for err in exc.errors()]
