"""One LLM call over HTTP: its attempts, time limits, retries, mode step-downs and events.

An :class:`Exchange` is made per handle call (``ctx.llm.complete(...)`` and the like).
Each HTTP attempt emits ``llm.request`` (with ``attempt``: 1, 2, ...) and is closed by
exactly one ``llm.response`` (the caller's :meth:`Exchange.succeed`) or ``llm.failed``
(with ``error_kind`` and ``final``). The retries are ours (the SDK's are off), so each
is visible, a timed-out attempt's request is closed before the next starts, and the
back-off honours ``Retry-After``.

Limits (:class:`~cogpipe.engine.llm.LLMConfig`): ``connect_timeout_s`` and
``first_token_timeout_s`` are the HTTP client's connect and read time limits (a read
limit bounds the wait for the first byte and every silence after it);
``call_timeout_s`` is a deadline over the whole call, enforced with an anyio cancel
scope around each attempt and each back-off.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2
from openai import APIConnectionError, APIStatusError, APITimeoutError

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
from .trace import preview

if TYPE_CHECKING:
    from .llm import LLMClient
    from .node import RunContext

__all__ = ["Answer", "Exchange"]

Setting = Literal["structured_output", "tool_calls"]

# What to check, by HTTP status, appended to error messages.
_HINTS = {
    401: "; check COGPIPE_LLM_API_KEY",
    403: "; check COGPIPE_LLM_API_KEY",
    404: "; check the model name (COGPIPE_LLM_MODELS) and that COGPIPE_LLM_BASE_URL ends in /v1",
}
# A 4xx whose text matches means "this endpoint does not take that request shape".
_REJECTS: dict[Setting, re.Pattern[str]] = {
    "structured_output": re.compile(r"response_format|json_schema|json_object|schema", re.I),
    "tool_calls": re.compile(r"\btools?\b|tool_choice|function.?call", re.I),
}
_NOT_REJECTIONS = {401, 403, 408, 409, 429}
_BACKOFF_S, _BACKOFF_MAX_S, _RETRY_AFTER_MAX_S = 0.5, 8.0, 60.0


@dataclass
class Answer:
    """What one attempt got: the first choice of a chat completion, streamed or not.

    ``tool_calls`` are OpenAI's raw dicts (``{"id", "type", "function": {"name",
    "arguments"}}``, arguments still a string); ``usage`` is ``None`` when the endpoint
    reported none; ``sent`` is how many characters were handed to ``on_delta``.
    """

    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    refusal: str | None = None
    model: str | None = None
    usage: dict[str, Any] | None = None
    ttft_ms: float | None = None
    sent: int = 0


class _Failure(Exception):
    """One failed attempt, classified: ``head`` and ``tail`` frame the attempt count in
    the message (``got HTTP 500`` ... ``: upstream exploded``)."""

    def __init__(
        self,
        kind: str,
        head: str,
        tail: str = "",
        *,
        retry: Literal["no", "yes", "timeout"] = "no",
        status: int | None = None,
        retry_after: float | None = None,
        text: str = "",
    ) -> None:
        super().__init__(head)
        self.kind, self.head, self.tail, self.retry = kind, head, tail, retry
        self.status, self.retry_after, self.text = status, retry_after, text


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
        if hints and client.offline is not None:  # real endpoints never see hints
            self.headers["X-Cogpipe-Hints"] = json.dumps(hints, default=str)
        self.where = (
            f"LLM call ({call}) for model '{self.model}' at {client.endpoint}, "
            f"purpose '{self.purpose}',"
        )
        self.base = {"call": call, "model": self.model, "purpose": self.purpose}
        self.attempt, self.open, self.t0 = 0, False, 0.0
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
            except _Failure as failure:
                after = await self._recover(failure, body)

    async def _recover(self, failure: _Failure, body: dict[str, Any]) -> str:
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

    def _rejected_mode(self, failure: _Failure, body: dict[str, Any]) -> tuple[str, str] | None:
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

    def _retry_delay(self, failure: _Failure) -> float | None:
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

    def _message(self, failure: _Failure) -> str:
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
                            await _read_stream(http, answer, on_delta, self.t0)
                        else:
                            await _read_body(http, answer)
                    finally:  # closed even when cancelled, so the server sees it at once
                        with anyio.CancelScope(shield=True):
                            await http.aclose()
            except _Failure:
                raise
            except APIStatusError as exc:
                raise _status_failure(exc) from exc
            except (APITimeoutError, APIConnectionError, httpx2.TransportError) as exc:
                raise self._transport_failure(exc, answer, bool(body.get("stream"))) from exc
        if scope.cancelled_caught:
            raise _Failure(
                "call_timeout",
                f"did not finish within call_timeout_s={self.config.call_timeout_s:g}",
                "; raise COGPIPE_LLM_CALL_TIMEOUT_S, or lower max_tokens for this purpose",
            )
        return answer

    def _transport_failure(self, exc: Exception, answer: Answer, stream: bool) -> _Failure:
        cause = exc.__cause__ if isinstance(exc, APITimeoutError | APIConnectionError) else exc
        cfg = self.config
        if isinstance(cause, httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.ConnectError):
            why = (
                f"no connection within connect_timeout_s={cfg.connect_timeout_s:g}"
                if isinstance(cause, httpx2.TimeoutException)
                else str(cause) or type(cause).__name__
            )
            return _Failure(
                "connect",
                "could not connect",
                f": {why}; check that the server is running and COGPIPE_LLM_BASE_URL points at it",
                retry="yes",
            )
        limit = f"first_token_timeout_s={cfg.first_token_timeout_s:g}"
        if isinstance(cause, httpx2.TimeoutException) and not answer.text and not answer.tool_calls:
            what = "first token" if stream else "first byte"
            return _Failure(
                "first_token_timeout",
                f"got no {what} within {limit}",
                "; the endpoint is hung or overloaded: check it, or raise "
                "COGPIPE_LLM_FIRST_TOKEN_TIMEOUT_S for a slow model",
                retry="timeout",
            )
        what = (
            f"stream broke off after {len(answer.text)} characters"
            if stream
            else "answer broke off"
        )
        reason = (
            f"no data for {limit}"
            if isinstance(cause, httpx2.TimeoutException)
            else (f"{type(cause).__name__}: {cause}")
        )
        # text already handed on cannot be taken back, so such a stream is not retried
        return _Failure(
            "broken_response", what, f": {reason}", retry="no" if answer.sent else "yes"
        )


def _status_failure(exc: APIStatusError) -> _Failure:
    status, headers = exc.status_code, exc.response.headers
    text = _error_text(exc)
    retry = headers.get("x-should-retry") != "false" and (
        status >= 500 or status in (408, 409, 429)
    )
    return _Failure(
        "http_status",
        f"got HTTP {status}",
        f": {text}{_HINTS.get(status, '')}",
        retry="yes" if retry else "no",
        status=status,
        retry_after=_retry_after(headers),
        text=exc.response.text,
    )


def _error_text(exc: APIStatusError) -> str:
    """The endpoint's own words: OpenAI's ``error.message``, FastAPI's ``detail``, text."""
    body = exc.body
    if isinstance(body, dict):
        detail = body.get("message") or body.get("detail")
        if detail:
            return detail if isinstance(detail, str) else json.dumps(detail)[:500]
    return exc.response.text[:500] or exc.message


def _retry_after(headers: httpx2.Headers) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date,
    RFC 9110 section 10.2.3), at most a minute; ``None`` when absent or unreadable."""
    value: float | None = None
    try:
        if "retry-after-ms" in headers:
            value = float(headers["retry-after-ms"]) / 1000
        elif "retry-after" in headers:
            raw = headers["retry-after"]
            try:
                value = float(raw)
            except ValueError:
                value = parsedate_to_datetime(raw).timestamp() - time.time()
    except (ValueError, TypeError):
        return None
    if value is None or math.isnan(value):
        return None
    return min(max(value, 0.0), _RETRY_AFTER_MAX_S)


async def _read_body(http: httpx2.Response, answer: Answer) -> None:
    """Read a ``chat.completion`` body into ``answer``."""
    raw = await http.aread()
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        message = choice["message"]
    except ValueError as exc:
        raise _not_json("answered with a body that is not JSON", raw) from exc
    except (KeyError, IndexError, TypeError) as exc:
        raise _not_json("answered with JSON that is not a chat completion", raw) from exc
    answer.text = message.get("content") or ""
    answer.tool_calls = list(message.get("tool_calls") or [])
    answer.refusal = message.get("refusal")
    answer.finish_reason = choice.get("finish_reason")
    answer.model, answer.usage = data.get("model"), data.get("usage")


def _not_json(head: str, raw: bytes) -> _Failure:
    return _Failure("not_json", head, f": {raw[:200].decode(errors='replace')!r}", retry="yes")


async def _read_stream(
    http: httpx2.Response, answer: Answer, on_delta: Callable[[str], None] | None, t0: float
) -> None:
    """Read ``chat.completion.chunk`` server-sent events into ``answer`` (OpenAI's
    streaming format: ``data: {json}`` lines ending with ``data: [DONE]``)."""
    calls: dict[int, dict[str, Any]] = {}
    async for line in http.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank lines, comments, "event:" lines
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        try:
            chunk = json.loads(payload)
        except ValueError as exc:
            raise _not_json("streamed a chunk that is not JSON", payload.encode()) from exc
        if isinstance(chunk, dict) and "error" in chunk:
            raise _Failure(
                "broken_response",
                f"stream broke off after {len(answer.text)} characters",
                f": the endpoint sent an error: {preview(chunk['error'], 300)}",
                retry="no" if answer.sent else "yes",
            )
        _add_chunk(chunk, answer, calls, on_delta, t0)
    answer.tool_calls = [calls[i] for i in sorted(calls)]
    if answer.finish_reason is None:  # a missing [DONE] after the finish chunk is harmless
        raise _Failure(
            "broken_response",
            f"stream broke off after {len(answer.text)} characters",
            ": it ended without a finish_reason",
            retry="no" if answer.sent else "yes",
        )


def _add_chunk(
    chunk: dict[str, Any],
    answer: Answer,
    calls: dict[int, dict[str, Any]],
    on_delta: Callable[[str], None] | None,
    t0: float,
) -> None:
    answer.model = chunk.get("model") or answer.model
    answer.usage = chunk.get("usage") or answer.usage
    for choice in (chunk.get("choices") or [])[:1]:
        answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
        delta = choice.get("delta") or {}
        if delta.get("refusal"):
            answer.refusal = (answer.refusal or "") + delta["refusal"]
        for part in delta.get("tool_calls") or []:
            call = calls.setdefault(
                part.get("index", len(calls)),
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = part.get("id") or call["id"]
            fn = part.get("function") or {}
            call["function"]["name"] = call["function"]["name"] or fn.get("name") or ""
            call["function"]["arguments"] += fn.get("arguments") or ""
        text = delta.get("content")
        if text:
            if answer.ttft_ms is None:
                answer.ttft_ms = (time.perf_counter() - t0) * 1000
            answer.text += text
            if on_delta is not None:
                on_delta(text)
                answer.sent += len(text)
