"""A validated graph: its nodes, edges, entries and the networkx DAG behind them.

Build one with :func:`engine.loader.load_graph`.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from .node import Node, NodeParams
from .spec import EdgeSpec, GraphSpec, PortRef

__all__ = ["Graph", "NodeDecl"]


@dataclass(frozen=True)
class NodeDecl:
    """A node of a validated graph: its id, class, validated params, time limit, and
    whether its failure fails the run (``critical``) or only adds a warning to it."""

    id: str
    kind: str
    cls: type[Node]
    params: NodeParams
    timeout_s: float | None
    line: int | None
    critical: bool = True

    def instantiate(self) -> Node:
        """Create a fresh instance of the node class with this node's params."""
        return self.cls(self.id, self.params)


class Graph:
    """A validated graph, ready to run. Build it with :func:`load_graph`.

    Attributes:
        name: graph name. description: one line about it. source: file it came from.
        text: the YAML text it was built from.
        nodes: node declarations by id, in file order.
        edges: port-level edges in file order.
        entry: external event name -> the input ports it feeds.
        context: ids of the nodes whose ``context()`` feeds every prompt.
        outputs: result name -> output port (the run's named results).
        approval_nodes: node ids with an approval gate (``approval:``); the run pauses
            before them. approval_tools: the other ``approval:`` names, tool names
            whose calls pause the run.
        flow: ids of the nodes that run on each turn (all but context-only nodes).
        order: node ids in a topological order (file order breaks ties).
        dag: a ``networkx.DiGraph`` of node ids; edge attribute ``ports`` lists the
            ``(src_port, dst_port)`` pairs of that node pair.
    """

    def __init__(
        self,
        *,
        spec: GraphSpec,
        name: str,
        source: str,
        text: str,
        nodes: dict[str, NodeDecl],
        edges: list[EdgeSpec],
        entry: dict[str, list[PortRef]],
        dag: nx.DiGraph,
        flow: set[str],
    ) -> None:
        self.spec = spec
        self.name = name
        self.description = spec.description
        self.source = source
        self.text = text
        self.nodes = nodes
        self.edges = edges
        self.entry = entry
        self.context = list(spec.context)
        # validated by the loader: every value parses
        self.outputs: dict[str, PortRef] = {
            k: ref for k, v in spec.outputs.items() if (ref := PortRef.parse(v)) is not None
        }
        self.approval_nodes = frozenset(n for n in spec.approval if n in nodes)
        self.approval_tools = frozenset(n for n in spec.approval if n not in nodes)
        self.flow = flow
        self.dag = dag
        index = {nid: i for i, nid in enumerate(nodes)}
        self.order = list(nx.lexicographical_topological_sort(dag, key=index.__getitem__))

    def __repr__(self) -> str:
        return f"<Graph {self.name!r}: {len(self.nodes)} nodes, {len(self.edges)} edges>"
