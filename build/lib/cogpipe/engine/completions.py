"""Chat-completions calls for one node run: the ``ctx.llm`` handle, traced and explained.

:class:`OpenAIHandle` is what :meth:`~cogpipe.engine.llm.LLMClient.bind` returns. Each call
sends one OpenAI chat-completions request through the client's ``openai.AsyncOpenAI`` with the
header ``X-Cogpipe-Purpose: <purpose>``, emits ``llm.request`` on the node's trace, then
``llm.response`` (model, purpose, tokens_in, tokens_out, latency_ms, ttft_ms for streams,
finish_reason, output preview) or ``llm.failed`` (error), and turns every failure into an
:class:`~engine.errors.LLMError` that names the endpoint, the model and what to check.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
import openai
from pydantic import BaseModel, ValidationError

from .errors import LLMError
from .handles import ChatReply, Messages, ToolCall
from .schemas import response_format
from .trace import preview

if TYPE_CHECKING:
    from .llm import LLMClient
    from .node import RunContext

__all__ = ["OpenAIHandle"]

M = TypeVar("M", bound=BaseModel)


def _as_messages(messages: Messages) -> list[dict[str, Any]]:
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return list(messages)


def _meta(resp: Any) -> dict[str, Any]:
    return {"model": resp.model, "usage": resp.usage, "reason": resp.choices[0].finish_reason}


class _Call:
    """One HTTP exchange of a node run: emits ``llm.request`` at once, later
    ``llm.response`` (:meth:`finish`) or ``llm.failed`` (:meth:`fail`)."""

    def __init__(
        self,
        handle: OpenAIHandle,
        call: str,
        model: str,
        messages: Messages,
        purpose: str | None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        self.client, self.ctx = handle.client, handle.ctx
        self.sdk = self.client.openai  # RuntimeError here, before any event, if not open
        self.model = self.client.config.resolve(model)
        self.messages = _as_messages(messages)
        self.purpose = purpose or handle.ctx.kind
        # OpenAI's {"type": "function", "function": {...}}, or the bare function dict
        self.tools = [
            t if "type" in t else {"type": "function", "function": t} for t in tools or []
        ]
        self.where = (
            f"LLM call ({call}) for model '{self.model}' at {self.client.endpoint}, "
            f"purpose '{self.purpose}',"
        )
        self.t0 = time.perf_counter()
        self.base = {"call": call, "model": self.model, "purpose": self.purpose}
        last = self.messages[-1].get("content") if self.messages else None
        self.ctx.emit(
            "llm.request",
            {
                **self.base,
                "messages": len(self.messages),
                "tools": len(self.tools),
                "prompt": preview(last),
            },
        )

    async def create(self, **params: Any) -> Any:
        """Send the request; SDK errors become :class:`LLMError` (after the SDK's retries)."""
        params = {k: v for k, v in params.items() if v is not None}
        if self.tools:
            params["tools"] = self.tools
        try:
            return await self.sdk.chat.completions.create(
                model=self.model,
                messages=self.messages,  # type: ignore[arg-type]
                extra_headers={"X-Cogpipe-Purpose": self.purpose},
                **params,
            )
        except openai.OpenAIError as exc:
            raise self.fail(self.client.explain(exc, self.where)) from exc

    def message(self, resp: Any) -> Any:
        """Return the first choice's message, or raise if the answer has none."""
        if not getattr(resp, "choices", None):
            raise self.fail(f"{self.where} returned no choices")
        return resp.choices[0].message

    def ms(self) -> float:
        return round((time.perf_counter() - self.t0) * 1000, 2)

    def finish(
        self,
        output: str,
        *,
        model: str | None,
        usage: Any,
        reason: str | None,
        ttft_ms: float | None = None,
        **extra: Any,
    ) -> None:
        """Emit ``llm.response`` (tokens from the answer's ``usage``, times in ms)."""
        self.ctx.emit(
            "llm.response",
            {
                **self.base,
                "model": model or self.model,
                "tokens_in": getattr(usage, "prompt_tokens", None),
                "tokens_out": getattr(usage, "completion_tokens", None),
                "latency_ms": self.ms(),
                **({} if ttft_ms is None else {"ttft_ms": round(ttft_ms, 2)}),
                "finish_reason": reason,
                "output": preview(output),
                **extra,
            },
        )

    def fail(self, error: str) -> LLMError:
        """Emit ``llm.failed`` and return the :class:`LLMError` to raise."""
        self.ctx.emit("llm.failed", {**self.base, "error": error, "latency_ms": self.ms()})
        return LLMError(error)


class OpenAIHandle:
    """``ctx.llm`` through the ``openai`` SDK (the :class:`~cogpipe.engine.handles.LLMHandle`
    protocol); every call is traced on the node run it is bound to.

    Common arguments of every method:
        model: an alias from the config (``fast``, ``smart``, ``default``) or a literal
            model name, sent as it is.
        messages: OpenAI chat messages (``[{"role": "user", "content": "..."}]``), or a
            string meaning one user message.
        purpose: the task asking, e.g. ``"output_v1.answer"`` (default: the node kind);
            sent as ``X-Cogpipe-Purpose`` and shown in the trace.
        temperature: sampling temperature; omitted from the request when ``None``.

    Every method raises :class:`~engine.errors.LLMError` when the endpoint fails after
    its retries (HTTP 5xx, 429, connection refused), times out, or answers with
    something unusable. None of them waits longer than the config's ``timeout_s`` for
    data from the endpoint per attempt.
    """

    def __init__(self, client: LLMClient, ctx: RunContext) -> None:
        self.client, self.ctx = client, ctx

    async def complete(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        temperature: float | None = None,
    ) -> str:
        """Return the model's text answer (``""`` when it has none)."""
        call = _Call(self, "complete", model, messages, purpose)
        resp = await call.create(temperature=temperature)
        text = call.message(resp).content or ""
        call.finish(text, **_meta(resp))
        return text

    async def structured(
        self,
        model: str,
        messages: Messages,
        schema: type[M],
        *,
        purpose: str | None = None,
        temperature: float | None = None,
    ) -> M:
        """Return the answer as an instance of ``schema`` (OpenAI structured outputs).

        The request carries :func:`~engine.schemas.response_format` of ``schema``
        (strict when the schema allows). An answer that is not valid JSON for the
        schema is shown to the model once with what is wrong, as a second attempt.

        Raises:
            LLMError: the second answer is invalid too, or the model refused.
        """
        fmt, msgs = response_format(schema), _as_messages(messages)
        for attempt in (1, 2):
            call = _Call(self, "structured", model, msgs, purpose)
            resp = await call.create(response_format=fmt, temperature=temperature)
            msg = call.message(resp)
            if getattr(msg, "refusal", None):
                raise call.fail(f"{call.where} refused: {msg.refusal}")
            text = msg.content or ""
            try:
                value = schema.model_validate_json(text)
            except ValidationError as exc:
                problem = _problem(exc)
                error = call.fail(
                    f"{call.where} answered with no valid {schema.__name__} "
                    f"(attempt {attempt} of 2): {problem}; output: {text[:200]!r}"
                )
                if attempt == 2:
                    raise error from exc
                msgs = [*msgs, *_correction(text, schema.__name__, problem)]
                continue
            call.finish(text, attempt=attempt, **_meta(resp))
            return value
        raise AssertionError("unreachable")

    async def stream(
        self,
        model: str,
        messages: Messages,
        *,
        purpose: str | None = None,
        on_delta: Callable[[str], None] | None = None,
        temperature: float | None = None,
    ) -> str:
        """Stream the answer and return the whole text.

        Args:
            on_delta: called with each text delta as it arrives (default
                ``ctx.stream``: an ``output.delta`` event to the client).

        The request asks for ``stream_options.include_usage`` so ``llm.response`` has
        token counts; it also carries ``ttft_ms``, the time to the first delta.

        Raises:
            LLMError: also when the stream breaks off or ends without a finish reason
                (deltas already sent stay sent).
        """
        call = _Call(self, "stream", model, messages, purpose)
        stream = await call.create(
            stream=True, stream_options={"include_usage": True}, temperature=temperature
        )
        acc = _Deltas(call.t0, on_delta or self.ctx.stream)
        try:
            async with stream:
                async for chunk in stream:
                    acc.add(chunk)
        except (openai.APITimeoutError, httpx2.TimeoutException) as exc:
            raise call.fail(
                f"{call.where} stream stalled after {len(acc.text)} chars: no data within "
                f"timeout_s={self.client.config.timeout_s:g}"
            ) from exc
        except (openai.OpenAIError, httpx2.HTTPError) as exc:
            raise call.fail(
                f"{call.where} stream broke after {len(acc.text)} chars: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if acc.reason is None:
            raise call.fail(f"{call.where} stream ended without a finish_reason")
        call.finish(
            acc.text, model=acc.model, usage=acc.usage, reason=acc.reason, ttft_ms=acc.ttft_ms
        )
        return acc.text

    async def chat(
        self,
        model: str,
        messages: Messages,
        *,
        tools: list[dict[str, Any]] | None = None,
        purpose: str | None = None,
        temperature: float | None = None,
    ) -> ChatReply:
        """One assistant turn that may call tools (OpenAI function calling).

        Args:
            tools: tool definitions, ``{"type": "function", "function": {"name",
                "description", "parameters"}}``; a bare function dict is wrapped.

        Returns:
            The text and the tool calls, arguments parsed. Append
            ``reply.as_message()`` and one ``{"role": "tool", "tool_call_id", "content"}``
            message per call to continue the conversation.

        Raises:
            LLMError: also when a tool call's arguments are not a JSON object.
        """
        call = _Call(self, "chat", model, messages, purpose, tools)
        resp = await call.create(temperature=temperature)
        msg = call.message(resp)
        calls = [_tool_call(call, tc) for tc in msg.tool_calls or []]
        call.finish(msg.content or "", tool_calls=[c.name for c in calls], **_meta(resp))
        return ChatReply(
            content=msg.content, tool_calls=calls, finish_reason=resp.choices[0].finish_reason
        )


class _Deltas:
    """Collects a streamed answer chunk by chunk, handing each text delta on at once."""

    def __init__(self, t0: float, send: Callable[[str], None]) -> None:
        self.t0, self.send = t0, send
        self.parts: list[str] = []
        self.model: str | None = None
        self.usage: Any = None
        self.reason: str | None = None
        self.ttft_ms: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, chunk: Any) -> None:
        """Take one ``chat.completion.chunk`` (the usage chunk has no choices)."""
        self.model = chunk.model or self.model
        self.usage = chunk.usage or self.usage
        for choice in chunk.choices[:1]:
            self.reason = choice.finish_reason or self.reason
            delta = choice.delta.content if choice.delta else None
            if delta:
                if self.ttft_ms is None:
                    self.ttft_ms = (time.perf_counter() - self.t0) * 1000
                self.parts.append(delta)
                self.send(delta)


def _problem(exc: ValidationError) -> str:
    """Summarise a validation error in one line (at most three problems)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or 'output'}: {e['msg']}" for e in exc.errors()[:3]
    )


def _correction(text: str, name: str, problem: str) -> list[dict[str, Any]]:
    """The messages that show the model its invalid answer and ask again."""
    return [
        {"role": "assistant", "content": text},
        {
            "role": "user",
            "content": f"That was not valid JSON for the {name} schema ({problem}). "
            "Answer again with only the JSON object.",
        },
    ]


def _tool_call(call: _Call, tc: Any) -> ToolCall:
    """Parse one SDK tool call; arguments must be a JSON object."""
    fn = getattr(tc, "function", None)
    if fn is None:
        raise call.fail(f"{call.where} made a tool call of unsupported type {tc.type!r}")
    try:
        args = json.loads(fn.arguments or "{}")
    except ValueError:
        args = None
    if not isinstance(args, dict):
        raise call.fail(
            f"{call.where} called tool '{fn.name}' with arguments that are not a JSON "
            f"object: {fn.arguments[:200]!r}"
        )
    return ToolCall(id=tc.id, name=fn.name, arguments=args)
