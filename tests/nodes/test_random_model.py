"""Both shipped graphs against a model nobody tuned cogpipe to: the test server's
RandomModel answers every structured request with a random instance of the requested
schema (some invalid, some not JSON), tool offers with random tool calls (some naming
tools that do not exist, some with bad or unparseable arguments) and prose with random
words, numbers and names.

Over many generated turns, these hold:

* every turn finishes, or fails with a ``NodeRunError`` that names a node of the graph
  and is caused by an ``LLMError`` (the model's fault, after the client's re-ask);
  nothing else escapes;
* no call reaches an MCP server with an unknown tool name or arguments invalid for the
  tool's schema (counted at the server: the helper server records every ``tools/call``
  it receives, before it validates anything);
* nothing is kept in memory that the user did not say: a name and a situation occur in
  the user's messages; facts and topics add no number or name that the user's words or
  the tool results do not hold.

The default run has 300 turns with the RandomModel served in-process (the real
``openai`` SDK through the offline model's transport: about 30 s) and 40 more through
the OpenAI-compatible test server over HTTP; ``-m slow`` runs 2,000 over HTTP.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from cogpipe.engine import GraphCatalog, NodeRunError, Runtime
from cogpipe.engine.errors import LLMError
from cogpipe.engine.llm import LLMClient, LLMConfig
from cogpipe.engine.tools import ToolManager, validate_arguments
from cogpipe.nodes import facts
from cogpipe.nodes.evidence import verbatim
from cogpipe.nodes.types import ThoughtResult, ToolOutcome, ToolResult
from cogpipe.settings import shipped_graphs_dir
from tests.helpers.mcp_servers import helper_server_config, received, time_server_config
from tests.helpers.openai_server import OpenAITestServer, RandomModel, client_for

GRAPHS = ("v1-current", "v2-director-drives")
TURNS = 10
SAFE = ["echo", "add", "pick", "pid"]  # the helper's tools that neither sleep nor crash
MESSAGES = [
    "Hello!",
    "My name is Ada and I run the operations team.",
    "I'm in Berlin this week",
    "How many customers do we have in Berlin?",
    "and in Paris?",
    "List customers in Hamburg",
    "What time is it in Europe/Berlin?",
    "Pick the red one, 3 of them",
    "echo 'hello world'",
    "add 2 and 40",
    "Show me a counter",
    "What is my name?",
    "Thanks, bye!",
    "Compare revenue in 2024 and 2025",
]
WORDS = ["the", "a", "customers", "Mars", "Berlin", "42", "revenue", "my", "name", "is", "I"]
WORDS += ["am", "show", "time", "echo", "Paris"]


def message(rnd: random.Random) -> str:
    """A message from the list, or a few random words."""
    if rnd.random() < 0.7:
        return rnd.choice(MESSAGES)
    return " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 8)))


@dataclass
class Tally:
    """What the turns of one test did."""

    finished: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, list[ToolOutcome]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the helper server records the calls it receives."""
    return tmp_path_factory.mktemp("calls") / "received.jsonl"


@pytest.fixture(scope="module")
async def servers(demo_db: Path, record: Path) -> AsyncIterator[ToolManager]:
    """The demo database, mcp-server-time and the recording helper server."""
    from cogpipe.demo.server import demo_db_server_config

    configs = [
        demo_db_server_config(str(demo_db)),
        time_server_config(),
        helper_server_config("probe", record=record, include=SAFE),
    ]
    async with ToolManager(configs) as manager:
        yield manager


def outcomes_of(ports: dict[str, Any]) -> list[ToolOutcome]:
    """The tool outcomes among a run's fired ports."""
    found: list[ToolOutcome] = []
    for value in ports.values():
        if isinstance(value, ThoughtResult):
            found += value.tool_results
        elif isinstance(value, ToolResult):
            found += value.steps
    return found


async def converse(rt: Runtime, graph: str, seed: int, tally: Tally) -> None:
    """One session of ``TURNS`` generated messages; check every turn's end and, at the
    end, the session's memory."""
    rnd, nodes = random.Random(seed), set(rt.catalog.get(graph).nodes)
    session = rt.create_session(graph)
    said: list[str] = []
    outcomes: list[ToolOutcome] = []
    for _ in range(TURNS):
        text = message(rnd)
        said.append(text)
        try:
            result = await rt.run(session.id, "message", text)
        except NodeRunError as exc:
            assert exc.node in nodes and isinstance(exc.cause, LLMError), exc.message
            tally.failed[f"{exc.node}: {type(exc.cause).__name__}"] += 1
            outcomes += outcomes_of(exc.result.ports)
            continue
        assert result.status == "finished"
        tally.finished += 1
        outcomes += outcomes_of(result.ports)
    check_memory(session.state.get("memory", {}), said, outcomes)


def check_memory(memory: dict[str, Any], said: list[str], outcomes: list[ToolOutcome]) -> None:
    """Nothing in memory that the user did not say (or a tool did not return)."""
    words = "\n".join(said)
    if "name" in memory:
        assert any(memory["name"].lower() in s.lower() for s in said), memory["name"]
    if "situation" in memory:
        assert any(verbatim(memory["situation"], s) for s in said), memory["situation"]
    for fact in memory.get("facts", []):
        assert facts.unsupported(fact, outcomes, words) == [], fact
    for topic in memory.get("topics", []):
        assert facts.unsupported(topic, [], words) == [], topic


async def run_turns(llm: LLMClient, servers: ToolManager, seeds: range) -> Tally:
    """Run ``TURNS`` turns per seed and graph, each seed's in a new session."""
    tally = Tally()
    async with llm, Runtime(GraphCatalog(shipped_graphs_dir()), llm=llm, tools=servers) as rt:
        for seed in seeds:
            for graph in GRAPHS:
                with anyio.fail_after(60):
                    await converse(rt, graph, seed, tally)
    assert tally.finished + sum(tally.failed.values()) == len(seeds) * len(GRAPHS) * TURNS
    return tally


async def check_calls_reached(record: Path, servers: ToolManager) -> int:
    """Every call the helper server received names one of its offered tools, with valid
    arguments; return how many there were."""
    tools = {t.name: t for t in await servers.list_tools() if t.server == "probe"}
    calls = received(record)
    for call in calls:
        assert call["name"] in tools, call
        assert validate_arguments(tools[call["name"]], call["arguments"] or {}) == [], call
    return len(calls)


def random_client(seed: int) -> LLMClient:
    """The real client with the RandomModel in-process instead of the offline model."""
    return LLMClient(LLMConfig(max_retries=0), offline=RandomModel(seed=seed, pool_size=12))


@pytest.mark.timeout(120)
async def test_300_random_turns_end_well_and_memory_stays_true(
    servers: ToolManager, record: Path
) -> None:
    tally = await run_turns(random_client(0), servers, range(15))
    assert tally.finished > 250, tally.failed  # most turns still end with an answer
    assert await check_calls_reached(record, servers) > 0


async def test_random_turns_through_the_http_test_server(
    openai_server: OpenAITestServer, servers: ToolManager, record: Path
) -> None:
    openai_server.use(RandomModel(seed=7, pool_size=12))
    await run_turns(client_for(openai_server, max_retries=0), servers, range(2))
    assert len(openai_server.chat_requests) > 40
    await check_calls_reached(record, servers)


@pytest.mark.slow
@pytest.mark.timeout(1200)
async def test_2000_random_turns_through_the_http_test_server(
    openai_server: OpenAITestServer, servers: ToolManager, record: Path
) -> None:
    openai_server.use(RandomModel(seed=1000))
    tally = await run_turns(client_for(openai_server, max_retries=0), servers, range(100))
    assert tally.finished > 1500, tally.failed
    await check_calls_reached(record, servers)
