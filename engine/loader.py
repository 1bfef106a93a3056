"""Turn a graph YAML file into a validated :class:`Graph`, or report every problem.

The checks follow DESIGN.md: YAML syntax, schema (unknown keys, wrong types), unknown
kinds (looked up in the registry only), node params, unknown nodes and ports, edges
whose types do not fit, required inputs with no incoming edge, cycles, and nodes that
no entry reaches. Everything found is raised at once in one
:class:`~engine.errors.GraphValidationError`.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import networkx as nx
from pydantic import ValidationError

from .document import MAX_BYTES, LoadedYaml, decode_yaml, load_yaml
from .errors import GraphValidationError, Problem, UnknownKindError
from .graph import Graph, NodeDecl
from .node import Node, NodeParams
from .ports import Port, fits, type_name
from .registry import Registry, default_registry
from .spec import EdgeSpec, GraphSpec, PortRef, parse_spec

__all__ = ["load_graph", "load_graph_text"]

_TOOL_NAME = re.compile(r"^[\w-]+(\.[\w.-]+)?$")


def load_graph(path: str | Path, registry: Registry | None = None) -> Graph:
    """Load and validate a graph file.

    Args:
        path: a ``.yaml`` file.
        registry: where kinds are looked up (default: :func:`default_registry`).

    Raises:
        GraphValidationError: every problem in the file, with lines (a file that is too
            large or not UTF-8 included; see :mod:`engine.document` for the limits).
        OSError: when the file cannot be read.
    """
    path = Path(path)
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(MAX_BYTES + 1)  # one byte past the limit tells it is passed
    text, problems = decode_yaml(data, size)
    if text is None:
        raise GraphValidationError(str(path), None, problems)
    return load_graph_text(text, source=str(path), default_name=path.stem, registry=registry)


def load_graph_text(
    text: str,
    *,
    source: str = "<string>",
    default_name: str = "graph",
    registry: Registry | None = None,
) -> Graph:
    """Validate graph YAML text; see :func:`load_graph`.

    Raises:
        GraphValidationError: every problem in the text, with lines.
    """
    registry = registry or default_registry()
    loaded, problems = load_yaml(text)
    spec = None
    if loaded is not None:
        spec, schema_problems = parse_spec(loaded)
        problems += schema_problems
    name = (spec.name if spec and spec.name else None) or _raw_name(loaded) or default_name
    if spec is None or problems:
        raise GraphValidationError(source, name if loaded else None, problems)
    builder = _Builder(spec, loaded, registry)  # type: ignore[arg-type]
    graph = builder.build(name, source, text)
    if builder.problems:
        raise GraphValidationError(source, name, builder.problems)
    return graph


def _raw_name(loaded: LoadedYaml | None) -> str | None:
    data = loaded.data if loaded else None
    name = data.get("name") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def _closest(word: str, options: list[str]) -> str:
    """Return ``". Did you mean 'x'?"`` for the closest option, or ``""``."""
    close = difflib.get_close_matches(word, options, n=1)
    return f". Did you mean '{close[0]}'?" if close else ""


def _closest_kind(kind: str, known: list[str]) -> str | None:
    """Return the known kind closest to ``kind``, comparing names without their version
    suffix (``_v1``), or ``None`` when none is close enough to be a likely typo."""
    base = re.sub(r"_v\d+$", "", kind)
    bases = {re.sub(r"_v\d+$", "", k): k for k in sorted(known, reverse=True)}
    close = difflib.get_close_matches(base, list(bases), n=1, cutoff=0.8)
    return bases[close[0]] if close else None


def _port_list(nid: str, ports: dict[str, Port], what: str) -> str:
    return f"{nid} {what}: {', '.join(p.describe() for p in ports.values()) or '(none)'}"


def _digraph(nodes: Any, edges: list[EdgeSpec]) -> nx.DiGraph:
    """Return a DiGraph of node ids; edge attribute ``ports`` lists (src, dst) port pairs."""
    dag = nx.DiGraph()
    dag.add_nodes_from(nodes)
    for e in edges:
        if dag.has_edge(e.src.node, e.dst.node):
            dag.edges[e.src.node, e.dst.node]["ports"].append((e.src.port, e.dst.port))
        else:
            dag.add_edge(e.src.node, e.dst.node, ports=[(e.src.port, e.dst.port)])
    return dag


class _Builder:
    """Runs every check over a schema-valid spec, collecting problems."""

    def __init__(self, spec: GraphSpec, loaded: LoadedYaml, registry: Registry) -> None:
        self.spec = spec
        self.loaded = loaded
        self.registry = registry
        self.problems: list[Problem] = []
        self.nodes: dict[str, NodeDecl] = {}
        # Edges and entry refs between existing nodes, even when a port or type is wrong:
        # the structural checks use them, so one wrong port is not also reported as a
        # missing input and an unreachable node.
        self.attempted: list[EdgeSpec] = []
        self.attempted_entry: set[tuple[str, str]] = set()

    def problem(self, path: tuple[Any, ...], message: str, *details: str) -> None:
        self.problems.append(Problem(self.loaded.line(path), message, details))

    def build(self, name: str, source: str, text: str) -> Graph:
        if not self.spec.nodes:
            self.problem(
                ("nodes",),
                "the graph has no nodes",
                "fix: add nodes such as 'input: {kind: input_v1}'",
            )
        for nid, node in self.spec.nodes.items():
            self.check_node(nid, node)
        edges = self.check_edges()
        entry = self.check_entry()
        self.check_outputs()
        dag = _digraph(self.spec.nodes, edges)
        flow = self.check_context()
        self.check_structure(dag, _digraph(self.spec.nodes, self.attempted), flow)
        self.check_critical(edges)
        self.check_approval(flow)
        if self.problems:
            return None  # type: ignore[return-value]
        return Graph(
            spec=self.spec,
            name=name,
            source=source,
            text=text,
            nodes=self.nodes,
            edges=edges,
            entry=entry,
            dag=dag,
            flow=flow,
        )

    def check_node(self, nid: str, node: Any) -> None:
        path = ("nodes", nid)
        if not nid.isidentifier():
            self.problem(
                path,
                f"node id '{nid}' is not a valid identifier",
                "fix: use letters, digits and underscores, starting with a letter",
            )
        try:
            cls = self.registry.get(node.kind)
        except UnknownKindError as exc:
            close = _closest_kind(node.kind, exc.known)
            self.problem(
                (*path, "kind"),
                f"node '{nid}': {exc.message}",
                f"fix: did you mean '{close}'?"
                if close
                else "fix: use a known kind, or make yours available:",
                "a kind is available when it is built in, declared by an installed package "
                "(entry point group 'cogpipe.nodes'), or defined in a node module given with "
                "--nodes FILE.py or the node_modules setting (COGPIPE_NODE_MODULES)",
            )
            return
        params = self.check_params(nid, cls, node.params)
        if params is not None:
            timeout = node.timeout_s if node.timeout_s is not None else cls.timeout_s
            line = self.loaded.line(path)
            self.nodes[nid] = NodeDecl(nid, node.kind, cls, params, timeout, line, node.critical)

    def check_params(self, nid: str, cls: type[Node], raw: dict[str, Any]) -> NodeParams | None:
        path = ("nodes", nid, "params")
        fields = cls.Params.model_fields
        known = (
            ", ".join(
                f"{k} ({type_name(f.annotation)}"
                + (")" if f.is_required() else f", default {f.default!r})")
                for k, f in fields.items()
            )
            or "(none)"
        )
        bad = False
        for key in raw:
            if key not in fields:
                bad = True
                self.problem(
                    (*path, key),
                    f"node '{nid}': unknown param '{key}' for kind "
                    f"'{cls.kind}'{_closest(key, list(fields))}",
                    f"{cls.kind} params: {known}",
                )
        if bad:
            return None
        try:
            return cls.Params.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(p) for p in err["loc"])
                self.problem(
                    (*path, *err["loc"]),
                    f"node '{nid}': param '{where}': {err['msg']}",
                    f"{cls.kind} params: {known}",
                )
            return None

    def port(self, ref: PortRef, path: tuple[Any, ...], what: str, *, output: bool) -> Port | None:
        """Resolve ``ref`` to a port, reporting an unknown node or port under ``what``."""
        decl = self.nodes.get(ref.node)
        if decl is None:
            if ref.node not in self.spec.nodes:
                self.problem(
                    path,
                    f"{what}: unknown node '{ref.node}'{_closest(ref.node, list(self.spec.nodes))}",
                    f"nodes: {', '.join(self.spec.nodes)}",
                )
            return None  # a node whose kind is unknown was already reported
        ports = decl.cls.output_ports if output else decl.cls.input_ports
        side = "outputs" if output else "inputs"
        if ref.port not in ports:
            self.problem(
                path,
                f"{what}: node '{ref.node}' ({decl.kind}) has no "
                f"{side[:-1]} port '{ref.port}'{_closest(ref.port, list(ports))}",
                _port_list(ref.node, ports, side),
            )
            return None
        return ports[ref.port]

    def check_edges(self) -> list[EdgeSpec]:
        edges: list[EdgeSpec] = []
        seen: set[str] = set()
        for i, text in enumerate(self.spec.edges):
            path = ("edges", i)
            edge = EdgeSpec.parse(text, self.loaded.line(path))
            if edge is None:
                self.problem(
                    path,
                    f"edge '{text}' is not of the form 'node.port -> node.port'",
                    "fix: write e.g. 'input.command -> thinker.command'",
                )
                continue
            what = f"edge '{edge}'"
            if str(edge) in seen:
                self.problem(path, f"{what} is listed twice", "fix: remove one of them")
                continue
            seen.add(str(edge))
            if edge.src.node in self.spec.nodes and edge.dst.node in self.spec.nodes:
                self.attempted.append(edge)
            out = self.port(edge.src, path, what, output=True)
            inp = self.port(edge.dst, path, what, output=False)
            if out is None or inp is None:
                continue
            if not fits(out.type, inp.type):
                src, dst = self.nodes[edge.src.node].cls, self.nodes[edge.dst.node].cls
                self.problem(
                    path,
                    f"{what}: output type {type_name(out.type)} does not fit "
                    f"input type {type_name(inp.type)}",
                    f"{_port_list(edge.src.node, src.output_ports, 'outputs')}; "
                    f"{_port_list(edge.dst.node, dst.input_ports, 'inputs')}",
                )
                continue
            edges.append(edge)
        return edges

    def check_entry(self) -> dict[str, list[PortRef]]:
        entry: dict[str, list[PortRef]] = {}
        if not self.spec.entry:
            self.problem(
                ("entry",), "the graph has no entry", "fix: add e.g. 'entry: {message: input.text}'"
            )
        for event, targets in self.spec.entry.items():
            items = [targets] if isinstance(targets, str) else targets
            for i, text in enumerate(items):
                path = ("entry", event) if isinstance(targets, str) else ("entry", event, i)
                ref = PortRef.parse(text)
                if ref is None:
                    self.problem(
                        path,
                        f"entry '{event}': '{text}' is not of the form 'node.port'",
                        "fix: write e.g. 'message: input.text'",
                    )
                    continue
                if ref.node in self.spec.nodes:
                    self.attempted_entry.add((ref.node, ref.port))
                if self.port(ref, path, f"entry '{event}'", output=False) is not None:
                    entry.setdefault(event, []).append(ref)
        return entry

    def check_outputs(self) -> None:
        for key, text in self.spec.outputs.items():
            ref = PortRef.parse(text)
            if ref is None:
                self.problem(
                    ("outputs", key),
                    f"output '{key}': '{text}' is not of the form 'node.port'",
                    "fix: write e.g. 'response: output.response'",
                )
            else:
                self.port(ref, ("outputs", key), f"output '{key}'", output=True)

    def fed(self) -> set[tuple[str, str]]:
        """Return every ``(node, input port)`` that an edge or an entry points at."""
        return {(e.dst.node, e.dst.port) for e in self.attempted} | self.attempted_entry

    def check_context(self) -> set[str]:
        """Check ``context:`` and return the flow: nodes that run on each turn."""
        fed = {nid for nid, _ in self.fed()}
        flow = set(self.spec.nodes)
        for i, nid in enumerate(self.spec.context):
            decl = self.nodes.get(nid)
            if nid not in self.spec.nodes:
                self.problem(
                    ("context", i),
                    f"context: unknown node '{nid}'{_closest(nid, list(self.spec.nodes))}",
                    f"nodes: {', '.join(self.spec.nodes)}",
                )
            elif decl is not None and not decl.cls.provides_context():
                self.problem(
                    ("context", i),
                    f"context: node '{nid}' ({decl.kind}) provides no context()",
                    "fix: remove it from 'context:' or use a kind that implements context()",
                )
            if nid not in fed:
                flow.discard(nid)  # a context-only node: it never runs in a turn
        return flow

    def check_structure(self, dag: nx.DiGraph, intent: nx.DiGraph, flow: set[str]) -> None:
        """Missing inputs and reachability use ``intent`` (every edge between existing
        nodes); cycles use ``dag`` (valid edges only), so a bad edge is reported once."""
        fed = self.fed()
        # a node an edge points at through a misspelt port: that edge's problem says it
        misaimed = {n for n, p in fed if n in self.nodes and p not in self.nodes[n].cls.input_ports}
        starved = set()
        for nid, decl in self.nodes.items():
            if nid not in flow:
                continue
            for port in decl.cls.input_ports.values():
                if port.required and (nid, port.name) not in fed and nid not in misaimed:
                    starved.add(nid)
                    self.missing_input(nid, decl, port, nx.descendants(intent, nid))
        order = {nid: i for i, nid in enumerate(self.spec.nodes)}
        for cycle in sorted(nx.simple_cycles(dag), key=lambda c: sorted(order[n] for n in c)):
            first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
            cycle = cycle[first:] + cycle[:first]  # start at the node written first
            ring = [*cycle, cycle[0]]
            line = (
                min(
                    e.line or 0
                    for e in self.attempted
                    if e.src.node == ring[0] and e.dst.node == ring[1]
                )
                or None
            )
            self.problems.append(
                Problem(
                    line,
                    f"cycle: {' -> '.join(ring)}",
                    ("fix: remove one edge of the cycle; graphs run without loops",),
                )
            )
        starts = {nid for nid, _ in self.attempted_entry}
        reached = set(starts)
        for start in starts:
            reached |= nx.descendants(intent, start)
        entries = ", ".join(
            f"{k} -> {v if isinstance(v, str) else ', '.join(v)}"
            for k, v in self.spec.entry.items()
        )
        for nid in self.spec.nodes:
            if nid in flow and nid not in reached and nid in self.nodes and nid not in starved:
                self.problem(
                    ("nodes", nid),
                    f"node '{nid}' ({self.nodes[nid].kind}) is "
                    f"unreachable from every entry ({entries or 'none'})",
                    "fix: connect it with an edge from a reachable node, or remove it",
                )

    def check_critical(self, edges: list[EdgeSpec]) -> None:
        """A critical node's required input must not hang on non-critical nodes alone:
        their failure would skip the critical node while the run still finishes."""
        feeding: dict[tuple[str, str], list[EdgeSpec]] = {}
        for edge in edges:
            feeding.setdefault((edge.dst.node, edge.dst.port), []).append(edge)
        for (nid, port), into in feeding.items():
            decl = self.nodes[nid]
            if (
                not decl.critical
                or not decl.cls.input_ports[port].required
                or (nid, port) in self.attempted_entry
                or any(self.nodes[e.src.node].critical for e in into)
            ):
                continue
            edge = into[0]
            src = edge.src.node
            self.problems.append(
                Problem(
                    edge.line,
                    f"edge '{edge}': node '{src}' is critical: false, but the required "
                    f"input '{nid}.{port}' of critical node '{nid}' depends on it alone",
                    (
                        f"fix: mark '{nid}' critical: false as well (a failure of '{src}' "
                        f"would skip it while the run still finishes), or drop "
                        f"critical: false from '{src}'",
                    ),
                )
            )

    def check_approval(self, flow: set[str]) -> None:
        """``approval:`` names flow nodes or tools; a name that is neither a node nor
        shaped like a tool name, or that is a near miss of a node id, is a problem
        (tool names cannot be checked here: tool servers are not known to a graph)."""
        nodes = list(self.spec.nodes)
        for i, name in enumerate(self.spec.approval):
            path = ("approval", i)
            if name in self.spec.nodes:
                if name not in flow:
                    self.problem(
                        path,
                        f"approval: node '{name}' only provides context and never runs in "
                        "a turn, so there is nothing to approve",
                        "fix: remove it from 'approval:'",
                    )
                continue
            close = difflib.get_close_matches(name, nodes, n=1, cutoff=0.75)
            if close or not _TOOL_NAME.match(name):
                self.problem(
                    path,
                    f"approval: '{name}' is neither a node of this graph nor a tool name "
                    "('tool' or 'server.tool')",
                    f"fix: did you mean node '{close[0]}'?"
                    if close
                    else f"nodes: {', '.join(nodes)}",
                )

    def missing_input(self, nid: str, decl: NodeDecl, port: Port, downstream: set[str]) -> None:
        candidates = [
            f"{oid}.{p.name}"
            for oid, d in self.nodes.items()
            if oid != nid and oid not in downstream  # an edge from downstream would loop
            for p in d.cls.output_ports.values()
            if fits(p.type, port.type)
        ]
        hint = (
            f"fix: add an edge such as '{candidates[0]} -> {nid}.{port.name}'"
            if candidates
            else f"fix: add an edge into '{nid}.{port.name}' or an entry"
        )
        if len(candidates) > 1:
            hint += f" (outputs that fit: {', '.join(candidates)})"
        self.problem(
            ("nodes", nid),
            f"node '{nid}' ({decl.kind}): required input "
            f"'{port.name}' ({type_name(port.type)}) has no incoming edge",
            hint,
        )
