"""The structural difference between two versions of a graph (hot reload's ``graph.updated``)."""

from __future__ import annotations

from typing import Any

from .graph import Graph
from .session import jsonable

__all__ = ["graph_diff"]


def _node(graph: Graph, nid: str) -> dict[str, Any]:
    decl = graph.nodes[nid]
    return {
        "kind": decl.kind,
        "params": jsonable(decl.params.model_dump(mode="json", exclude_unset=True)),
        "timeout_s": decl.timeout_s,
        "critical": decl.critical,
    }


def graph_diff(old: Graph, new: Graph) -> dict[str, Any]:
    """Return what changed from ``old`` to ``new``.

    Returns:
        ``{"nodes": {"added": [id], "removed": [id], "changed": [{"id", "changes":
        {field: {"from", "to"}}}]}, "edges": {"added": ["a.x -> b.y"], "removed": [...]},
        "empty": bool}``; a node's fields are ``kind``, ``params`` (as written in the
        YAML), ``timeout_s`` and ``critical``. ``empty`` is true when nothing structural
        changed (a description or a comment).
    """
    changed = []
    for nid in [n for n in new.nodes if n in old.nodes]:
        before, after = _node(old, nid), _node(new, nid)
        fields = {k: {"from": before[k], "to": after[k]} for k in before if before[k] != after[k]}
        if fields:
            changed.append({"id": nid, "changes": fields})
    old_edges, new_edges = [str(e) for e in old.edges], [str(e) for e in new.edges]
    diff: dict[str, Any] = {
        "nodes": {
            "added": [n for n in new.nodes if n not in old.nodes],
            "removed": [n for n in old.nodes if n not in new.nodes],
            "changed": changed,
        },
        "edges": {
            "added": [e for e in new_edges if e not in old_edges],
            "removed": [e for e in old_edges if e not in new_edges],
        },
    }
    diff["empty"] = not any(v for part in diff.values() for v in part.values())
    return diff
