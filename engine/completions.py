"""Chat-completions calls for one node run: the ``ctx.llm`` handle, traced and explained.

:class:`OpenAIHandle` is what :meth:`~cogpipe.engine.llm.LLMClient.bind` returns. Each
method is one :class:`~cogpipe.engine.exchange.Exchange` (attempts, limits, retries,
events: ``llm.request``, then ``llm.response`` or ``llm.failed`` per attempt) plus what
the method itself checks: structured answers against their schema
(:mod:`~cogpipe.engine.structured`), prose against echoing the prompt
(:func:`~cogpipe.engine.guards.echoes_prompt`), ``finish_reason: "length"``, and tool
calls' argument strings. Failures raise an :class:`~cogpipe.engine.errors.LLMError`
subclass that names the endpoint, the model, the purpose, the attempts and what to check.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .answers import Answer
from .exchange import Exchange, Setting
from .guards import echoes_prompt
from .handles import ChatReply, Messages, ToolCall
from .protocol import parse_tool_reply, with_tools
from .structured import OutputProblem, OutputSpec

if TYPE_CHECKING:
    from .llm import LLMClient
    from .node import RunContext

__all__ = ["OpenAIHandle", "truncation_mark"]

_ECHO_NOTE = (
    "Your answer repeated the instructions above instead of answering. Answer the request "
    "itself, in your own words."
)
_LENGTH_NOTE = (
    "Your answer was cut off at the length limit ({n} tokens) before the JSON was complete. "
    "Answer again with a shorter JSON object: fewer items, shorter strings."
)


def truncation_mark(max_tokens: int) -> str:
    """The text appended to a prose answer that stopped at ``max_tokens``."""
    return f" […cut off at {max_tokens} tokens]"


def _as_messages(messages: Messages) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return list(messages)


def _plain(
    messages: list[dict[str, Any]], temperature: float | None
) -> Callable[[], dict[str, Any]]:
    body: dict[str, Any] = {"messages": messages}
    if temperature is not None:
        body["temperature"] = temperature
    return lambda: body


@dataclass
class _Again:
    """An answer that gets one re-ask: the ``error_kind``, what was wrong (for the event
    and, the second time, the error) and the messages to add to the request."""

    kind: str
    detail: str
    follow_up: list[dict[str, Any]]


async def _two_rounds(
    ex: Exchange,
    messages: list[dict[str, Any]],
    build: Callable[[list[dict[str, Any]]], Callable[[], dict[str, Any]]],
    judge: Callable[[Answer, int], Any],
) -> Any:
    """Ask, and once more when ``judge`` finds the answer unusable.

    Args:
        build: the request body builder for a message list (called again by the
            exchange after a mode step-down, hence a builder).
        judge: ``(answer, round) ->`` the result, or an :class:`_Again`; it emits the
            attempt's ``llm.response`` itself when it accepts the answer.

    Raises:
        LLMError: the second answer is unusable too (of the kind ``judge`` named).
    """
    asked, after = messages, None
    for round_ in (1, 2):
        verdict = judge(await ex.send(build(asked), after=after), round_)
        if not isinstance(verdict, _Again):
            return verdict
        error = ex.reject(verdict.kind, verdict.detail, final=round_ == 2)
        if round_ == 2:
            raise error
        asked, after = [*messages, *verdict.follow_up], verdict.kind
    raise AssertionError("unreachable")


class OpenAIHandle:
    """``ctx.llm`` through the ``openai`` SDK (the :class:`~cogpipe.engine.handles.LLMHandle`
    protocol, where the arguments and guarantees are documented); every call is traced
    on the node run it is bound to."""

    def __init__(self, client: LLMClient, ctx: RunContext) -> None:
        self.client, self.ctx = client, ctx

    def _exchange(
        self,
        call: str,
        model: str,
        purpose: str | None,
        max_tokens: int | None,
        hints: Mapping[str, Any] | None,
        setting: Setting | None = None,
    ) -> Exchange:
        return Exchange(
            self.client,
            self.ctx,
            call,
            model,
            purpose=purpose,
            max_tokens=max_tokens,
            hints=dict(hints) if hints else None,
            setting=setting,
        )

    async def complete(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> str:
        """Return the model's text answer; see :meth:`LLMHandle.complete`."""
        msgs = _as_messages(messages)
        with self._exchange("complete", model, purpose, max_tokens, hints) as ex:

            def judge(answer: Answer, round_: int) -> Any:
                if echoes_prompt(answer.text, msgs):
                    return _Again(
                        "invalid_output",
                        f"answered by repeating the system prompt (answer {round_} of 2): "
                        f"{answer.text[:200]!r}",
                        [_assistant(answer.text), _user(_ECHO_NOTE)],
                    )
                return self._prose(ex, answer)

            text: str = await _two_rounds(ex, msgs, lambda m: _plain(m, temperature), judge)
            return text

    @staticmethod
    def _prose(ex: Exchange, answer: Answer, send: Callable[[str], None] | None = None) -> str:
        text = answer.text
        if answer.finish_reason == "length":
            mark = truncation_mark(ex.max_tokens)
            if send is not None:
                send(mark)
            text += mark
        ex.succeed(answer, text)
        return text

    async def structured(
        self,
        model: str,
        messages: Messages,
        schema: type[BaseModel] | dict[str, Any],
        *,
        name: str | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> Any:
        """Return the answer as a ``schema`` instance or validated dict; see
        :meth:`LLMHandle.structured`."""
        spec = OutputSpec(schema, name)
        msgs = _as_messages(messages)
        with self._exchange(
            "structured", model, purpose, max_tokens, hints, "structured_output"
        ) as ex:

            def judge(answer: Answer, round_: int) -> Any:
                if answer.refusal:
                    raise ex.reject("refused", f"refused: {answer.refusal}", final=True)
                if answer.finish_reason == "length":
                    return _Again(
                        "length",
                        f"answer was cut off at {ex.max_tokens} tokens (max_tokens) "
                        f"{'twice' if round_ == 2 else 'once'}: raise max_tokens for "
                        f"'{ex.purpose}' (COGPIPE_LLM_MAX_TOKENS) or ask for less",
                        [_user(_LENGTH_NOTE.format(n=ex.max_tokens))],
                    )
                try:
                    value = spec.parse(answer.text)
                except OutputProblem as problem:
                    return _Again(
                        "invalid_output",
                        f"answered with no valid {spec.name} (answer {round_} of 2): "
                        f"{problem}; output: {answer.text[:200]!r}",
                        _correction(answer.text, spec.name, str(problem)),
                    )
                ex.succeed(answer, answer.text)
                return value

            return await _two_rounds(
                ex, msgs, lambda m: lambda: spec.body(m, ex.mode, temperature), judge
            )

    async def stream(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        on_delta: Callable[[str], None] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> str:
        """Stream the answer and return the whole text; see :meth:`LLMHandle.stream`.

        Each delta is traced with the call's ``call_id``: as ``output.delta`` when it
        goes to the client (no ``on_delta``), else as ``llm.delta`` before ``on_delta``
        gets it, so the HUD can show any streamed call's text while it arrives."""
        msgs = _as_messages(messages)
        with self._exchange("stream", model, purpose, max_tokens, hints) as ex:
            send = self._sender(ex.call_id, on_delta)
            body = {**_plain(msgs, temperature)(), "stream": True}
            body["stream_options"] = {"include_usage": True}
            answer = await ex.send(lambda: body, on_delta=send)
            return self._prose(ex, answer, send)

    def _sender(
        self, call_id: str, on_delta: Callable[[str], None] | None
    ) -> Callable[[str], None]:
        """The delta callback of a streamed call: traced once per delta (see :meth:`stream`)."""
        ctx = self.ctx
        if on_delta is None:
            return lambda text: ctx.stream(text, call_id=call_id)

        def send(text: str) -> None:
            ctx.emit("llm.delta", {"call_id": call_id, "text": text})
            on_delta(text)

        return send

    async def chat(
        self,
        model: str,
        messages: Messages,
        *,
        tools: list[dict[str, Any]] | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> ChatReply:
        """One assistant turn that may call tools; see :meth:`LLMHandle.chat`."""
        # OpenAI's {"type": "function", "function": {...}}, or the bare function dict
        offered = [t if "type" in t else {"type": "function", "function": t} for t in tools or []]
        msgs = _as_messages(messages)
        with self._exchange("chat", model, purpose, max_tokens, hints, "tool_calls") as ex:

            def build() -> dict[str, Any]:
                body = _plain(msgs, temperature)()
                if ex.mode == "prompt":
                    return {**body, "messages": with_tools(msgs, offered)}
                return {**body, "tools": offered} if offered else body

            answer = await ex.send(build)
            if ex.mode == "prompt" and offered:
                content, raw = parse_tool_reply(answer.text)
                calls = [_tool_call(c.get("id"), c["name"], c["arguments"]) for c in raw or []]
            else:
                content = answer.text or None
                calls = [_native_call(tc) for tc in answer.tool_calls]
            bad = [c.name for c in calls if c.error]
            ex.succeed(
                answer,
                content or "",
                tool_calls=[c.name for c in calls],
                **({"tool_call_errors": bad} if bad else {}),
            )
            reason = "tool_calls" if calls and answer.finish_reason == "stop" else None
            return ChatReply(
                content=content, tool_calls=calls, finish_reason=reason or answer.finish_reason
            )


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def _correction(text: str, name: str, problem: str) -> list[dict[str, Any]]:
    """The messages that show the model its invalid answer and ask again."""
    return [
        _assistant(text),
        _user(
            f"That was not valid JSON for the {name} schema ({problem}). "
            "Answer again with only the JSON object."
        ),
    ]


def _native_call(tc: dict[str, Any]) -> ToolCall:
    """Read one OpenAI tool call dict (``{"id", "type", "function"}``)."""
    fn = tc.get("function")
    if not isinstance(fn, dict):
        return ToolCall(
            id=tc.get("id") or _call_id(),
            name=str(tc.get("type") or ""),
            arguments={},
            error=f"a tool call of unsupported type {tc.get('type')!r}",
        )
    return _tool_call(tc.get("id"), fn.get("name"), fn.get("arguments"))


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def _tool_call(call_id: Any, name: Any, raw: Any) -> ToolCall:
    """Build a :class:`ToolCall`; unusable arguments give ``arguments == {}`` and an
    ``error`` that says why, instead of failing the turn."""
    cid = call_id if isinstance(call_id, str) and call_id else _call_id()
    if not isinstance(name, str) or not name:
        return ToolCall(id=cid, name="", arguments={}, error=f"the call names no tool: {name!r}")
    args, error = _arguments(raw)
    return ToolCall(id=cid, name=name, arguments=args, error=error)


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """Parse a tool call's arguments: a JSON object, given as text (possibly encoded
    twice, as small models do) or already decoded."""
    value = raw
    for _ in range(2):
        if not isinstance(value, str):
            break
        if not value.strip():
            return {}, None
        try:
            value = json.loads(value)
        except ValueError as exc:
            return {}, f"arguments are not valid JSON ({exc}): {raw[:200]!r}"
    if value is None:
        return {}, None
    if not isinstance(value, dict):
        return {}, f"arguments are not a JSON object but {type(value).__name__}: {str(raw)[:200]!r}"
    return value, None
