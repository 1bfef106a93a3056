"""Hot reload in the engine: a valid edit runs from the next turn and is announced with
a structural diff; an invalid edit keeps the last valid version running."""

from __future__ import annotations

from pathlib import Path

from cogpipe.engine import CallbackObserver, GraphCatalog, Runtime, TraceEvent
from cogpipe.engine.diff import graph_diff
from cogpipe.engine.loader import load_graph_text

from .kinds import REGISTRY

V1 = """\
name: chain
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  one: {kind: t_step}
  gone: {kind: t_step}
edges:
  - source.out -> one.x
  - source.out -> gone.x
outputs: {result: one.y}
"""

V2 = """\
name: chain
entry: {message: source.text}
nodes:
  source: {kind: t_source}
  one: {kind: t_step, params: {sleep_s: 0.001}}
  two: {kind: t_step}
edges:
  - source.out -> one.x
  - one.y -> two.x
outputs: {result: two.y}
"""

BROKEN = V2.replace("  two: {kind: t_step}", "  two: {kind: t_stpe}")


def test_graph_diff_names_added_removed_and_changed() -> None:
    diff = graph_diff(
        load_graph_text(V1, registry=REGISTRY), load_graph_text(V2, registry=REGISTRY)
    )
    assert diff == {
        "nodes": {
            "added": ["two"],
            "removed": ["gone"],
            "changed": [
                {"id": "one", "changes": {"params": {"from": {}, "to": {"sleep_s": 0.001}}}}
            ],
        },
        "edges": {"added": ["one.y -> two.x"], "removed": ["source.out -> gone.x"]},
        "empty": False,
    }
    same = load_graph_text(
        V1.replace("name: chain", "name: chain\ndescription: x"), registry=REGISTRY
    )
    assert graph_diff(load_graph_text(V1, registry=REGISTRY), same)["empty"] is True


async def test_an_edit_runs_from_the_next_turn_and_an_invalid_one_keeps_the_last(
    tmp_path: Path,
) -> None:
    path = tmp_path / "chain.yaml"
    path.write_text(V1)
    events: list[TraceEvent] = []
    async with Runtime(
        GraphCatalog(tmp_path, registry=REGISTRY), observers=[CallbackObserver(events.append)]
    ) as rt:
        session = rt.create_session("chain")
        assert sorted((await rt.run(session.id, "message", "a")).executed) == [
            "gone",
            "one",
            "source",
        ]
        assert rt.reload_graphs() == []  # nothing changed: nothing to say

        path.write_text(V2)
        (change,) = rt.reload_graphs()
        assert change["type"] == "graph.updated"
        (updated,) = [e for e in events if e.type == "graph.updated"]
        assert updated.session_id == session.id and updated.data is not None
        assert updated.data["diff"]["nodes"]["added"] == ["two"]
        assert "two" in [n["data"]["id"] for n in updated.data["elements"]["nodes"]]
        result = await rt.run(session.id, "message", "b")
        assert result.executed == ["source", "one", "two"]

        path.write_text(BROKEN)
        (change,) = rt.reload_graphs()
        assert change["type"] == "graph.invalid"
        assert change["data"]["problems"][0].startswith("line 6: node 'two': unknown kind")
        (entry,) = rt.catalog.entries()
        assert not entry.valid and entry.graph is not None  # the last valid version
        result = await rt.run(session.id, "message", "c")
        assert result.executed == ["source", "one", "two"]  # still runs
        assert rt.reload_graphs() == []  # the same problems are not announced twice
    assert [e.type for e in events if e.type.startswith("graph.")] == [
        "graph.updated",
        "graph.invalid",
    ]
