"""Trace events, the HUD's language, and the observer interface.

Every step of a run becomes one immutable :class:`TraceEvent`. The engine hands each
event to every observer synchronously and moves on: an observer must not block (the
built-in ones append to a ring, put on a bounded queue, or hand to a writer thread),
and an observer that raises is logged and skipped, never allowed to fail a run.

Event types (``type``): ``session.started``, ``run.started``, ``run.finished``,
``run.failed``, ``run.cancelled``, ``node.started``, ``node.finished``,
``node.skipped``, ``node.failed``, ``node.cancelled``, ``edge.fired``,
``output.delta``, ``graph.switched``, plus whatever nodes and services emit
(``llm.request``, ``llm.response``, ``llm.failed``, ``llm.mode_changed``,
``tool.started``, ``tool.finished``, ``tool.failed``, ``ui.controls``,
``sensor.flag``, ``memory.updated``). A ``node.failed`` event's ``data`` says whether
the node was ``critical``; a non-critical failure does not end the run.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from pydantic_core import to_json

from .text import clean_json, clean_text, report

__all__ = ["EventBus", "Observer", "TraceEvent", "preview"]

log = logging.getLogger(__name__)

DETAIL_CHARS = 2000
"""The preview size of values the HUD's inspector shows as JSON: a node's inputs and
outputs (``node.started``, ``node.finished``) and a tool call's arguments and result.
Other previews (edges, run outputs) keep :func:`preview`'s default of 200."""


class TraceEvent(NamedTuple):
    """One trace event (immutable).

    Attributes:
        seq: 1, 2, 3, ... per session, never reused, so a client can resume after it.
        ts: wall-clock time of the event, Unix seconds (float, microsecond precision).
        session_id: the session it belongs to.
        run_id: the run it belongs to ('' for session-level events).
        graph: the name of the graph the session was running.
        type: what happened, e.g. ``node.finished``.
        node: node id, for node-level events.
        kind: node kind, for node-level events.
        data: JSON-serialisable details (ports, previews, errors, tokens ...).
        duration_ms: for ``*.finished``/``*.failed`` events, how long the step took.
    """

    seq: int
    ts: float
    session_id: str
    run_id: str
    graph: str
    type: str
    node: str | None = None
    kind: str | None = None
    data: dict[str, Any] | None = None
    duration_ms: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the event as a plain dict (the JSON wire format)."""
        return self._asdict()

    def to_json(self) -> str:
        """Return the event as one line of JSON (non-JSON values become strings).

        Never raises: a value JSON or UTF-8 cannot hold (a lone surrogate, ``NaN``, an
        object whose ``str()`` fails) is repaired (see :mod:`engine.text`) and logged,
        so one bad event cannot stop a writer thread or an event stream.
        """
        try:
            return to_json(self._asdict(), fallback=str, inf_nan_mode="null").decode()
        except Exception:  # the rare bad value: repair it rather than lose the event
            report(f"trace event {self.type}")
            return clean_json(self._asdict()).decode()


class Observer:
    """Receives every trace event. Both hooks do nothing by default.

    ``on_event`` is called on the engine's event loop and must return at once.
    """

    def on_event(self, event: TraceEvent) -> None:
        """Handle one event without blocking."""

    def close(self) -> None:
        """Flush and release resources; called once when the runtime shuts down."""


class EventBus:
    """Fans events out to observers; a failing observer is logged, never propagated."""

    def __init__(self, observers: list[Observer] | None = None) -> None:
        self.observers: list[Observer] = list(observers or [])

    def add(self, observer: Observer) -> None:
        """Start delivering events to ``observer``."""
        self.observers.append(observer)

    def remove(self, observer: Observer) -> None:
        """Stop delivering events to ``observer`` (no error if it is not there)."""
        if observer in self.observers:
            self.observers.remove(observer)

    def publish(self, event: TraceEvent) -> None:
        """Hand ``event`` to every observer in order."""
        for observer in self.observers:
            try:
                observer.on_event(event)
            except Exception:
                log.exception("trace observer %r failed on %s", observer, event.type)


def preview(value: Any, limit: int = 200) -> str:
    """Return a short JSON text of a port value for the HUD (at most ``limit`` chars;
    strings are shown as they are, pydantic models as their JSON data without ``None``
    fields, anything else JSON cannot hold as its ``str()``).

    Events carry previews, not the values themselves: the ring then holds only short
    strings (bounded memory) and a node that mutates a value later cannot rewrite the
    trace. Serialisation is pydantic-core's (five times faster than ``json.dumps`` here).
    Lone surrogates become U+FFFD, so a preview is always valid UTF-8."""
    if type(value) is str:
        text = value
    else:
        try:
            text = to_json(value, exclude_none=True, fallback=str, inf_nan_mode="null").decode()
        except Exception:
            text = clean_json(value, exclude_none=True).decode()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return clean_text(text)
