"""Pure exports of a graph: cytoscape.js elements and Mermaid flowchart text."""

from __future__ import annotations

from typing import Any

from .graph import Graph
from .ports import type_name
from .session import jsonable

__all__ = ["to_cytoscape", "to_mermaid"]


def _ports(ports: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": p.name, "type": type_name(p.type), "required": p.required} for p in ports.values()
    ]


def to_cytoscape(graph: Graph) -> dict[str, list[dict[str, Any]]]:
    """Return the graph as cytoscape.js elements.

    Format (https://js.cytoscape.org/#notation/elements-json)::

        {"nodes": [{"data": {"id", "label", "kind", "role", "params", "timeout_s",
                              "inputs": [{name, type, required}], "outputs": [...]}}],
         "edges": [{"data": {"id", "source", "target", "source_port", "target_port",
                              "label"}}]}

    ``role`` is ``node`` for nodes that run in turns, ``context`` for context-only nodes,
    and ``entry`` for one pseudo-node per external event (id ``entry:<event>``).
    """
    nodes: list[dict[str, Any]] = [
        {"data": {"id": f"entry:{event}", "label": event, "kind": "entry", "role": "entry"}}
        for event in graph.entry
    ]
    for nid, decl in graph.nodes.items():
        nodes.append(
            {
                "data": {
                    "id": nid,
                    "label": nid,
                    "kind": decl.kind,
                    "role": "node" if nid in graph.flow else "context",
                    "context": nid in graph.context,
                    "params": jsonable(decl.params),
                    "timeout_s": decl.timeout_s,
                    "inputs": _ports(decl.cls.input_ports),
                    "outputs": _ports(decl.cls.output_ports),
                    "doc": (decl.cls.__doc__ or "").strip().split("\n")[0],
                }
            }
        )
    edges: list[dict[str, Any]] = []
    for event, refs in graph.entry.items():
        for ref in refs:
            edges.append(
                {
                    "data": {
                        "id": f"entry:{event}->{ref}",
                        "source": f"entry:{event}",
                        "target": ref.node,
                        "source_port": event,
                        "target_port": ref.port,
                        "label": ref.port,
                    }
                }
            )
    for e in graph.edges:
        label = e.src.port if e.src.port == e.dst.port else f"{e.src.port}→{e.dst.port}"
        edges.append(
            {
                "data": {
                    "id": str(e),
                    "source": e.src.node,
                    "target": e.dst.node,
                    "source_port": e.src.port,
                    "target_port": e.dst.port,
                    "label": label,
                }
            }
        )
    return {"nodes": nodes, "edges": edges}


def to_mermaid(graph: Graph) -> str:
    """Return the graph as a Mermaid ``flowchart LR`` (https://mermaid.js.org/syntax/flowchart.html).

    Entries are stadium shapes, context-only nodes are dashed, edges are labelled with
    their ports.
    """
    lines = ["flowchart LR"]
    for event in graph.entry:
        lines.append(f'    entry_{event}(["{event}"])')
    for nid, decl in graph.nodes.items():
        lines.append(f'    {nid}["{nid}<br/><small>{decl.kind}</small>"]')
    for event, refs in graph.entry.items():
        for ref in refs:
            lines.append(f"    entry_{event} -->|{ref.port}| {ref.node}")
    for e in graph.edges:
        label = e.src.port if e.src.port == e.dst.port else f"{e.src.port} → {e.dst.port}"
        lines.append(f"    {e.src.node} -->|{label}| {e.dst.node}")
    for nid in graph.context:
        if nid not in graph.flow:
            lines.append(f"    style {nid} stroke-dasharray: 5 5")
    return "\n".join(lines) + "\n"
