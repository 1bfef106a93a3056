"""A broken LLM endpoint fails the run with a clear NodeRunError, never a hang, and the
session goes on: HTTP 500, a timeout. A model that answers nothing usable (invalid JSON
for every structured output) gets each node's fallback until a node cannot go on:
director_v2 without a plan."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from cogpipe.engine import GraphCatalog, NodeRunError, Runtime
from cogpipe.engine.errors import LLMError
from cogpipe.settings import shipped_graphs_dir
from tests.helpers.openai_server import OpenAITestServer, client_for

FAILURES: dict[str, Callable[[OpenAITestServer], None]] = {
    "http-500": lambda server: server.fail(500, "upstream exploded", times=10),
    "timeout": lambda server: server.delay(5, times=10),
    "invalid-json": lambda server: server.reply_invalid_json(times=10),
}
FAILING = {  # where the run fails, and which call
    "http-500": ("input", "input_v1", "input_v1.analyse"),
    "timeout": ("input", "input_v1", "input_v1.analyse"),
    "invalid-json": ("director", "director_v2", "director_v2.plan"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_a_failing_endpoint_fails_the_run_not_the_session(
    failure: str, openai_server: OpenAITestServer
) -> None:
    catalog = GraphCatalog(shipped_graphs_dir())
    async with (
        client_for(openai_server, max_retries=1, timeout_s=0.5) as llm,
        Runtime(catalog, llm=llm) as rt,
    ):
        session = rt.create_session("v2-director-drives")
        FAILURES[failure](openai_server)
        with anyio.fail_after(10), pytest.raises(NodeRunError) as info:
            await rt.run(session.id, "message", "how many customers are in Berlin?")
        error, (node, kind, purpose) = info.value, FAILING[failure]
        assert (error.node, error.kind) == (node, kind)
        assert isinstance(error.cause, LLMError)
        assert purpose in str(error)  # the message says which call failed
        assert session.history[-1].status == "failed"

        openai_server.reset()  # the endpoint recovers: so does the session
        result = await rt.run(session.id, "message", "hello!")
        assert result.status == "finished"
        assert result.outputs["response"].text


async def test_memory_failing_after_the_answer_keeps_the_turn(
    openai_server: OpenAITestServer,
) -> None:
    catalog = GraphCatalog(shipped_graphs_dir())
    async with client_for(openai_server, max_retries=0) as llm, Runtime(catalog, llm=llm) as rt:
        session = rt.create_session("v2-director-drives")
        greeting = {"intent": "social", "topic": "greeting", "complexity": "trivial"}
        openai_server.reply_json({**greeting, "needs_data": False, "reply": "Hi there!"})
        openai_server.fail(500, "memory exploded")  # memorizer_v1.extract, after the answer
        result = await rt.run(session.id, "message", "hello")
    assert result.status == "finished"
    assert result.outputs["response"].text == "Hi there!"
    (warning,) = result.warnings
    assert warning.startswith("node 'memorizer' (memorizer_v1) failed: LLMStatusError: ")
    assert "memory exploded" in warning
    assert (session.history[-1].status, session.history[-1].warnings) == ("finished", [warning])
