"""Graph exports: cytoscape.js elements and Mermaid text."""

from __future__ import annotations

from pathlib import Path

from cogpipe.engine import load_graph, to_cytoscape, to_mermaid

from .kinds import REGISTRY

VALID = Path(__file__).parent / "fixtures" / "valid.yaml"


def test_cytoscape_elements_describe_nodes_ports_and_edges() -> None:
    elements = to_cytoscape(load_graph(VALID, REGISTRY))
    nodes = {n["data"]["id"]: n["data"] for n in elements["nodes"]}
    assert set(nodes) == {"entry:message", "source", "left", "right", "join", "memory"}
    assert nodes["entry:message"]["role"] == "entry"
    assert nodes["right"]["kind"] == "t_step"
    assert nodes["right"]["timeout_s"] == 5
    assert nodes["right"]["params"] == {"sleep_s": 0.0, "fail": False, "silent": False}
    assert nodes["source"]["outputs"] == [
        {"name": "out", "type": "dict[str, Any]", "required": False},
        {"name": "reflex", "type": "str", "required": False},
    ]
    assert nodes["memory"]["context"] is True
    edges = {e["data"]["id"]: e["data"] for e in elements["edges"]}
    assert edges["source.reflex -> join.reflex"] == {
        "id": "source.reflex -> join.reflex",
        "source": "source",
        "target": "join",
        "source_port": "reflex",
        "target_port": "reflex",
        "label": "reflex",
    }
    assert edges["entry:message->source.text"]["target"] == "source"
    assert len(edges) == 7


def test_mermaid_flowchart() -> None:
    text = to_mermaid(load_graph(VALID, REGISTRY))
    assert text.splitlines()[:3] == [
        "flowchart LR",
        '    entry_message(["message"])',
        '    source["source<br/><small>t_source</small>"]',
    ]
    assert "    source -->|out → x| left" in text
    assert "    source -->|reflex| join" in text
    assert "    entry_message -->|text| source" in text
