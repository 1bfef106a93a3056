"""The built-in offline model: a deterministic, in-process OpenAI chat-completions server.

With no LLM endpoint configured, :class:`~engine.llm.LLMClient` still talks to the real
``openai`` SDK, but through an ``httpx2`` transport that answers from an
:class:`OfflineModel` instead of the network. The model speaks the OpenAI
chat-completions protocol (``POST /v1/chat/completions``, plain JSON or ``stream: true``
server-sent events; ``GET /v1/models``) and always reports the model name ``offline``.

Node modules teach it their tasks by registering *responders* by purpose (the
``X-Cogpipe-Purpose`` header the LLM client sends)::

    @offline_responder("input_v1.analyse")
    def _analyse(messages: list[dict], request: dict) -> dict:
        return {"intent": "chat", "reflex": True}

A responder gets the request's ``messages`` and the whole request body, and returns
the text content (``str``), the structured JSON object (``dict`` or a pydantic model),
or ``{"tool_calls": [{"name": ..., "arguments": {...}}]}``. A purpose ``"kind.task"``
falls back to a responder registered for ``"kind"``. Without a responder the model
answers deterministically: a schema-valid minimal object for structured requests,
otherwise a short text quoting the last user message.

Responders see every request as the native modes send it, whatever the client's
``structured_output`` and ``tool_calls`` modes: a ``json_object`` or ``prompt``
request arrives with ``response_format`` ``json_schema``, a ``prompt``-mode tool request
with ``tools`` and ``tool``/``tool_calls`` messages
(:func:`~cogpipe.engine.protocol.from_prompt_protocol`); answers go back in the mode
the request used. ``request["hints"]`` is always a dict: the ``hints`` the node passed
to its ``ctx.llm`` call (sent in-process as the JSON header ``X-Cogpipe-Hints``, which
only the offline transport carries), ``{}`` when there are none.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import anyio
import httpx2
from pydantic import BaseModel

from .protocol import TOOLS_HEADING, from_prompt_protocol
from .schemas import sample_for_schema

__all__ = [
    "MODEL_NAME",
    "OfflineModel",
    "Responder",
    "offline_responder",
    "register",
    "unregister",
]

MODEL_NAME = "offline"
"""The model name the offline model reports in every response."""

Responder = Callable[[list[dict[str, Any]], dict[str, Any]], Any]
"""``fn(messages, request) -> str | dict | BaseModel``: see the module docstring."""

_responders: dict[str, Responder] = {}


def register(purpose: str, fn: Responder) -> Responder:
    """Teach every offline model how to answer requests with ``purpose``.

    Args:
        purpose: the ``X-Cogpipe-Purpose`` value, e.g. ``"input_v1.analyse"``, or a node
            kind (``"input_v1"``) to answer all of that kind's purposes.
        fn: the responder; a later registration for the same purpose replaces it.

    Returns:
        ``fn``, so this also works as a plain decorator helper.
    """
    _responders[purpose] = fn
    return fn


def unregister(purpose: str) -> None:
    """Forget the responder for ``purpose`` (no error if there is none)."""
    _responders.pop(purpose, None)


def offline_responder(purpose: str) -> Callable[[Responder], Responder]:
    """Decorator form of :func:`register`: ``@offline_responder("output_v1.answer")``."""
    return lambda fn: register(purpose, fn)


def _text_of(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _text_of(message)
    return _text_of(messages[-1]) if messages else ""


def _snippet(text: str, limit: int = 120) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``limit`` chars."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def _count_tokens(text: str) -> int:
    """A deterministic token estimate: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


class OfflineModel:
    """A deterministic OpenAI chat-completions "brain" served in-process.

    Args:
        responders: responders for this instance only, by purpose; they take
            precedence over the module-wide registry (:func:`register`).
        chunk_delay_s: pause between streamed chunks in seconds, so the HUD shows
            streaming (0 for tests that only need the result).
        call_delay_s: pause before every answer's first byte in seconds, as a real
            model takes to read the prompt (0: none).
    """

    model_name = MODEL_NAME

    def __init__(
        self,
        responders: Mapping[str, Responder] | None = None,
        chunk_delay_s: float = 0.004,
        call_delay_s: float = 0.0,
    ) -> None:
        self.responders: dict[str, Responder] = dict(responders or {})
        self.chunk_delay_s = chunk_delay_s
        self.call_delay_s = call_delay_s

    def responder_for(self, purpose: str | None) -> Responder | None:
        """Return the responder for ``purpose`` (exact, then its node kind), or ``None``."""
        if not purpose:
            return None
        for key in (purpose, purpose.split(".", 1)[0]):
            fn = self.responders.get(key) or _responders.get(key)
            if fn is not None:
                return fn
        return None

    def respond(
        self,
        request: dict[str, Any],
        purpose: str | None,
        hints: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer one chat-completions request body with a full ``chat.completion`` body.

        Args:
            request: the request JSON (``model``, ``messages``, optional ``tools``,
                ``response_format``, ...), in any structured-output or tool mode.
            purpose: the ``X-Cogpipe-Purpose`` header value, or ``None``.
            hints: the ``X-Cogpipe-Hints`` header's object, given to responders as
                ``request["hints"]``.

        Returns:
            A ``chat.completion`` object with ``usage``, as OpenAI returns it.

        Raises:
            Whatever a registered responder raises.
        """
        native = {**from_prompt_protocol(request), "hints": dict(hints or {})}
        fn = self.responder_for(purpose)
        result = fn(native["messages"], native) if fn is not None else self.fallback(native)
        return self.completion(result, request)

    def fallback(self, request: dict[str, Any]) -> Any:
        """The answer when no responder matches: schema sample, or a short text."""
        text = _snippet(_last_user_text(request.get("messages") or []))
        fmt = request.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            return sample_for_schema(fmt.get("json_schema", {}).get("schema", {}), text)
        if fmt.get("type") == "json_object":
            return {"text": text}
        return (
            f'(offline model) You said: "{text}". No LLM endpoint is configured; '
            "set COGPIPE_LLM_BASE_URL to use a real model."
        )

    def completion(self, result: Any, request: dict[str, Any]) -> dict[str, Any]:
        """Wrap a responder result (``str``, ``dict``, model, or ``{"tool_calls": [...]}``)
        into a ``chat.completion`` body for ``request``."""
        message: dict[str, Any] = {"role": "assistant", "content": None}
        finish = "stop"
        if isinstance(result, BaseModel):
            result = result.model_dump(mode="json")
        if isinstance(result, dict) and "tool_calls" in result and _prompt_tools(request):
            shown = [
                {"name": c["name"], "arguments": c.get("arguments", {})}
                for c in result["tool_calls"]
            ]
            message["content"] = json.dumps({"tool_calls": shown}, ensure_ascii=False)
        elif isinstance(result, dict) and "tool_calls" in result:
            message["content"] = result.get("content")
            message["tool_calls"] = [_tool_call(i, c) for i, c in enumerate(result["tool_calls"])]
            finish = "tool_calls"
        elif isinstance(result, str):
            message["content"] = result
        else:
            message["content"] = json.dumps(result, ensure_ascii=False)
        messages = request.get("messages") or []
        calls = message.get("tool_calls")
        out = (message["content"] or "") + (json.dumps(calls) if calls else "")
        # about 3 tokens of framing per message, as OpenAI's chat format costs
        tokens_in = sum(_count_tokens(_text_of(m)) + 3 for m in messages)
        tokens_out = _count_tokens(out)
        prompt = json.dumps(messages, ensure_ascii=False, sort_keys=True)
        digest = hashlib.sha256((prompt + out).encode()).hexdigest()[:16]
        return {
            "id": f"chatcmpl-offline-{digest}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": MODEL_NAME,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
            "usage": {
                "prompt_tokens": tokens_in,
                "completion_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            },
        }

    def chunks(
        self, completion: dict[str, Any], include_usage: bool = True
    ) -> list[dict[str, Any]]:
        """Split a ``chat.completion`` body into ``chat.completion.chunk`` objects.

        The content goes out word by word (each chunk one word plus its trailing
        space), tool calls one per chunk, then a chunk with ``finish_reason`` and, when
        ``include_usage``, a final chunk with empty ``choices`` and the ``usage``.
        """
        head = {k: completion[k] for k in ("id", "created", "model")}
        head["object"] = "chat.completion.chunk"
        choice = completion["choices"][0]
        message = choice["message"]
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": w} for w in re.findall(r"\s*\S+\s*|\s+", message["content"] or "")]
        deltas += [
            {"tool_calls": [{"index": i, **call}]}
            for i, call in enumerate(message.get("tool_calls") or [])
        ]
        out = [
            {**head, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
        ]
        out.append(
            {
                **head,
                "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}],
            }
        )
        if include_usage:
            out.append({**head, "choices": [], "usage": completion["usage"]})
        return out

    async def sse(
        self, completion: dict[str, Any], include_usage: bool = True
    ) -> AsyncIterator[bytes]:
        """Yield the server-sent-event lines of a streamed ``completion``, pausing
        ``chunk_delay_s`` between chunks, ending with ``data: [DONE]``."""
        for i, chunk in enumerate(self.chunks(completion, include_usage)):
            if i and self.chunk_delay_s > 0:
                await anyio.sleep(self.chunk_delay_s)
            yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def transport(self) -> httpx2.MockTransport:
        """Return an ``httpx2`` transport that serves this model in-process (streaming
        bodies are produced lazily, so chunks reach the client one by one)."""
        return httpx2.MockTransport(self.handle)

    async def handle(self, request: httpx2.Request) -> httpx2.Response:
        """Serve one HTTP request: chat completions, the model list, or a 4xx/5xx error
        body in OpenAI's ``{"error": {...}}`` shape."""
        path = request.url.path
        if request.method == "GET" and path.endswith("/models"):
            return httpx2.Response(
                200,
                json={
                    "object": "list",
                    "data": [
                        {"id": MODEL_NAME, "object": "model", "created": 0, "owned_by": "cogpipe"}
                    ],
                },
            )
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return _error(
                404,
                f"the offline model serves POST /v1/chat/completions and "
                f"GET /v1/models, not {request.method} {path}",
            )
        try:
            body = json.loads(request.content)
        except ValueError as exc:
            return _error(400, f"request body is not JSON: {exc}")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "request body needs a 'messages' list")
        purpose = request.headers.get("x-cogpipe-purpose")
        if self.call_delay_s > 0:
            await anyio.sleep(self.call_delay_s)
        try:
            hints = json.loads(request.headers.get("x-cogpipe-hints") or "{}")
        except ValueError as exc:
            return _error(400, f"the X-Cogpipe-Hints header is not JSON: {exc}")
        try:
            completion = self.respond(body, purpose, hints)
        except Exception as exc:
            return _error(
                500,
                f"offline responder for purpose '{purpose}' raised {type(exc).__name__}: {exc}",
                retry=False,
            )
        if not body.get("stream"):
            return httpx2.Response(200, json=completion)
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=self.sse(completion, usage)
        )


def _prompt_tools(request: Mapping[str, Any]) -> bool:
    """Whether ``request`` offers tools by the prompt protocol (no native ``tools``)."""
    messages = request.get("messages") or []
    first = messages[0] if messages else {}
    content = first.get("content") if first.get("role") == "system" else None
    return not request.get("tools") and isinstance(content, str) and TOOLS_HEADING in content


def _tool_call(index: int, call: Mapping[str, Any]) -> dict[str, Any]:
    args = call.get("arguments", {})
    return {
        "id": call.get("id") or f"call_offline_{index}",
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": args if isinstance(args, str) else json.dumps(args),
        },
    }


def _error(status: int, message: str, retry: bool | None = None) -> httpx2.Response:
    headers = {} if retry is None else {"x-should-retry": str(retry).lower()}
    return httpx2.Response(
        status,
        headers=headers,
        json={"error": {"message": message, "type": "offline_error", "param": None, "code": None}},
    )
