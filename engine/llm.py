"""LLM access for nodes: one OpenAI chat-completions client, one traced handle per node run.

Nodes reach it as ``ctx.llm``, an :class:`~cogpipe.engine.handles.LLMHandle` (re-exported
here with ``ChatReply``, ``ToolCall``, ``echoes_prompt`` and ``response_format``). The
client speaks the OpenAI chat-completions protocol through the ``openai`` SDK, so any
compatible endpoint works (OpenAI, vLLM, Ollama, llama.cpp server, llama-cpp-python;
``docs/models.md`` says which settings each needs). With no endpoint configured
(``base_url=None``) the same code path runs against the in-process
:class:`~engine.offline.OfflineModel`.

Every HTTP attempt emits ``llm.request`` and then ``llm.response`` or ``llm.failed`` on
the node's trace, and sends its purpose (``"output_v1.answer"``) as the HTTP header
``X-Cogpipe-Purpose``. Failures raise :class:`~engine.errors.LLMError` subclasses.
Usage: ``async with LLMClient(settings.llm) as llm: Runtime(catalog, llm=llm)``.
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import anyio
import httpx2
from openai import APIConnectionError, APIStatusError, APITimeoutError, AsyncOpenAI

from .completions import OpenAIHandle
from .endpoint import LLMConfig
from .exchange import Setting
from .guards import echoes_prompt
from .handles import ChatReply, LLMHandle, Messages, ToolCall
from .offline import MODEL_NAME, OfflineModel
from .schemas import response_format

if TYPE_CHECKING:
    from .node import RunContext

__all__ = [
    "ChatReply",
    "LLMClient",
    "LLMConfig",
    "LLMHandle",
    "Messages",
    "ToolCall",
    "echoes_prompt",
    "response_format",
]

log = logging.getLogger(__name__)

_OFFLINE_URL = "http://offline.cogpipe.invalid/v1"

# The modes of each setting, from the most to the least the endpoint must support.
_STEPS: dict[Setting, tuple[str, ...]] = {
    "structured_output": ("json_schema", "json_object", "prompt"),
    "tool_calls": ("native", "prompt"),
}


def _offline_model(config: LLMConfig) -> OfflineModel:
    """The offline model at the configured pace."""
    tps = config.offline_tokens_per_s
    return OfflineModel(chunk_delay_s=1 / tps if tps > 0 else 0, call_delay_s=config.offline_call_s)


class LLMClient:
    """The LLM service: one ``openai.AsyncOpenAI`` for the process, opened with ``async with``.

    The SDK does no retries of its own (``max_retries=0``): every attempt is made,
    timed and traced by :class:`~cogpipe.engine.completions.OpenAIHandle`. The client
    remembers, per model, the structured-output and tool-call modes an endpoint
    accepted (``auto`` settings step down once per rejection, for the client's life).

    Args:
        config: endpoint, key, model aliases, modes, time limits, retries.
        offline: the offline model to serve when ``config.base_url`` is ``None``
            (default: one at the configured ``offline_*`` pace); ignored otherwise.
    """

    def __init__(self, config: LLMConfig, offline: OfflineModel | None = None) -> None:
        self.config = config
        self.offline = (offline or _offline_model(config)) if config.base_url is None else None
        self._openai: AsyncOpenAI | None = None
        self._stack: AsyncExitStack | None = None
        self._modes: dict[tuple[str, str], str] = {}
        self._probed: dict[str, Any] | None = None
        self._probing = anyio.Lock()

    @property
    def endpoint(self) -> str:
        """The endpoint as shown in messages: its URL, or ``the offline model``."""
        return self.config.base_url or "the offline model"

    async def __aenter__(self) -> LLMClient:
        stack = AsyncExitStack()
        http: httpx2.AsyncClient | None = None
        if self.offline is not None:
            http = await stack.enter_async_context(
                httpx2.AsyncClient(transport=self.offline.transport())
            )
        cfg = self.config
        self._openai = await stack.enter_async_context(
            AsyncOpenAI(
                api_key=cfg.api_key or "unset",
                base_url=cfg.base_url or _OFFLINE_URL,
                timeout=httpx2.Timeout(
                    connect=cfg.connect_timeout_s,
                    read=cfg.first_token_timeout_s,
                    write=cfg.first_token_timeout_s,
                    pool=cfg.connect_timeout_s,
                ),
                max_retries=0,
                http_client=http,
            )
        )
        self._stack = stack
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        stack, self._stack, self._openai = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    @property
    def openai(self) -> AsyncOpenAI:
        """The open SDK client; RuntimeError when the client is not open."""
        if self._openai is None:
            raise RuntimeError("LLMClient is not open; use 'async with LLMClient(config) as llm:'")
        return self._openai

    def mode(self, model: str, setting: Setting) -> str:
        """Return the mode to use for ``model``: the configured one, or for ``auto`` the
        first step (``json_schema``, ``native``) or the one remembered after a step-down."""
        configured = getattr(self.config, setting)
        if configured != "auto":
            return str(configured)
        return self._modes.get((model, setting), _STEPS[setting][0])

    def step_down(self, model: str, setting: Setting) -> tuple[str, str] | None:
        """Move ``model`` to the next mode of an ``auto`` setting and remember it.

        Returns:
            ``(from, to)``, or ``None`` when the setting is not ``auto`` or already at
            its last mode (``prompt``).
        """
        steps, now = _STEPS[setting], self.mode(model, setting)
        if getattr(self.config, setting) != "auto" or now == steps[-1]:
            return None
        self._modes[(model, setting)] = after = steps[steps.index(now) + 1]
        return now, after

    def info(self) -> dict[str, Any]:
        """Describe the active model for ``/api/health`` and the HUD (never the key):
        ``{"mode": "offline"|"remote", "base_url", "models": {alias: name},
        "structured_output", "tool_calls", "connect_timeout_s", "first_token_timeout_s",
        "call_timeout_s", "max_retries"}``; offline, every alias maps to ``"offline"``."""
        cfg, offline = self.config, self.offline is not None
        models = dict.fromkeys(cfg.models, MODEL_NAME) if offline else dict(cfg.models)
        return {
            "mode": "offline" if offline else "remote",
            "base_url": cfg.base_url,
            "models": models,
            **cfg.model_dump(
                include={
                    "structured_output",
                    "tool_calls",
                    "connect_timeout_s",
                    "first_token_timeout_s",
                    "call_timeout_s",
                    "max_retries",
                }
            ),
        }

    async def reachability(self, max_age_s: float = 30.0, timeout_s: float = 2.0) -> dict[str, Any]:
        """Say whether the endpoint answers: ``GET {base_url}/models``, at most once per
        ``max_age_s`` (concurrent callers share one probe).

        Any HTTP answer counts as reachable (a 401 or 404 too: the server is there, and
        ``detail`` says what it answered); no connection or no answer within
        ``timeout_s`` does not. The offline model is always reachable.

        Returns:
            ``{"reachable": bool, "detail": str | None, "checked": unix seconds,
            "latency_ms": float | None}``.
        """
        if self.offline is not None:
            return {"reachable": True, "detail": None, "checked": time.time(), "latency_ms": None}
        async with self._probing:
            last = self._probed
            if last is None or time.time() - last["checked"] >= max_age_s:
                self._probed = last = await self._probe(timeout_s)
        return dict(last)

    async def _probe(self, timeout_s: float) -> dict[str, Any]:
        t0 = time.perf_counter()
        reachable, detail = True, None
        try:
            await self.openai.with_options(timeout=timeout_s, max_retries=0).models.list()
        except APIStatusError as exc:
            detail = f"GET /models answered HTTP {exc.status_code}"
        except APITimeoutError:
            reachable, detail = False, f"no answer within {timeout_s:g} s"
        except APIConnectionError as exc:
            cause = exc.__cause__ or exc
            reachable, detail = False, f"cannot connect: {type(cause).__name__}: {cause}"
        ms = round((time.perf_counter() - t0) * 1000, 1)
        return {"reachable": reachable, "detail": detail, "checked": time.time(), "latency_ms": ms}

    def bind(self, ctx: RunContext) -> OpenAIHandle:
        """Return the handle for one node run (the ``Service`` protocol of engine.handles)."""
        return OpenAIHandle(self, ctx)
