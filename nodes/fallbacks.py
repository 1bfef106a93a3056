"""What a node does when the model gave no usable answer.

The LLM client re-asks once when an answer is invalid for its schema, repeats its own
schema descriptions or the prompt, or is cut off (``engine.completions``); after that it
raises :data:`MODEL_FAULTS`. Those are the model's faults, not the endpoint's: each
built-in node then uses its documented fallback (a safe analysis, no plan, the data
summary, the draft, nothing learnt) and says so with a ``fallback.used`` event
``{"purpose", "error_kind", "reason", "fallback"}``. Failures of the endpoint itself
(cannot connect, time limits, HTTP errors, broken responses) still fail the node.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from cogpipe.engine.errors import LLMError, LLMInvalidOutputError, LLMTruncatedError
from cogpipe.engine.node import RunContext

__all__ = ["MODEL_FAULTS", "answer_or_none", "fell_back"]

T = TypeVar("T")

MODEL_FAULTS = (LLMInvalidOutputError, LLMTruncatedError)
"""The LLM errors a node answers with its fallback instead of failing."""


async def answer_or_none(
    ctx: RunContext, purpose: str, fallback: str, call: Awaitable[T]
) -> T | None:
    """Await ``call`` (the node's LLM call for ``purpose``) and return its answer; on one
    of :data:`MODEL_FAULTS`, emit ``fallback.used`` naming ``fallback`` and return
    ``None`` (other errors propagate and fail the node)."""
    try:
        return await call
    except MODEL_FAULTS as exc:
        fell_back(ctx, purpose, exc, fallback)
        return None


def fell_back(ctx: RunContext, purpose: str, error: LLMError | str, fallback: str) -> None:
    """Emit ``fallback.used``: ``purpose``'s call failed with ``error`` (an LLM error,
    or the reason the node refused the answer itself) and the node goes on with
    ``fallback`` (a few words naming what it used instead)."""
    kind, reason = (
        (error.error_kind, error.message)
        if isinstance(error, LLMError)
        else ("invalid_output", error)
    )
    ctx.emit(
        "fallback.used",
        {"purpose": purpose, "error_kind": kind, "reason": reason, "fallback": fallback},
    )
