"""A seeded model whose answers are valid for what was asked but otherwise arbitrary.

:class:`RandomModel` replaces the offline model behind the OpenAI test server
(``openai_server.use(RandomModel(seed=1))``). It answers like a model nobody tuned
cogpipe to:

* structured requests (``response_format`` ``json_schema`` or ``json_object`` with a
  schema, or the prompt protocol's schema) with a random instance of the schema, drawn by
  ``hypothesis-jsonschema``; at ``invalid_rate`` an instance missing a required field
  (or of the wrong type), at ``non_json_rate`` text that is not JSON;
* requests offering tools (``tools=`` or the prompt tool protocol), at
  ``tool_call_rate``, with 1 to ``max_calls`` tool calls: mostly valid for the tool's
  ``parameters``, at ``unknown_tool_rate`` naming a tool that does not exist, at
  ``bad_arguments_rate`` with arguments invalid for the schema, at
  ``unparseable_arguments_rate`` with an argument string that is not JSON;
* everything else (and tool requests it does not call tools for) with random words,
  numbers and capitalised names, streamed word by word when asked to stream.

Everything follows from ``seed``: the same requests in the same order get the same
answers. Instances are drawn with Hypothesis' engine outside ``@given`` (hence the pinned
``hypothesis`` version in pyproject.toml); each schema keeps a pool of ``pool_size``
instances, drawn once and then reused at random, because one draw costs 20-70 ms.
Schemas are tamed before drawing, without making any valid answer invalid: objects get
no extra keys, free strings at most 24 characters, arrays at most 4 items.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cogpipe.engine.offline import OfflineModel
from cogpipe.engine.protocol import from_prompt_protocol

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["RandomModel"]

_VOCABULARY = (
    "the a of and to in is it that for on with as was at by be this from or an are "
    "customers orders Berlin Paris revenue total device sensor status report month "
    "yes no maybe because however which there their about between more less"
)
_WORDS = _VOCABULARY.split()
_NAMES = ["Mars", "Acme", "Zephyr", "Quill", "Orion", "Lumen", "Berlin", "Month", "Paris"]
_NON_JSON = [
    "I am sorry, I cannot help with that.",
    'Here is the JSON you asked for: {"unfinished": ',
    "```json\n{not: json}\n```",
    "",
]
_UNKNOWN_TOOLS = ["product", "sql", "Mars", "search", "lookup_all", "run"]


class RandomModel(OfflineModel):
    """Seeded, schema-valid-but-arbitrary answers (see the module docstring).

    Args:
        seed: the seed of every random choice.
        invalid_rate: share of structured answers that are invalid for the schema.
        non_json_rate: share of structured answers that are not JSON at all.
        tool_call_rate: share of tool-offering requests answered with tool calls.
        unknown_tool_rate: share of tool calls naming a tool that was not offered.
        bad_arguments_rate: share of tool calls whose arguments break the schema.
        unparseable_arguments_rate: share of tool calls whose arguments are not JSON.
        max_calls: most tool calls in one answer.
        words: fewest and most words of a text answer.
        pool_size: instances drawn per schema before they are reused.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        invalid_rate: float = 0.1,
        non_json_rate: float = 0.05,
        tool_call_rate: float = 0.7,
        unknown_tool_rate: float = 0.1,
        bad_arguments_rate: float = 0.1,
        unparseable_arguments_rate: float = 0.05,
        max_calls: int = 3,
        words: tuple[int, int] = (1, 40),
        pool_size: int = 32,
    ) -> None:
        super().__init__(chunk_delay_s=0.0)
        self.random = random.Random(seed)
        self.invalid_rate, self.non_json_rate = invalid_rate, non_json_rate
        self.tool_call_rate, self.unknown_tool_rate = tool_call_rate, unknown_tool_rate
        self.bad_arguments_rate = bad_arguments_rate
        self.unparseable_arguments_rate = unparseable_arguments_rate
        self.max_calls, self.words, self.pool_size = max_calls, words, pool_size
        self._strategies: dict[str, SearchStrategy[Any]] = {}
        self._pools: dict[str, list[Any]] = {}

    def respond(
        self,
        request: dict[str, Any],
        purpose: str | None,
        hints: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Answer ``request`` at random (``purpose`` and ``hints`` are ignored)."""
        native = from_prompt_protocol(request)
        fmt = native.get("response_format") or {}
        schema = (fmt.get("json_schema") or {}).get("schema")
        if isinstance(schema, dict):
            result: Any = self.structured(schema)
        elif native.get("tools") and self.random.random() < self.tool_call_rate:
            result = {"tool_calls": self.tool_calls(native["tools"])}
        else:
            result = self.text()
        return self.completion(result, request)

    def structured(self, schema: dict[str, Any]) -> Any:
        """A random answer for ``schema``: valid, invalid, or not JSON (a ``str``)."""
        roll = self.random.random()
        if roll < self.non_json_rate:
            return self.random.choice(_NON_JSON)
        value = self.instance(schema)
        return (
            _corrupt(value, schema, self.random)
            if roll < self.non_json_rate + self.invalid_rate
            else value
        )

    def tool_calls(self, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """1 to ``max_calls`` random calls of the offered function ``tools``."""
        calls = []
        for _ in range(self.random.randint(1, self.max_calls)):
            fn = self.random.choice(tools)["function"]
            params = fn.get("parameters") or {"type": "object", "properties": {}}
            roll = self.random.random()
            name, args = fn["name"], self.instance(params)
            if roll < self.unknown_tool_rate:
                name = self.random.choice(_UNKNOWN_TOOLS)
            elif (roll := roll - self.unknown_tool_rate) < self.bad_arguments_rate:
                args = _corrupt(args, params, self.random)
            elif roll - self.bad_arguments_rate < self.unparseable_arguments_rate:
                args = json.dumps(args)[:-1] + ","  # cut off: not JSON
            calls.append({"name": name, "arguments": args})
        return calls

    def text(self) -> str:
        """Random words, numbers and capitalised names."""
        out = []
        for _ in range(self.random.randint(*self.words)):
            roll = self.random.random()
            if roll < 0.1:
                out.append(str(self.random.randint(0, 5000)))
            elif roll < 0.2:
                out.append(self.random.choice(_NAMES))
            else:
                out.append(self.random.choice(_WORDS))
        return " ".join(out)

    def instance(self, schema: dict[str, Any]) -> Any:
        """A random instance valid for ``schema`` (from the schema's pool)."""
        key = json.dumps(schema, sort_keys=True)
        pool = self._pools.setdefault(key, [])
        if len(pool) >= self.pool_size:
            return self.random.choice(pool)
        strategy = self._strategies.get(key)
        if strategy is None:
            # imported here: hypothesis reads its unicode tables on import, which pytest
            # forbids while plugins (this module, through openai_server) are loading
            from hypothesis_jsonschema import from_schema

            strategy = self._strategies[key] = from_schema(_tame(schema))
        value = _draw(strategy, self.random)
        pool.append(value)
        return value


def _draw(strategy: SearchStrategy[Any], rnd: random.Random) -> Any:
    """Draw one value with Hypothesis' engine, seeded by ``rnd``, outside ``@given``."""
    from hypothesis.control import BuildContext
    from hypothesis.errors import StopTest
    from hypothesis.internal.conjecture.data import ConjectureData

    for _ in range(20):  # a draw that overruns the engine's budget is simply redone
        data = ConjectureData(random=random.Random(rnd.getrandbits(64)))
        with BuildContext(data, is_final=True, wrapped_test=_draw):
            try:
                return data.draw(strategy)
            except StopTest:
                continue
    raise RuntimeError("hypothesis-jsonschema could not draw an instance in 20 tries")


_MAPS = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SUBS = ("items", "additionalProperties", "not", "contains", "if", "then", "else")
_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def _tame(node: Any) -> Any:
    """Bound the sizes the schema leaves open; every instance stays valid for the original."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in _MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _tame(sub) for name, sub in out[key].items()}
    for key in _SUBS:
        if key in out:
            out[key] = _tame(out[key])
    for key in _LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_tame(sub) for sub in out[key]]
    kind = out.get("type")
    if (kind == "object" or "properties" in out) and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if kind == "string" and not {"enum", "const", "format", "pattern", "maxLength"} & set(out):
        out["maxLength"] = max(24, out.get("minLength", 0))
    if kind == "array" and "maxItems" not in out:
        out["maxItems"] = max(4, out.get("minItems", 0))
    return out


def _corrupt(value: Any, schema: dict[str, Any], rnd: random.Random) -> Any:
    """Make ``value`` invalid for ``schema``: drop a required key, or change its type."""
    required = [k for k in schema.get("required", []) if isinstance(value, dict) and k in value]
    if required:
        dropped = rnd.choice(required)
        return {k: v for k, v in value.items() if k != dropped}
    return [value]  # an object schema never accepts an array
