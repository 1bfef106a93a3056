"""One LLM call over HTTP: its attempts, time limits, retries, mode step-downs and events.

An :class:`Exchange` is made per handle call (``ctx.llm.complete(...)`` and the like).
Each HTTP attempt emits ``llm.request`` (with ``attempt``: 1, 2, ...) and is closed by
exactly one ``llm.response`` (the caller's :meth:`Exchange.succeed`) or ``llm.failed``
(with ``error_kind`` and ``final``). The retries are ours (the SDK's are off), so each
is visible, a timed-out attempt's request is closed before the next starts, and the
back-off honours ``Retry-After``. Every event of one call carries the call's
``call_id`` (a fresh 12-digit hex id), so the attempts and the streamed text of one
call can be told from another's; ``llm.request`` carries the request as sent, bounded
(:mod:`~cogpipe.engine.transcript`).

Limits (:class:`~cogpipe.engine.llm.LLMConfig`): ``connect_timeout_s`` and
``first_token_timeout_s`` are the HTTP client's connect and read time limits (a read
limit bounds the wait for the first byte and every silence after it);
``call_timeout_s`` is a deadline over the whole call: each attempt runs in an anyio
cancel scope that ends at it, and no retry is started whose back-off would pass it.
What one attempt got back is read and classified in :mod:`~cogpipe.engine.answers`.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2
from openai import APIConnectionError, APIStatusError, APITimeoutError

from .answers import (
    Answer,
    Failure,
    read_body,
    read_stream,
    status_failure,
    transport_failure,
)
from .errors import (
    LLMBodyError,
    LLMBrokenResponseError,
    LLMConnectError,
    LLMError,
    LLMInvalidOutputError,
    LLMStatusError,
    LLMTimeoutError,
    LLMTruncatedError,
)
from .telemetry import end_span, llm_span
from .trace import preview
from .transcript import request_view

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .llm import LLMClient
    from .node import RunContext

__all__ = ["Exchange", "Setting"]

Setting = Literal["structured_output", "tool_calls"]

# A 4xx whose text matches means "this endpoint does not take that request shape".
_REJECTS: dict[Setting, re.Pattern[str]] = {
    "structured_output": re.compile(r"response_format|json_schema|json_object|schema", re.I),
    "tool_calls": re.compile(r"\btools?\b|tool_choice|function.?call", re.I),
}
_NOT_REJECTIONS = {401, 403, 408, 409, 429}
_BACKOFF_S, _BACKOFF_MAX_S = 0.5, 8.0


class Exchange:
    """One handle call of one node run. Use as a context manager around the call, so an
    attempt interrupted by anything (cancellation, a raising ``on_delta``) still gets
    its ``llm.failed`` event.

    Args:
        client: the open :class:`~cogpipe.engine.llm.LLMClient`.
        ctx: the node run (events go to its trace).
        call: ``complete``, ``structured``, ``stream`` or ``chat``.
        model: an alias or model name.
        purpose: the task asking (default: the node kind).
        max_tokens: the limit to send (default: ``config.tokens_for(purpose, kind)``).
        hints: facts for the offline model only (header ``X-Cogpipe-Hints``).
        setting: the mode setting this call depends on, if any.

    Raises:
        RuntimeError: the client is not open (before any event).
    """

    def __init__(
        self,
        client: LLMClient,
        ctx: RunContext,
        call: str,
        model: str,
        *,
        purpose: str | None,
        max_tokens: int | None,
        hints: Any = None,
        setting: Setting | None = None,
    ) -> None:
        self.sdk = client.openai  # RuntimeError here, before any event, if not open
        self.client, self.ctx, self.config = client, ctx, client.config
        self.model = client.config.resolve(model)
        self.purpose = purpose or ctx.kind
        self.max_tokens = max_tokens or self.config.tokens_for(self.purpose, ctx.kind)
        self.setting = setting
        self.headers = {"X-Cogpipe-Purpose": self.purpose}
        # real endpoints never see hints, unless they are the offline model over HTTP
        if hints and (client.offline is not None or client.config.send_hints):
            self.headers["X-Cogpipe-Hints"] = json.dumps(hints, default=str)
        self.where = (
            f"LLM call ({call}) for model '{self.model}' at {client.endpoint}, "
            f"purpose '{self.purpose}',"
        )
        self.call_id = uuid.uuid4().hex[:12]
        self.base = {
            "call_id": self.call_id,
            "call": call,
            "model": self.model,
            "purpose": self.purpose,
        }
        self.attempt, self.open, self.t0 = 0, False, 0.0
        self.span: Span | None = None  # the current attempt's, when the run is traced
        self.retries = {"yes": 0, "timeout": 0}
        self.deadline = anyio.current_time() + self.config.call_timeout_s

    def __enter__(self) -> Exchange:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if self.open and exc is not None:  # an interrupted attempt still gets its answer
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            self._failed(
                "cancelled" if cancelled else "error",
                "cancelled" if cancelled else f"{type(exc).__name__}: {exc}",
                final=True,
            )

    @property
    def mode(self) -> str | None:
        """The current mode of this call's setting (``None`` without a setting)."""
        return self.client.mode(self.model, self.setting) if self.setting else None

    # -- events ------------------------------------------------------------------------

    def _requested(self, body: dict[str, Any], after: str | None) -> None:
        self.attempt += 1
        self.open, self.t0 = True, time.perf_counter()
        messages = body.get("messages") or []
        last = messages[-1].get("content") if messages else None
        if self.ctx.trace_context is not None:
            self.span = llm_span(
                self.ctx.trace_context,
                self.model,
                str(self.sdk.base_url),
                {
                    "gen_ai.request.max_tokens": body.get("max_tokens"),
                    "gen_ai.request.stream": bool(body.get("stream")),
                    "cogpipe.llm.call_id": self.call_id,
                    "cogpipe.llm.attempt": self.attempt,
                    "cogpipe.llm.purpose": self.purpose,
                },
            )
        self.ctx.emit(
            "llm.request",
            {
                **self.base,
                "attempt": self.attempt,
                **({"after": after} if after else {}),
                **({"mode": self.mode} if self.setting else {}),
                "max_tokens": body.get("max_tokens"),
                "messages": len(messages),
                "tools": len(body.get("tools") or []),
                "prompt": preview(last),
                "request": request_view(body),
            },
        )

    def ms(self) -> float:
        """Milliseconds since the current attempt started."""
        return round((time.perf_counter() - self.t0) * 1000, 2)

    def succeed(self, answer: Answer, output: str, **extra: Any) -> None:
        """Emit ``llm.response`` for the current attempt: tokens from ``usage`` (``null``
        when the endpoint reported none), ``latency_ms`` of this attempt, ``ttft_ms``
        for streams, ``finish_reason``, ``truncated``, an ``output`` preview."""
        usage = answer.usage or {}
        self.open = False
        if self.span is not None:
            attrs = {
                "gen_ai.response.model": answer.model or self.model,
                "gen_ai.usage.input_tokens": usage.get("prompt_tokens"),
                "gen_ai.usage.output_tokens": usage.get("completion_tokens"),
                "gen_ai.response.finish_reasons": [answer.finish_reason or "unknown"],
            }
            if answer.ttft_ms is not None:
                attrs["gen_ai.response.time_to_first_chunk"] = answer.ttft_ms / 1000
            self.span.set_attributes({k: v for k, v in attrs.items() if v is not None})
            end_span(self.span)
            self.span = None
        self.ctx.emit(
            "llm.response",
            {
                **self.base,
                "attempt": self.attempt,
                "model": answer.model or self.model,
                "tokens_in": usage.get("prompt_tokens"),
                "tokens_out": usage.get("completion_tokens"),
                "latency_ms": self.ms(),
                **({} if answer.ttft_ms is None else {"ttft_ms": round(answer.ttft_ms, 2)}),
                "finish_reason": answer.finish_reason,
                "truncated": answer.finish_reason == "length",
                "output": preview(output),
                **extra,
            },
        )

    def reject(self, kind: str, detail: str, *, final: bool) -> LLMError:
        """Close the current attempt as unusable (``invalid_output``, ``length``,
        ``refused``) with ``llm.failed``; return the error to raise when ``final``."""
        message = f"{self.where} {detail}"
        self._failed(kind, message, final=final)
        return self._error(kind, message)

    def _failed(self, kind: str, message: str, *, final: bool, **extra: Any) -> None:
        self.open = False
        if self.span is not None:
            end_span(self.span, message, kind)
            self.span = None
        self.ctx.emit(
            "llm.failed",
            {
                **self.base,
                "attempt": self.attempt,
                "error": message,
                "error_kind": kind,
                "final": final,
                "latency_ms": self.ms(),
                **extra,
            },
        )

    def _error(self, kind: str, message: str, status: int | None = None) -> LLMError:
        where: dict[str, Any] = {
            "endpoint": self.client.endpoint,
            "model": self.model,
            "purpose": self.purpose,
            "attempts": self.attempt,
        }
        if kind == "connect":
            return LLMConnectError(message, **where)
        if kind in ("first_token_timeout", "call_timeout"):
            return LLMTimeoutError(message, error_kind=kind, **where)
        if kind == "broken_response":
            return LLMBrokenResponseError(message, **where)
        if kind == "not_json":
            return LLMBodyError(message, **where)
        if kind == "http_status":
            return LLMStatusError(message, status=status or 0, **where)
        if kind == "length":
            return LLMTruncatedError(message, max_tokens=self.max_tokens, **where)
        return LLMInvalidOutputError(message, error_kind=kind, **where)

    # -- attempts ----------------------------------------------------------------------

    async def send(
        self,
        build: Callable[[], dict[str, Any]],
        *,
        after: str | None = None,
        on_delta: Callable[[str], None] | None = None,
    ) -> Answer:
        """Make attempts until one gets an answer; the caller then calls
        :meth:`succeed` or :meth:`reject` for it.

        Args:
            build: returns the request body (``model``, ``messages``, ...) for the
                current mode; called again after a mode step-down.
            after: why this is not the first request of the call (shown in the event).
            on_delta: streams: called with each text delta (``stream: true`` in the body).

        Raises:
            LLMError: of the kind that ended the last attempt, after retries.
        """
        while True:
            body = {**build(), "model": self.model, "max_tokens": self.max_tokens}
            self._requested(body, after)
            try:
                return await self._attempt(body, on_delta)
            except Failure as failure:
                after = await self._recover(failure, body)

    async def _recover(self, failure: Failure, body: dict[str, Any]) -> str:
        """Step down, or wait out a retry; return the next attempt's ``after``.

        Raises:
            LLMError: the failure is final.
        """
        steps = self._rejected_mode(failure, body)
        if steps is not None:
            self._failed(failure.kind, self._message(failure), final=False, status=failure.status)
            self.ctx.emit(
                "llm.mode_changed",
                {
                    "model": self.model,
                    "setting": self.setting,
                    "from": steps[0],
                    "to": steps[1],
                    "reason": preview(failure.text, 300),
                },
            )
            return "mode_changed"
        delay = self._retry_delay(failure)
        message = self._message(failure)
        if delay is None:
            self._failed(failure.kind, message, final=True, status=failure.status)
            raise self._error(failure.kind, message, failure.status)
        self._failed(
            failure.kind,
            message,
            final=False,
            status=failure.status,
            retry_in_ms=round(delay * 1000),
        )
        await anyio.sleep(delay)
        return failure.kind

    def _rejected_mode(self, failure: Failure, body: dict[str, Any]) -> tuple[str, str] | None:
        """Step down when the endpoint rejected this call's mode; with a fixed mode, say
        in the failure which setting to change."""
        status, setting = failure.status or 0, self.setting
        if setting is None or not 400 <= status < 500 or status in _NOT_REJECTIONS:
            return None
        used = "response_format" in body if setting == "structured_output" else "tools" in body
        if not used or not _REJECTS[setting].search(failure.text):
            return None
        steps = self.client.step_down(self.model, setting)
        if steps is None and self.mode != "prompt":
            failure.tail += (
                f"; the endpoint seems not to take {setting} mode '{self.mode}': set "
                f"COGPIPE_LLM_{setting.upper()}=prompt or auto (docs/models.md)"
            )
        return steps

    def _retry_delay(self, failure: Failure) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` for no next attempt."""
        budget = self.config.max_retries if failure.retry == "yes" else self.config.timeout_retries
        if failure.retry == "no" or self.retries[failure.retry] >= budget:
            return None
        self.retries[failure.retry] += 1
        n = sum(self.retries.values())
        delay = failure.retry_after
        if delay is None:
            delay = min(_BACKOFF_MAX_S, _BACKOFF_S * 2 ** (n - 1)) * (1 - 0.25 * random.random())
        if anyio.current_time() + delay >= self.deadline:
            return None  # no time left within call_timeout_s
        return delay

    def _message(self, failure: Failure) -> str:
        tries = f" after {self.attempt} attempts" if self.attempt > 1 else ""
        return f"{self.where} {failure.head}{tries}{failure.tail}"

    async def _attempt(
        self, body: dict[str, Any], on_delta: Callable[[str], None] | None
    ) -> Answer:
        answer = Answer()
        remaining = self.deadline - anyio.current_time()
        with anyio.move_on_after(max(remaining, 0)) as scope:
            try:
                async with self.sdk.chat.completions.with_streaming_response.create(
                    **body, extra_headers=self.headers
                ) as response:
                    http = response.http_response
                    try:
                        if body.get("stream"):
                            await read_stream(http, answer, on_delta, self.t0)
                        else:
                            await read_body(http, answer)
                    finally:  # closed even when cancelled, so the server sees it at once
                        with anyio.CancelScope(shield=True):
                            await http.aclose()
            except Failure:
                raise
            except APIStatusError as exc:
                raise status_failure(exc) from exc
            except (APITimeoutError, APIConnectionError, httpx2.TransportError) as exc:
                raise transport_failure(exc, answer, bool(body.get("stream")), self.config) from exc
        if scope.cancelled_caught:
            raise Failure(
                "call_timeout",
                f"did not finish within call_timeout_s={self.config.call_timeout_s:g}",
                "; raise COGPIPE_LLM_CALL_TIMEOUT_S, or lower max_tokens for this purpose",
            )
        return answer
