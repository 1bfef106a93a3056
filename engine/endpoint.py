"""Where the LLM lives and how calls to it behave: :class:`LLMConfig`.

Kept apart from :mod:`~cogpipe.engine.llm` (the client) so that reading settings does not
import the ``openai`` SDK. Every field is a setting (``COGPIPE_LLM_<FIELD>``, the config
file's ``llm:`` section; see ``docs/config.md``).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_MODELS", "LLMConfig"]

log = logging.getLogger(__name__)

DEFAULT_MODELS = {"fast": "gpt-4o-mini", "smart": "gpt-4o", "default": "gpt-4o-mini"}
DEFAULT_MAX_TOKENS = 1024
"""The ``max_tokens`` of a call whose purpose and node kind have no entry of their own."""


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
        send_hints: send every call's ``hints`` to the endpoint too (header
            ``X-Cogpipe-Hints``), for an endpoint that is cogpipe's offline model served
            over HTTP (the tests' OpenAI-compatible server); a real model has no use
            for them. The built-in offline model always gets them.
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
    send_hints: bool = Field(
        False,
        description="send calls' hints to the endpoint (X-Cogpipe-Hints): only for "
        "cogpipe's offline model served over HTTP",
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
