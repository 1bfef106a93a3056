"""The purposes of the built-in nodes' LLM calls, as shared constants.

A purpose names one task of one node kind (``"<kind>.<task>"``). The LLM client sends
it with every request (trace events show it; the offline model picks its answer by it),
so the node that asks and the offline responder that answers import the same constant
instead of repeating a string.
"""

from __future__ import annotations

__all__ = [
    "ANALYSE",
    "ANSWER",
    "EXTRACT",
    "GUIDE",
    "PLAN",
    "STRATEGY",
    "SUMMARISE",
    "SUMMARISE_MEMORY",
    "THINK",
]

ANALYSE = "input_v1.analyse"
"""input_v1: classify a message (structured ``Analysis``)."""
GUIDE = "director_v1.plan"
"""director_v1: a short plan in prose for thinker_v1."""
STRATEGY = "director_strategy_v1.update"
"""director_strategy_v1: the one-line strategy after a turn."""
PLAN = "director_v2.plan"
"""director_v2: the tool plan (structured, built per turn from the listed tools)."""
THINK = "thinker_v1.think"
"""thinker_v1: one round of reasoning with function calling."""
SUMMARISE = "interpreter_v1.summarise"
"""interpreter_v1: a summary of tool results."""
ANSWER = "output_v1.answer"
"""output_v1: the user-facing answer (streamed)."""
EXTRACT = "memorizer_v1.extract"
"""memorizer_v1: what an exchange teaches about the user (structured ``MemoryNote``)."""
SUMMARISE_MEMORY = "memorizer_v1.summarise"
"""memorizer_v1: the rolling summary of older turns."""
