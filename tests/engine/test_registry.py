"""Kinds come from the registry only: subclasses, explicit registries, entry points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from cogpipe.engine import Node, NodeDeclarationError, Registry, UnknownKindError, load_graph_text
from cogpipe.engine.registry import _load_entry_points


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(UnknownKindError) as info:
        Registry().get("thinker_v9")
    assert str(info.value) == "unknown kind 'thinker_v9'. Known kinds: (none)"


def test_output_ports_must_default_to_none() -> None:
    with pytest.raises(NodeDeclarationError, match=r"Bad.Outputs.y must default to None"):

        class Bad(Node, register=False):
            kind = "bad"

            class Outputs(BaseModel):
                y: str


def test_run_must_be_async() -> None:
    with pytest.raises(NodeDeclarationError, match=r"Sync.run must be 'async def'"):

        class Sync(Node, register=False):
            kind = "sync"

            def run(self, inputs, ctx):  # type: ignore[override]
                return None


def test_one_kind_cannot_be_declared_by_two_classes() -> None:
    class First(Node):
        kind = "test_dup_kind"

    with pytest.raises(NodeDeclarationError, match="kind 'test_dup_kind' is declared twice"):

        class Second(Node):
            kind = "test_dup_kind"


PLUGIN = """
from pydantic import BaseModel
from cogpipe.engine import Node

class Shout(Node, register=False):
    kind = "plugin_shout"

    class Inputs(BaseModel):
        text: str

    class Outputs(BaseModel):
        text: str | None = None

    async def run(self, inputs, ctx):
        return self.Outputs(text=inputs.text.upper())
"""


def test_entry_point_group_registers_third_party_kinds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real installed-package layout: a module plus a dist-info with entry_points.txt."""
    (tmp_path / "cogpipe_plugin_demo.py").write_text(PLUGIN)
    dist = tmp_path / "cogpipe_plugin_demo-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cogpipe-plugin-demo\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[cogpipe.nodes]\nshout = cogpipe_plugin_demo:Shout\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    _load_entry_points(registry)
    assert "plugin_shout" in registry
    graph = load_graph_text(
        "entry: {message: s.text}\nnodes: {s: {kind: plugin_shout}}\n", registry=registry
    )
    assert graph.nodes["s"].cls.__module__ == "cogpipe_plugin_demo"
    sys.modules.pop("cogpipe_plugin_demo", None)


def test_a_broken_plugin_is_logged_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    dist = tmp_path / "broken_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[cogpipe.nodes]\nbroken = no_such_module:Nope\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry()
    _load_entry_points(registry)
    assert "cogpipe.nodes entry point 'broken' failed to load" in caplog.text
