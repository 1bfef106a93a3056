"""LLM access for nodes: one OpenAI chat-completions client, one traced handle per node run.

Nodes reach it as ``ctx.llm``, an :class:`~cogpipe.engine.handles.LLMHandle` (re-exported
here with ``ChatReply``, ``ToolCall`` and ``response_format``). The client speaks the OpenAI
chat-completions protocol through the ``openai`` SDK, so any compatible endpoint
works (OpenAI, vLLM, Ollama, llama.cpp server). With no endpoint configured
(``base_url=None``) the same SDK code path runs against the in-process
:class:`~engine.offline.OfflineModel`.

Every call emits ``llm.request`` and then ``llm.response`` or ``llm.failed`` on the
node's trace, and sends its purpose (``"output_v1.answer"``) as the HTTP header
``X-Cogpipe-Purpose``. Failures raise :class:`~engine.errors.LLMError`. Usage:
``async with LLMClient(settings.llm) as llm: Runtime(catalog, llm=llm)``.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any

import httpx2
from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncOpenAI,
    OpenAIError,
)
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .completions import OpenAIHandle
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
    "response_format",
]

DEFAULT_MODELS = {"fast": "gpt-4o-mini", "smart": "gpt-4o", "default": "gpt-4o-mini"}
_OFFLINE_URL = "http://offline.cogpipe.invalid/v1"
# What to check, by HTTP status, appended to LLMError messages.
_HINTS = {
    401: "; check COGPIPE_LLM_API_KEY",
    403: "; check COGPIPE_LLM_API_KEY",
    404: "; check the model name (COGPIPE_MODEL_*) and that COGPIPE_LLM_BASE_URL ends in /v1",
}


class LLMConfig(BaseModel):
    """Where the LLM lives and what the model aliases mean.

    Attributes:
        base_url: an OpenAI-compatible endpoint ending in ``/v1``; ``None`` selects the
            built-in offline model.
        api_key: the endpoint's key (``None``: no key; local servers need none).
        models: alias -> real model name (``{"fast": "gpt-4o-mini"}``); graph YAML uses
            the aliases, and a name that is no alias is sent as it is.
        timeout_s: seconds one HTTP attempt may wait for data before it fails.
        max_retries: extra attempts after a connection error, timeout, 408/409/429 or
            5xx answer (the SDK's exponential back-off, honouring ``Retry-After``).
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint ending in /v1 (unset: the offline model)"
    )
    api_key: str | None = Field(None, repr=False, description="the endpoint's API key")
    models: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_MODELS),
        description="model alias -> real model name (graphs name aliases)",
    )
    timeout_s: float = Field(60, gt=0, description="seconds one HTTP attempt may wait for data")
    max_retries: int = Field(
        2, ge=0, description="retries after connection errors, timeouts, 429 and 5xx answers"
    )

    @field_validator("models", mode="after")
    @classmethod
    def _keep_default_aliases(cls, models: dict[str, str]) -> dict[str, str]:
        """Aliases not given keep their default names (``fast``, ``smart``, ``default``)."""
        return {**DEFAULT_MODELS, **models}

    def resolve(self, model: str) -> str:
        """Return the real model name for an alias, or ``model`` itself."""
        return self.models.get(model, model)


class LLMClient:
    """The LLM service: one ``openai.AsyncOpenAI`` for the process, opened with ``async with``.

    Args:
        config: endpoint, key, model aliases, timeout, retries.
        offline: the offline model to serve when ``config.base_url`` is ``None``
            (default: a fresh :class:`OfflineModel`); ignored otherwise.
    """

    def __init__(self, config: LLMConfig, offline: OfflineModel | None = None) -> None:
        self.config = config
        self.offline = (offline or OfflineModel()) if config.base_url is None else None
        self._openai: AsyncOpenAI | None = None
        self._stack: AsyncExitStack | None = None

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
        self._openai = await stack.enter_async_context(
            AsyncOpenAI(
                api_key=self.config.api_key or "unset",
                base_url=self.config.base_url or _OFFLINE_URL,
                timeout=self.config.timeout_s,
                max_retries=self.config.max_retries,
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

    def info(self) -> dict[str, Any]:
        """Describe the active model for ``/api/health`` and the HUD (never the key):
        ``{"mode": "offline"|"remote", "base_url", "models": {alias: name}, "timeout_s",
        "max_retries"}``; offline, every alias maps to ``"offline"``."""
        cfg, offline = self.config, self.offline is not None
        models = dict.fromkeys(cfg.models, MODEL_NAME) if offline else dict(cfg.models)
        return {
            "mode": "offline" if offline else "remote",
            "base_url": cfg.base_url,
            "models": models,
            "timeout_s": cfg.timeout_s,
            "max_retries": cfg.max_retries,
        }

    def explain(self, exc: OpenAIError, where: str) -> str:
        """Say what went wrong with the endpoint and what to check, as one message.

        Args:
            exc: the SDK's error (raised after its retries).
            where: which call failed, e.g. ``"LLM call (complete) for model 'x' at ..."``.
        """
        cfg = self.config
        tries = f" after {cfg.max_retries + 1} attempts" if cfg.max_retries else ""
        if isinstance(exc, APITimeoutError):
            return (
                f"{where} timed out{tries} (timeout_s={cfg.timeout_s:g}); the endpoint "
                "is overloaded or unreachable: check it or raise COGPIPE_LLM_TIMEOUT_S"
            )
        if isinstance(exc, APIConnectionError):
            return (
                f"{where} could not connect{tries}: {exc.__cause__ or exc}; check that "
                "the server is running and COGPIPE_LLM_BASE_URL points at it"
            )
        if isinstance(exc, APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            text = body.get("message") or exc.message
            retried = exc.response.headers.get("x-should-retry") != "false" and (
                exc.status_code >= 500 or exc.status_code in (408, 409, 429)
            )
            hint = _HINTS.get(exc.status_code, "")
            return f"{where} got HTTP {exc.status_code}{tries if retried else ''}: {text}{hint}"
        return f"{where} failed: {type(exc).__name__}: {exc}"

    def bind(self, ctx: RunContext) -> OpenAIHandle:
        """Return the handle for one node run (the ``Service`` protocol of engine.handles)."""
        return OpenAIHandle(self, ctx)
