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
from typing import TYPE_CHECKING, Any, Literal

import anyio
import httpx2
from openai import APIConnectionError, APIStatusError, APITimeoutError, AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .completions import OpenAIHandle
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

DEFAULT_MODELS = {"fast": "gpt-4o-mini", "smart": "gpt-4o", "default": "gpt-4o-mini"}
DEFAULT_MAX_TOKENS = 1024
"""The ``max_tokens`` of a call whose purpose and node kind have no entry of their own."""

_OFFLINE_URL = "http://offline.cogpipe.invalid/v1"

# The modes of each setting, from the most to the least the endpoint must support.
_STEPS: dict[Setting, tuple[str, ...]] = {
    "structured_output": ("json_schema", "json_object", "prompt"),
    "tool_calls": ("native", "prompt"),
}


class LLMConfig(BaseModel):
    """Where the LLM lives, what the model aliases mean, and how calls behave.

    Attributes:
        base_url: an OpenAI-compatible endpoint ending in ``/v1``; ``None`` selects the
            built-in offline model.
        api_key: the endpoint's key (``None``: no key; local servers need none).
        models: alias -> real model name (``{"fast": "gpt-4o-mini"}``); graph YAML uses
            the aliases, and a name that is no alias is sent as it is.
        structured_output: how structured answers are asked for: ``json_schema``
            (``response_format`` with the schema, strict where possible),
            ``json_object`` (``response_format: {"type": "json_object", "schema"}`` plus
            the schema in the prompt), ``prompt`` (the schema in the prompt only), or
            ``auto``: ``json_schema``, stepping down when the endpoint rejects it.
        tool_calls: ``native`` (OpenAI ``tools=``), ``prompt`` (tools described in the
            system prompt, see :mod:`~cogpipe.engine.protocol`), or ``auto``: native,
            stepping down when the endpoint rejects ``tools``.
        connect_timeout_s: seconds to open a connection to the endpoint.
        first_token_timeout_s: seconds to wait for the answer's first byte (a
            non-streamed answer arrives whole, so this bounds its generation) and, in a
            stream, for each next chunk.
        call_timeout_s: seconds one handle call may take, all attempts and back-off
            included.
        max_retries: extra attempts after a connection error, HTTP 408/409/429/5xx, a
            body that is not JSON or broke off (back-off honours ``Retry-After``).
        timeout_retries: extra attempts after an attempt got no first byte in time; the
            timed-out request is closed first. Each waits ``first_token_timeout_s``
            again, so a hung endpoint fails after (1 + this) times that.
        max_tokens: ``max_tokens`` per purpose (``output_v1.answer``) or node kind
            (``output_v1``); ``default`` for everything else.
        offline_call_s: the offline model's pause before every answer, seconds.
        offline_tokens_per_s: the offline model's streaming pace (one chunk is about
            a word); 0: no pause. The defaults make tests fast; a person watching the
            HUD wants about 0.5 s and 20 tokens/s (``make run`` sets them).
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
    structured_output: Literal["auto", "json_schema", "json_object", "prompt"] = Field(
        "auto",
        description="json_schema, json_object or prompt; auto: json_schema, stepping down "
        "when the endpoint rejects it",
    )
    tool_calls: Literal["auto", "native", "prompt"] = Field(
        "auto",
        description="native (tools=) or prompt (tools in the system prompt); auto: native, "
        "stepping down when the endpoint rejects tools",
    )
    connect_timeout_s: float = Field(10, gt=0, description="seconds to open a connection")
    first_token_timeout_s: float = Field(
        30,
        gt=0,
        description="seconds to wait for the first byte of an answer, and for each next "
        "chunk of a stream",
    )
    call_timeout_s: float = Field(
        120, gt=0, description="seconds one LLM call may take, retries included"
    )
    max_retries: int = Field(
        2,
        ge=0,
        description="retries after connection errors, 408/409/429/5xx answers, bodies that "
        "are not JSON or broke off",
    )
    timeout_retries: int = Field(
        0, ge=0, description="retries after an attempt got no first byte in time"
    )
    max_tokens: dict[str, int] = Field(
        default_factory=lambda: {"default": DEFAULT_MAX_TOKENS},
        description="max_tokens by purpose or node kind; 'default' for the rest",
    )

    offline_call_s: float = Field(
        0, ge=0, le=60, description="offline model only: seconds before every answer"
    )
    offline_tokens_per_s: float = Field(
        250, ge=0, description="offline model only: streamed tokens per second (0: no pause)"
    )

    @model_validator(mode="before")
    @classmethod
    def _timeout_s_alias(cls, data: Any) -> Any:
        """``timeout_s`` (before issue 12) is kept as a deprecated name of
        ``first_token_timeout_s``, its nearest meaning."""
        if isinstance(data, dict) and "timeout_s" in data:
            data = dict(data)
            value = data.pop("timeout_s")
            data.setdefault("first_token_timeout_s", value)
            log.warning(
                "llm.timeout_s (COGPIPE_LLM_TIMEOUT_S) is deprecated: it sets "
                "first_token_timeout_s; see docs/config.md for the three time limits"
            )
        return data

    @field_validator("models", mode="after")
    @classmethod
    def _keep_default_aliases(cls, models: dict[str, str]) -> dict[str, str]:
        """Aliases not given keep their default names (``fast``, ``smart``, ``default``)."""
        return {**DEFAULT_MODELS, **models}

    @field_validator("max_tokens", mode="after")
    @classmethod
    def _positive_with_default(cls, limits: dict[str, int]) -> dict[str, int]:
        """Every limit is positive; ``default`` is always there."""
        bad = [k for k, v in limits.items() if v < 1]
        if bad:
            raise ValueError(f"max_tokens must be at least 1; not so for {', '.join(bad)}")
        return {"default": DEFAULT_MAX_TOKENS, **limits}

    def resolve(self, model: str) -> str:
        """Return the real model name for an alias, or ``model`` itself."""
        return self.models.get(model, model)

    def tokens_for(self, purpose: str, kind: str) -> int:
        """Return the ``max_tokens`` for a call: by ``purpose``, its node kind (the part
        before the first dot, then ``kind``), else ``default``."""
        for key in (purpose, purpose.split(".", 1)[0], kind):
            if key in self.max_tokens:
                return self.max_tokens[key]
        return self.max_tokens["default"]


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
