"""Every way an LLM call fails: one error kind each, its message, its retries and events.

Time limits are shortened in these tests; the defaults are asserted on their own, and
one slow test (``-m slow``) waits out a hung endpoint at the default settings.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

import anyio
import pytest
from pydantic import BaseModel

from cogpipe.engine.errors import (
    LLMBodyError,
    LLMBrokenResponseError,
    LLMError,
    LLMStatusError,
    LLMTimeoutError,
    LLMTruncatedError,
)
from cogpipe.engine.llm import LLMConfig
from cogpipe.engine.offline import OfflineModel
from tests.helpers.openai_server import (
    Event,
    OpenAITestServer,
    client_for,
    events_of,
    llm_context,
)


class Verdict(BaseModel):
    label: Literal["yes", "no"]
    reasons: list[str]


def where(server: OpenAITestServer, call: str = "complete") -> str:
    return f"LLM call ({call}) for model 'gpt-4o-mini' at {server.url}/v1, purpose 'test_v1',"


def kinds(events: list[Event]) -> list[tuple[str, Any, Any]]:
    """``(type, attempt, error_kind or None)`` of every llm.* event."""
    return [
        (t, (d or {}).get("attempt"), (d or {}).get("error_kind"))
        for t, _, _, d in events
        if t.startswith("llm.")
    ]


# -- time limits --------------------------------------------------------------------------


def test_the_default_limits_fail_a_hung_endpoint_well_under_a_minute() -> None:
    config = LLMConfig()
    assert (config.connect_timeout_s, config.first_token_timeout_s) == (10, 30)
    assert (config.call_timeout_s, config.timeout_retries, config.max_retries) == (120, 0, 2)
    # A hung endpoint accepts the connection and never answers: one first-token wait
    # per allowed timeout attempt, and timeouts are not retried by default.
    worst = config.first_token_timeout_s * (1 + config.timeout_retries)
    assert worst < 40


@pytest.mark.slow
async def test_a_hung_endpoint_fails_within_40_s_at_default_settings(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.hang()
    async with client_for(openai_server) as client:
        ctx, _ = llm_context(client)
        t0 = time.monotonic()
        with anyio.fail_after(45), pytest.raises(LLMTimeoutError) as info:
            await ctx.llm.complete("fast", "hi")
    assert time.monotonic() - t0 < 40
    assert info.value.error_kind == "first_token_timeout"


async def test_no_first_byte_in_time_names_the_limit_and_closes_the_request(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.hang(times=2)
    async with client_for(openai_server, first_token_timeout_s=0.3) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(5), pytest.raises(LLMTimeoutError) as info:
            await ctx.llm.complete("fast", "hi")
    assert info.value.message == (
        f"{where(openai_server)} got no first byte within first_token_timeout_s=0.3; the "
        "endpoint is hung or overloaded: check it, or raise COGPIPE_LLM_FIRST_TOKEN_TIMEOUT_S "
        "for a slow model"
    )
    assert info.value.error_kind == "first_token_timeout"
    assert len(openai_server.chat_requests) == 1  # timeouts are not retried by default
    with anyio.fail_after(2):
        while not openai_server.disconnects:
            await anyio.sleep(0.01)
    assert kinds(events) == [
        ("llm.request", 1, None),
        ("llm.failed", 1, "first_token_timeout"),
    ]


async def test_a_timed_out_attempt_is_closed_before_the_retry_starts(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.hang(times=2)
    async with client_for(openai_server, first_token_timeout_s=0.3, timeout_retries=1) as llm:
        ctx, events = llm_context(llm)
        with anyio.fail_after(5), pytest.raises(LLMTimeoutError) as info:
            await ctx.llm.complete("fast", "hi")
    assert "got no first byte within first_token_timeout_s=0.3 after 2 attempts" in str(info.value)
    _first, second = openai_server.chat_requests
    # the server saw the first client leave before the second request arrived
    assert openai_server.disconnects[0] < second.at
    assert kinds(events) == [
        ("llm.request", 1, None),
        ("llm.failed", 1, "first_token_timeout"),
        ("llm.request", 2, None),
        ("llm.failed", 2, "first_token_timeout"),
    ]
    assert events_of(events, "llm.request")[1]["after"] == "first_token_timeout"
    assert [f["final"] for f in events_of(events, "llm.failed")] == [False, True]


async def test_a_stream_that_stalls_after_some_text_is_broken_off(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.break_stream(after_chunks=3, stall_s=float("inf"))
    async with client_for(openai_server, first_token_timeout_s=0.3) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(5), pytest.raises(LLMBrokenResponseError) as info:
            await ctx.llm.stream("fast", "go")
    shown = "".join(d["text"] for d in events_of(events, "output.delta"))
    assert shown and info.value.message == (
        f"{where(openai_server, 'stream')} stream broke off after {len(shown)} characters: "
        "no data for first_token_timeout_s=0.3"
    )
    assert info.value.error_kind == "broken_response"


async def test_a_stream_with_no_first_token_in_time_is_a_timeout(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.break_stream(after_chunks=1, stall_s=float("inf"))  # only the role chunk
    async with client_for(openai_server, first_token_timeout_s=0.3) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(5), pytest.raises(LLMTimeoutError) as info:
            await ctx.llm.stream("fast", "go")
    assert info.value.message.startswith(
        f"{where(openai_server, 'stream')} got no first token within first_token_timeout_s=0.3;"
    )
    assert events_of(events, "output.delta") == []


async def test_the_whole_call_limit_covers_a_slow_answer(openai_server: OpenAITestServer) -> None:
    openai_server.delay(3)
    async with client_for(openai_server, call_timeout_s=0.4) as client:
        ctx, events = llm_context(client)
        with anyio.fail_after(5), pytest.raises(LLMTimeoutError) as info:
            await ctx.llm.complete("fast", "hi")
    assert info.value.message == (
        f"{where(openai_server)} did not finish within call_timeout_s=0.4; raise "
        "COGPIPE_LLM_CALL_TIMEOUT_S, or lower max_tokens for this purpose"
    )
    assert info.value.error_kind == "call_timeout"
    assert kinds(events)[-1] == ("llm.failed", 1, "call_timeout")


async def test_no_retry_is_started_that_cannot_finish_within_the_call_limit(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.fail(503, "busy", retry_after=5)
    async with client_for(openai_server, call_timeout_s=2) as client:
        ctx, _ = llm_context(client)
        with anyio.fail_after(1), pytest.raises(LLMStatusError) as info:
            await ctx.llm.complete("fast", "hi")
    assert info.value.message == f"{where(openai_server)} got HTTP 503: busy"
    assert len(openai_server.chat_requests) == 1


async def test_an_outside_cancellation_still_closes_the_attempt_in_the_trace(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.hang()
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        with anyio.move_on_after(0.3):
            await ctx.llm.complete("fast", "hi")
    assert kinds(events) == [("llm.request", 1, None), ("llm.failed", 1, "cancelled")]
    assert events_of(events, "llm.failed")[0]["final"] is True


# -- retries ------------------------------------------------------------------------------


async def test_retry_after_is_honoured_and_each_attempt_is_an_event(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.fail(429, "slow down", retry_after=1)
    openai_server.reply_text("fine")
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        assert await ctx.llm.complete("fast", "hi") == "fine"
    first, second = openai_server.chat_requests
    assert second.at - first.at >= 0.95
    assert kinds(events) == [
        ("llm.request", 1, None),
        ("llm.failed", 1, "http_status"),
        ("llm.request", 2, None),
        ("llm.response", 2, None),
    ]
    failed = events_of(events, "llm.failed")[0]
    assert (failed["status"], failed["retry_in_ms"], failed["final"]) == (429, 1000, False)
    assert failed["error"] == f"{where(openai_server)} got HTTP 429: slow down"


@pytest.mark.parametrize(
    ("fault", "error", "kind", "message"),
    [
        (
            "reply_non_json",
            LLMBodyError,
            "not_json",
            re.escape("answered with a body that is not JSON after 2 attempts: ")
            + re.escape("'<html>502 Bad Gateway</html>'"),
        ),
        (
            "truncate_body",
            LLMBrokenResponseError,
            "broken_response",
            re.escape("answer broke off after 2 attempts: RemoteProtocolError: peer closed ")
            + r"connection without sending complete message body \(received \d+ bytes, "
            r"expected \d+\)",
        ),
    ],
)
async def test_a_bad_body_is_retried_then_named(
    openai_server: OpenAITestServer,
    fault: str,
    error: type[LLMError],
    kind: str,
    message: str,
) -> None:
    getattr(openai_server, fault)()
    openai_server.reply_text("recovered")
    async with client_for(openai_server, max_retries=1) as client:
        ctx, events = llm_context(client)
        assert await ctx.llm.complete("fast", "hi") == "recovered"
        assert kinds(events)[1] == ("llm.failed", 1, kind)
        getattr(openai_server, fault)(times=2)
        with pytest.raises(error) as info:
            await ctx.llm.complete("fast", "hi")
    assert re.fullmatch(re.escape(f"{where(openai_server)} ") + message, info.value.message)
    assert info.value.error_kind == kind
    assert "could not connect" not in info.value.message


async def test_a_4xx_is_not_retried(openai_server: OpenAITestServer) -> None:
    openai_server.fail(400, "bad request: messages[0] is empty", times=3)
    async with client_for(openai_server) as client:
        ctx, _events = llm_context(client)
        with pytest.raises(LLMStatusError) as info:
            await ctx.llm.complete("fast", "hi")
    assert info.value.status == 400 and len(openai_server.chat_requests) == 1
    assert info.value.message == (
        f"{where(openai_server)} got HTTP 400: bad request: messages[0] is empty"
    )


# -- max_tokens and cut-off answers -------------------------------------------------------


async def test_every_call_sends_max_tokens_by_argument_purpose_kind_or_default(
    openai_server: OpenAITestServer,
) -> None:
    limits = {"test_v1.short": 16, "test_v1": 64, "other_v1": 8}
    async with client_for(openai_server, max_tokens=limits) as client:
        ctx, events = llm_context(client)
        await ctx.llm.complete("fast", "a", purpose="test_v1.short")
        await ctx.llm.complete("fast", "b", purpose="test_v1.long")
        await ctx.llm.stream("fast", "c", purpose="other_v1.x", on_delta=lambda _: None)
        await ctx.llm.structured("fast", "d", Verdict, purpose="new_v1.judge")  # node kind
        await ctx.llm.chat("fast", "e", max_tokens=5)
        bare, _ = llm_context(client, kind="bare_v1")
        await bare.llm.complete("fast", "f")
    sent = [r.body["max_tokens"] for r in openai_server.chat_requests]
    assert sent == [16, 64, 8, 64, 5, 1024]
    assert [r["max_tokens"] for r in events_of(events, "llm.request")] == sent[:5]


async def test_a_structured_answer_cut_off_is_retried_once_then_names_the_limit(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.cut_off(times=2)
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        with pytest.raises(LLMTruncatedError) as info:
            await ctx.llm.structured("fast", "judge", Verdict, max_tokens=50)
    assert info.value.message == (
        f"{where(openai_server, 'structured')} answer was cut off at 50 tokens (max_tokens) "
        "twice: raise max_tokens for 'test_v1' (COGPIPE_LLM_MAX_TOKENS) or ask for less"
    )
    assert (info.value.error_kind, info.value.max_tokens) == ("length", 50)
    second = openai_server.chat_requests[1].body["messages"]
    assert "cut off at the length limit (50 tokens)" in second[-1]["content"]
    assert kinds(events) == [
        ("llm.request", 1, None),
        ("llm.failed", 1, "length"),
        ("llm.request", 2, None),
        ("llm.failed", 2, "length"),
    ]


async def test_a_structured_answer_cut_off_once_is_asked_again(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.cut_off()
    openai_server.reply_json({"label": "yes", "reasons": []})
    async with client_for(openai_server) as client:
        ctx, _ = llm_context(client)
        verdict = await ctx.llm.structured("fast", "judge", Verdict)
    assert verdict == Verdict(label="yes", reasons=[])


async def test_prose_cut_off_is_returned_with_a_visible_mark(
    openai_server: OpenAITestServer,
) -> None:
    openai_server.reply_text("one two three four")
    openai_server.cut_off(keep=0.5, times=2)
    async with client_for(openai_server) as client:
        ctx, events = llm_context(client)
        await ctx.llm.complete("fast", "x")  # uncut, for comparison
        text = await ctx.llm.complete("fast", "Say something long", max_tokens=7)
        seen: list[str] = []
        streamed = await ctx.llm.stream("fast", "Say something long", on_delta=seen.append)
    assert text.endswith(" […cut off at 7 tokens]")
    assert (
        streamed.endswith(" […cut off at 1024 tokens]") and seen[-1] == " […cut off at 1024 tokens]"
    )
    assert "".join(seen) == streamed
    responses = events_of(events, "llm.response")
    assert [r["truncated"] for r in responses] == [False, True, True]
    assert [r["finish_reason"] for r in responses] == ["stop", "length", "length"]


# -- token counts -------------------------------------------------------------------------


class NoUsageModel(OfflineModel):
    """An endpoint that reports no token counts."""

    def completion(self, result: Any, request: dict[str, Any]) -> dict[str, Any]:
        out = super().completion(result, request)
        out["usage"] = None
        return out

    def chunks(
        self, completion: dict[str, Any], include_usage: bool = True
    ) -> list[dict[str, Any]]:
        return super().chunks(completion, include_usage=False)


async def test_token_counts_the_endpoint_did_not_report_are_null() -> None:
    with OpenAITestServer(NoUsageModel(chunk_delay_s=0.0)) as server:
        async with client_for(server) as client:
            ctx, events = llm_context(client)
            await ctx.llm.complete("fast", "hi")
            await ctx.llm.stream("fast", "hi", on_delta=lambda _: None)
    for response in events_of(events, "llm.response"):
        assert (response["tokens_in"], response["tokens_out"]) == (None, None)
