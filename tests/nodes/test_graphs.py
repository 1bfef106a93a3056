"""The shipped graphs: they load with the default registry and run their paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from cogpipe.engine import load_graph
from cogpipe.engine.llm import LLMClient
from cogpipe.engine.testing import run_graph
from cogpipe.engine.tools import ToolManager
from cogpipe.settings import shipped_graphs_dir

GRAPHS = shipped_graphs_dir()
V1, V2 = GRAPHS / "v1-current.yaml", GRAPHS / "v2-director-drives.yaml"


def test_v1_loads_with_the_default_registry() -> None:
    graph = load_graph(V1)
    assert graph.name == "v1-current"
    assert {n: d.kind for n, d in graph.nodes.items()} == {
        "input": "input_v1",
        "director": "director_v1",
        "thinker": "thinker_v1",
        "output": "output_v1",
        "ui": "ui_v1",
        "memorizer": "memorizer_v1",
        "strategy": "director_strategy_v1",
        "sensor": "sensor_v1",
    }
    assert graph.context == ["memorizer", "sensor", "director"]
    assert "sensor" not in graph.flow  # context-only: it never runs in a turn


def test_v2_loads_with_the_default_registry() -> None:
    graph = load_graph(V2)
    assert graph.name == "v2-director-drives"
    assert {n: d.kind for n, d in graph.nodes.items()} == {
        "input": "input_v1",
        "director": "director_v2",
        "thinker": "thinker_v2",
        "interpreter": "interpreter_v1",
        "output": "output_v1",
        "ui": "ui_v1",
        "memorizer": "memorizer_v1",
        "sensor": "sensor_v1",
    }
    assert graph.context == ["memorizer", "sensor"]


@pytest.mark.parametrize("path", [V1, V2], ids=["v1", "v2"])
def test_both_graphs_share_entries_and_outputs(path: Path) -> None:
    graph = load_graph(path)
    assert {k: [str(r) for r in v] for k, v in graph.entry.items()} == {
        "message": ["input.text", "memorizer.message"],
        "action": ["ui.action", "input.action"],
    }
    assert {k: str(v) for k, v in graph.outputs.items()} == {
        "response": "output.response",
        "controls": "ui.controls",
    }


PLANNERS = {"v1": {"director", "thinker"}, "v2": {"director", "thinker", "interpreter"}}


@pytest.mark.parametrize("name", ["v1", "v2"])
async def test_a_greeting_skips_planning(name: str, offline: LLMClient, tools: ToolManager) -> None:
    run = await run_graph(
        load_graph(V1 if name == "v1" else V2), "Hello!", llm=offline, tools=tools
    )
    assert set(run.result.skipped) == PLANNERS[name]
    assert run.result.outputs["response"].text == "Hello! How can I help?"


@pytest.mark.parametrize("name", ["v1", "v2"])
async def test_a_local_click_runs_only_input_and_ui(
    name: str, offline: LLMClient, tools: ToolManager
) -> None:
    click = {"action": "increment", "payload": {"target": "counter"}}
    run = await run_graph(
        load_graph(V1 if name == "v1" else V2), click, entry="action", llm=offline, tools=tools
    )
    assert run.result.executed == ["input", "ui"]
    assert run.types("ui") == ["node.started", "ui.ignored", "node.finished"]  # no counter yet
    assert not [e for e in run.events if e.type.startswith("llm.")]


@pytest.mark.parametrize("name", ["v1", "v2"])
async def test_output_and_ui_overlap_on_a_data_turn(name: str, tools: ToolManager) -> None:
    from tests.helpers.runtime import offline_client

    async with offline_client(chunk_delay_s=0.002) as llm:
        run = await run_graph(
            load_graph(V1 if name == "v1" else V2), "List customers in Graz", llm=llm, tools=tools
        )
    (out0, out1), (ui0, ui1) = run.span("output"), run.span("ui")
    assert out0 <= ui1 and ui0 <= out1  # running at the same time
    assert run.result.outputs["controls"].controls[0].type == "table"
