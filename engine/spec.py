"""Graph YAML: the schema (pydantic) of a loaded document (:mod:`engine.document`).

A graph file looks like::

    name: v2-director-drives
    description: Director plans, Thinker executes, Interpreter summarises.
    entry: {message: input.text, action: [ui.action, input.action]}
    context: [memorizer, sensor]
    nodes:
      input: {kind: input_v1, params: {model: fast}}
      thinker: {kind: thinker_v2, timeout_s: 30}
      memorizer: {kind: memorizer_v1, critical: false}
    edges:
      - input.command -> thinker.command
    outputs: {response: output.response}
    approval: [thinker, demo_db.delete_order]   # pause for approval (docs/graphs.md)
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .document import LoadedYaml
from .errors import Problem

__all__ = ["EdgeSpec", "GraphSpec", "NodeSpec", "PortRef", "parse_spec"]

_REF = re.compile(r"^\s*([A-Za-z_]\w*)\.([A-Za-z_]\w*)\s*$")
_EDGE = re.compile(r"^(.+?)\s*->\s*(.+)$")


class NodeSpec(BaseModel):
    """One node of a graph: ``{kind, params, timeout_s, critical}``."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="registered node kind, e.g. 'thinker_v2'")
    params: dict[str, Any] = Field(default_factory=dict, description="the kind's Params")
    timeout_s: float | None = Field(None, gt=0, description="time limit of one run, seconds")
    critical: bool = Field(
        True,
        description="false: a failure of this node is a warning of the run, which still "
        "finishes (for work after the answer, e.g. memory updates)",
    )


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
    approval: list[str] = Field(
        default_factory=list,
        description="node ids to pause before, and tool names ('tool' or 'server.tool') "
        "whose calls pause, until a person resumes the run",
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


_ALLOWED = {
    (): list(GraphSpec.model_fields),
    ("nodes", "*"): list(NodeSpec.model_fields),
}


def _schema_problem(err: Any, loaded: LoadedYaml) -> Problem:
    loc = tuple(err["loc"])
    if loc and (loc[-1] == "[key]" or err["type"] == "invalid_key"):
        return _key_problem(loc[:-1] if loc[-1] == "[key]" else loc, loaded)
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


def _key_problem(loc: tuple[Any, ...], loaded: LoadedYaml) -> Problem:
    """A key YAML read as a number, ``true``/``false`` or ``null`` where text is needed.

    ``loc`` ends with pydantic's name of the key, in which ``True`` is ``1`` and
    ``None`` is ``'None'``; the key itself is looked up in the data.
    """
    parent, named = loc[:-1], loc[-1]
    mapping = loaded.data
    for part in parent:
        mapping = mapping.get(part) if isinstance(mapping, dict) else None
    keys = [k for k in mapping if not isinstance(k, str)] if isinstance(mapping, dict) else []
    key = next((k for k in keys if k == named or str(k) == named), named)
    loc = (*parent, key)
    place = "in " + ".".join(map(str, parent)) if parent else "at the top level"
    kind = "null" if key is None else type(key).__name__
    return Problem(
        loaded.line(loc),
        f"key {key!r} {place} is read as {kind}, but keys must be text",
        ("fix: put the key in quotes, e.g. '1': or 'yes':",),
    )


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
