"""sensor_v1: session-long background checks whose flags reach the next turn."""

from __future__ import annotations

import time
from typing import Any

import anyio
from pydantic import Field

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.session import Session

from .prompts import RETURN_PREFIX
from .ui import dashboard_mismatch

__all__ = ["NAMESPACE", "Sensor"]

NAMESPACE = "sensor"
"""Session state namespace: ``{"pending": [line], "unsent": [flag], "idle_since",
"mismatch": {"detail", "since", "flagged"}}``."""


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


class SensorParams(NodeParams):
    """Parameters of ``Sensor`` (YAML ``params``)."""

    tick_s: float = Field(1.0, gt=0, description="seconds between background checks")
    idle_after_s: float = Field(300.0, gt=0, description="inactivity that counts as idle")
    dashboard_grace_s: float = Field(3.0, ge=0, description="mismatch tolerated, seconds")


class Sensor(Node[SensorParams]):
    """Watch the session in the background and tell the next turn what it noticed.

    ``start()`` ticks every ``tick_s`` seconds for the whole session and raises flags:

    * ``idle``: no activity (``session.updated``, the end of the last turn) for longer
      than ``idle_after_s``; raised once per idle period.
    * ``dashboard_mismatch``: the browser's reported dashboard
      (``session.state["dashboard"]``) has differed from the controls the UI node sent
      for at least ``dashboard_grace_s`` (the browser needs a moment to report).

    ``context()`` runs at the start of each turn: if the user comes back after more than
    ``idle_after_s`` it raises ``idle_return``; it returns the pending flags' context
    lines (``The user is back after 12 minutes of inactivity.``) and clears them, so
    each flag reaches exactly one turn. Every flag is a ``sensor.flag`` event
    ``{"flag", "detail"}`` (emitted from the background task, so its ``run_id`` is
    empty). A context-only node: list it under ``context:``, it needs no edges. No LLM.

    YAML::

        context: [sensor]
        nodes:
          sensor: {kind: sensor_v1, params: {tick_s: 1, idle_after_s: 300}}
    """

    kind = "sensor_v1"

    def __init__(self, node_id: str, params: Any = None) -> None:
        super().__init__(node_id, params)
        self._ctx: RunContext | None = None

    async def start(self, ctx: RunContext) -> None:
        self._ctx = ctx
        while True:
            self.tick(ctx.session)
            await anyio.sleep(self.params.tick_s)

    async def stop(self) -> None:
        self._ctx = None

    def tick(self, session: Session, now: float | None = None) -> None:
        """Run the background checks once (``now``: Unix seconds, default the clock)."""
        now = time.time() if now is None else now
        state = session.ns(NAMESPACE)
        idle = now - session.updated
        if (
            session.history
            and idle > self.params.idle_after_s
            and state.get("idle_since") != session.updated
        ):
            state["idle_since"] = session.updated
            self.flag(state, "idle", f"no activity for {_duration(idle)}")
        self.check_dashboard(session, state, now)
        self.flush(state)

    def check_dashboard(self, session: Session, state: dict[str, Any], now: float) -> None:
        """Flag a dashboard mismatch once it has lasted ``dashboard_grace_s``."""
        detail = dashboard_mismatch(session)
        seen = state.get("mismatch")
        if detail is None:
            state.pop("mismatch", None)
        elif seen is None or seen["detail"] != detail:
            state["mismatch"] = seen = {"detail": detail, "since": now, "flagged": False}
        if (
            seen is not None
            and detail is not None
            and not seen["flagged"]
            and now - seen["since"] >= self.params.dashboard_grace_s
        ):
            seen["flagged"] = True
            line = f"The user's screen does not show the latest controls: {detail}."
            self.flag(state, "dashboard_mismatch", detail, line)

    def context(self, session: Session) -> list[str]:
        state = session.ns(NAMESPACE)
        away = time.time() - session.updated
        if session.history and away > self.params.idle_after_s:
            state["idle_since"] = session.updated  # this idle period is over
            line = f"{RETURN_PREFIX} {_duration(away)} of inactivity."
            self.flag(state, "idle_return", f"back after {_duration(away)}", line)
        lines = list(state.get("pending", []))
        state["pending"] = []
        self.flush(state)
        return lines

    def flag(
        self,
        state: dict[str, Any],
        flag: str,
        detail: str,
        line: str | None = None,
    ) -> None:
        """Raise a flag: queue its event and, if it has one, its context line."""
        state.setdefault("unsent", []).append({"flag": flag, "detail": detail})
        if line:
            state.setdefault("pending", []).append(line)

    def flush(self, state: dict[str, Any]) -> None:
        """Emit queued ``sensor.flag`` events (once ``start()`` has given a context; a
        flag raised before that goes out at the first tick)."""
        if self._ctx is None:
            return
        for data in state.pop("unsent", []):
            self._ctx.emit("sensor.flag", data)
