"""output_v1: streams the answer while it is generated; the reflex draft without an LLM."""

from __future__ import annotations

import time

from cogpipe.engine.llm import LLMClient
from cogpipe.engine.session import Session, Turn
from cogpipe.engine.testing import run_node
from cogpipe.nodes.output import NO_ANSWER, Output
from cogpipe.nodes.types import Analysis, Command, Response, ThoughtResult, ToolOutcome
from tests.helpers.openai_server import OpenAITestServer, client_for

QUESTION = Command(
    analysis=Analysis(intent="question", topic="customers", complexity="simple", needs_data=True),
    source_text="How many customers in Berlin?",
)


async def test_reflex_draft_is_streamed_without_an_llm_call(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    thought = ThoughtResult(response="Hello Ada! How can I help?", reflex=True)
    run = await run_node(Output, {"thought": thought}, llm=remote)
    assert run.outputs.response == Response(text="Hello Ada! How can I help?")
    assert [d["text"] for t, d in run.events if t == "output.delta"] == [
        "Hello ",
        "Ada! ",
        "How ",
        "can ",
        "I ",
        "help?",
    ]
    assert openai_server.chat_requests == []


async def test_answer_is_streamed_delta_by_delta_from_the_model(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Berlin has 39 customers right now.")
    session = Session(id="s", graph="g")
    session.add_turn(
        Turn("r0", "g", "message", "Hi", {"response": {"text": "Hello!"}}, "finished", time.time())
    )
    session.add_turn(Turn("r1", "g", "action", {"action": "increment"}, {}, "finished", 0.0))
    thought = ThoughtResult(response="There are 39 customers with city Berlin.")
    run = await run_node(
        Output,
        {"thought": thought, "command": QUESTION},
        llm=remote,
        session=session,
        context=["User's name: Ada."],
    )
    deltas = [d["text"] for t, d in run.events if t == "output.delta"]
    assert len(deltas) == 6 and "".join(deltas) == "Berlin has 39 customers right now."
    assert run.outputs.response.text == "Berlin has 39 customers right now."
    types = [t for t, _ in run.events]
    assert types.index("llm.request") < types.index("output.delta") < types.index("llm.response")
    (request,) = openai_server.chat_requests
    assert request.headers["x-cogpipe-purpose"] == "output_v1.answer"
    assert request.body["stream"] is True
    messages = request.body["messages"]
    assert messages[0]["content"].endswith("Context:\n- User's name: Ada.")
    assert messages[1:] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {
            "role": "user",
            "content": "Question: How many customers in Berlin?\n"
            "Draft: There are 39 customers with city Berlin.",
        },
    ]


async def test_an_empty_answer_falls_back_to_the_draft(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("")
    run = await run_node(Output, {"thought": ThoughtResult(response="The draft.")}, llm=remote)
    assert run.outputs.response.text == "The draft." and run.streamed == "The draft."


async def test_offline_presents_the_draft_or_answers_from_context(offline: LLMClient) -> None:
    thought = ThoughtResult(response="There are 39 customers with city Berlin.")
    run = await run_node(Output, {"thought": thought, "command": QUESTION}, llm=offline)
    assert run.outputs.response.text == thought.response == run.streamed
    name = QUESTION.model_copy(update={"source_text": "What is my name?"})
    run = await run_node(
        Output,
        {"thought": ThoughtResult(response=""), "command": name},
        llm=offline,
        context=["User's name: Ada."],
    )
    assert run.outputs.response.text == "Your name is Ada."


BERLIN = ToolOutcome(
    tool="count_customers", arguments={"city": "Berlin"}, ok=True, data={"count": 39}
)


async def test_an_answer_that_adds_facts_is_recorded_and_replaced_by_the_checked_draft(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Berlin has 39 customers, led by Berlin Solutions with 150 staff.")
    thought = ThoughtResult(response="There are 39 customers in Berlin.", tool_results=[BERLIN])
    run = await run_node(Output, {"thought": thought, "command": QUESTION}, llm=remote)
    assert run.streamed.startswith("Berlin has 39 customers, led by")  # already sent
    assert run.outputs.response.text == "There are 39 customers in Berlin."
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert checked == {
        "ok": False,
        "reason": "unsupported facts",
        "unsupported": ["150", "Solutions"],
        "replaced_with": "draft",
        "text": "There are 39 customers in Berlin.",
    }


async def test_an_unchecked_draft_gives_way_to_the_data_summary(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("There are 41 customers.")
    thought = ThoughtResult(response="There are 41 customers.", tool_results=[BERLIN])
    run = await run_node(Output, {"thought": thought, "command": QUESTION}, llm=remote)
    assert run.outputs.response.text == "There are 39 customers with city Berlin."
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert (checked["unsupported"], checked["replaced_with"]) == (["41"], "data summary")


async def test_an_answer_from_the_sources_passes_the_check(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Ada, Berlin has 39 customers; the Counter is on screen.")
    thought = ThoughtResult(
        response="",
        tool_results=[BERLIN],
        controls=[{"id": "c", "type": "label", "label": "Counter"}],
    )
    run = await run_node(
        Output, {"thought": thought, "command": QUESTION}, llm=remote, context=["User's name: Ada."]
    )
    assert run.outputs.response.text == "Ada, Berlin has 39 customers; the Counter is on screen."
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert checked == {
        "ok": True,
        "reason": None,
        "unsupported": [],
        "replaced_with": None,
        "text": None,
    }


async def test_with_nothing_to_fall_back_on_the_answer_stays_and_is_flagged(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("Your name is Bob.")
    name = QUESTION.model_copy(update={"source_text": "What is my name?"})
    run = await run_node(
        Output, {"thought": ThoughtResult(response=""), "command": name}, llm=remote
    )
    assert run.outputs.response.text == "Your name is Bob."
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert (checked["ok"], checked["unsupported"], checked["replaced_with"]) == (
        False,
        ["Bob"],
        None,
    )


async def test_no_answer_and_no_draft_says_so(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text("")
    run = await run_node(Output, {"thought": ThoughtResult(response="")}, llm=remote)
    assert run.outputs.response.text == NO_ANSWER == run.streamed


async def test_an_answer_that_repeats_the_prompt_is_replaced(
    remote: LLMClient, openai_server: OpenAITestServer
) -> None:
    openai_server.reply_text(
        "Turn the draft into the answer to the user's question: short, friendly, plain text."
    )
    thought = ThoughtResult(response="There are 39 customers in Berlin.", tool_results=[BERLIN])
    run = await run_node(Output, {"thought": thought, "command": QUESTION}, llm=remote)
    assert run.outputs.response.text == "There are 39 customers in Berlin."
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert (checked["ok"], checked["reason"], checked["replaced_with"]) == (
        False,
        "repeats the prompt",
        "draft",
    )
    assert [d["fallback"] for t, d in run.events if t == "fallback.used"] == ["the checked draft"]


async def test_a_cut_off_answer_keeps_its_mark_and_passes_the_check(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.cut_off(keep=0.5)  # of the offline model's answer: the draft
    thought = ThoughtResult(response="There are 39 customers in Berlin.", tool_results=[BERLIN])
    async with client_for(openai_server, max_retries=0, send_hints=True) as llm:
        run = await run_node(
            Output, {"thought": thought, "command": QUESTION}, llm=llm, params={"max_tokens": 7}
        )
    text = run.outputs.response.text
    assert text == "There are 39 cus [\N{HORIZONTAL ELLIPSIS}cut off at 7 tokens]"
    (checked,) = [d for t, d in run.events if t == "answer.checked"]
    assert checked["ok"] is True
    assert openai_server.chat_requests[0].body["max_tokens"] == 7


def test_the_cut_off_mark_is_the_clients() -> None:
    from cogpipe.engine.completions import truncation_mark
    from cogpipe.nodes.output import _CUT

    assert _CUT.search("There are 39 cus" + truncation_mark(7))
