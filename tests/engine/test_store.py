"""Durable sessions: a session written by one runtime is read back by the next."""

from __future__ import annotations

from pathlib import Path

from cogpipe.engine import GraphCatalog, Runtime, load_graph_text
from cogpipe.engine.store import SqliteSessionStore

from .kinds import REGISTRY

GRAPH = """
name: memo
entry: {message: source.text}
context: [memory]
nodes:
  source: {kind: t_source}
  memory: {kind: t_memory}
  echo: {kind: t_echo}
edges: [source.out -> memory.x, source.out -> echo.x]
outputs: {context: echo.y}
"""


def _catalog() -> GraphCatalog:
    catalog = GraphCatalog(registry=REGISTRY)
    catalog.add(load_graph_text(GRAPH, registry=REGISTRY))
    return catalog


async def test_a_session_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "var" / "sessions.db"
    store = SqliteSessionStore(db)
    async with Runtime(_catalog(), store=store) as rt:
        session = rt.create_session("memo")
        await rt.run(session.id, "message", "one")
        await rt.run(session.id, "message", "two")
        seq = session.seq
    store.close()

    store = SqliteSessionStore(db)  # a new process would do exactly this
    async with Runtime(_catalog(), store=store) as rt:
        assert rt.session_ids() == [session.id]
        result = await rt.run(session.id, "message", "three")
        again = rt.session(session.id)
    store.close()
    assert result.outputs["context"] == {"context": ["turns so far: 2"]}
    assert [t.input for t in again.history] == ["one", "two", "three"]
    assert again.state["memory"] == {"turns": 3}
    assert again.seq > seq  # trace numbering continues where it stopped
    assert again.created == session.created


def test_store_round_trips_and_deletes(tmp_path: Path) -> None:
    from cogpipe.engine import Session

    store = SqliteSessionStore(tmp_path / "s.db")
    session = Session(id="abc", graph="g", state={"ui": {"controls": [1, 2]}})
    store.save(session)
    loaded = store.load("abc")
    assert loaded is not None and loaded.state == {"ui": {"controls": [1, 2]}}
    store.delete("abc")
    assert store.load("abc") is None and store.ids() == []
    store.close()


async def test_trace_numbering_survives_a_switch_and_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    catalog = _catalog()
    catalog.add(load_graph_text(GRAPH.replace("name: memo", "name: memo2"), registry=REGISTRY))
    store = SqliteSessionStore(db)
    async with Runtime(catalog, store=store) as rt:
        session = rt.create_session("memo")
        rt.switch_graph(session.id, "memo2")
        seq = session.seq
    store.close()
    store = SqliteSessionStore(db)
    reloaded = store.load(session.id)
    store.close()
    assert reloaded is not None and reloaded.seq == seq and reloaded.graph == "memo2"
