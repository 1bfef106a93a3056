"""What came back from one LLM attempt: the answer read from a body or a stream, or the
failure, classified.

:func:`read_body` reads an OpenAI ``chat.completion`` body and :func:`read_stream` its
server-sent ``chat.completion.chunk`` events into an :class:`Answer`; both raise a
:class:`Failure` for what cannot be used (not JSON, not a completion, a stream that ends
without a finish reason). :func:`status_failure` and :func:`transport_failure` turn the
SDK's and httpx2's exceptions into a :class:`Failure` with its ``error_kind``, its words
for the message and whether another attempt may help.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

import httpx2
from openai import APIConnectionError, APIStatusError, APITimeoutError

from .trace import preview

if TYPE_CHECKING:
    from .endpoint import LLMConfig

__all__ = [
    "Answer",
    "Failure",
    "read_body",
    "read_stream",
    "status_failure",
    "transport_failure",
]

# What to check, by HTTP status, appended to error messages.
_HINTS = {
    401: "; check COGPIPE_LLM_API_KEY",
    403: "; check COGPIPE_LLM_API_KEY",
    404: "; check the model name (COGPIPE_LLM_MODELS) and that COGPIPE_LLM_BASE_URL ends in /v1",
}
_RETRY_AFTER_MAX_S = 60.0


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


class Failure(Exception):
    """One failed attempt, classified.

    Attributes:
        kind: the ``error_kind`` (``connect``, ``http_status``, ``not_json`` ...).
        head, tail: the message around the attempt count (``got HTTP 500`` ...
            ``: upstream exploded``).
        retry: ``no``; ``yes`` (within ``max_retries``); ``timeout`` (within
            ``timeout_retries``).
        status, retry_after, text: HTTP status, seconds asked to wait, the error body.
    """

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


def status_failure(exc: APIStatusError) -> Failure:
    """Classify an HTTP error answer (``http_status``; 408/409/429/5xx may be retried
    unless the server sent ``x-should-retry: false``)."""
    status, headers = exc.status_code, exc.response.headers
    text = _error_text(exc)
    retry = headers.get("x-should-retry") != "false" and (
        status >= 500 or status in (408, 409, 429)
    )
    return Failure(
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


async def read_body(http: httpx2.Response, answer: Answer) -> None:
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


def _not_json(head: str, raw: bytes) -> Failure:
    return Failure("not_json", head, f": {raw[:200].decode(errors='replace')!r}", retry="yes")


async def read_stream(
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
            raise Failure(
                "broken_response",
                f"stream broke off after {len(answer.text)} characters",
                f": the endpoint sent an error: {preview(chunk['error'], 300)}",
                retry="no" if answer.sent else "yes",
            )
        _add_chunk(chunk, answer, calls, on_delta, t0)
    answer.tool_calls = [calls[i] for i in sorted(calls)]
    if answer.finish_reason is None:  # a missing [DONE] after the finish chunk is harmless
        raise Failure(
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


def transport_failure(exc: Exception, answer: Answer, stream: bool, config: LLMConfig) -> Failure:
    """Classify an attempt that failed below HTTP: ``connect``, ``first_token_timeout``
    (nothing received within the read limit) or ``broken_response``."""
    cause = exc.__cause__ if isinstance(exc, APITimeoutError | APIConnectionError) else exc
    cfg = config
    if isinstance(cause, httpx2.ConnectTimeout | httpx2.PoolTimeout | httpx2.ConnectError):
        why = (
            f"no connection within connect_timeout_s={cfg.connect_timeout_s:g}"
            if isinstance(cause, httpx2.TimeoutException)
            else str(cause) or type(cause).__name__
        )
        return Failure(
            "connect",
            "could not connect",
            f": {why}; check that the server is running and COGPIPE_LLM_BASE_URL points at it",
            retry="yes",
        )
    limit = f"first_token_timeout_s={cfg.first_token_timeout_s:g}"
    if isinstance(cause, httpx2.TimeoutException) and not answer.text and not answer.tool_calls:
        what = "first token" if stream else "first byte"
        return Failure(
            "first_token_timeout",
            f"got no {what} within {limit}",
            "; the endpoint is hung or overloaded: check it, or raise "
            "COGPIPE_LLM_FIRST_TOKEN_TIMEOUT_S for a slow model",
            retry="timeout",
        )
    what = f"stream broke off after {len(answer.text)} characters" if stream else "answer broke off"
    reason = (
        f"no data for {limit}"
        if isinstance(cause, httpx2.TimeoutException)
        else (f"{type(cause).__name__}: {cause}")
    )
    # text already handed on cannot be taken back, so such a stream is not retried
    return Failure("broken_response", what, f": {reason}", retry="no" if answer.sent else "yes")
