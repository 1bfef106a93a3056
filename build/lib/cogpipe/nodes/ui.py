"""ui_v1: the session's controls, updated from thoughts and from local clicks.

The UI protocol (``nodes/types.py``, docs/api.md): the UI node keeps the session's
current :class:`Controls` in ``session.state["ui"]`` (the Controls JSON itself) and emits
a ``ui.controls`` event with it whenever it changes; the browser renders it and reports
what it shows with ``PUT /api/sessions/{id}/dashboard``, which the server stores as
``session.state["dashboard"] = {"version", "controls": [ids]}``.

A click posts a :class:`UIAction`. The actions in :data:`LOCAL_ACTIONS` are handled
here without any LLM call; ``input_v1`` leaves its ports empty for them, so the rest of
the graph is skipped. Every other action becomes a ``Command`` in ``input_v1``.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from cogpipe.engine.node import Node, NodeParams, RunContext
from cogpipe.engine.session import Session

from .types import Control, Controls, ThoughtResult, UIAction

__all__ = ["LOCAL_ACTIONS", "UI", "apply_action", "dashboard_mismatch", "is_local", "merge"]

LOCAL_ACTIONS = frozenset({"increment", "decrement", "toggle", "reset", "go"})
"""Actions ui_v1 handles itself (and input_v1 therefore ignores)."""


def is_local(action: UIAction) -> bool:
    """Tell whether ``action`` is handled by the UI node alone (no thinking, no LLM)."""
    return action.action in LOCAL_ACTIONS


def current(session: Session) -> Controls:
    """Return the controls the UI node last sent for ``session`` (empty at first)."""
    return Controls.model_validate(session.state.get("ui") or {})


def dashboard_mismatch(session: Session) -> str | None:
    """Describe how the browser's reported dashboard differs from the controls the UI
    node sent, or return ``None`` when they match or the browser reported nothing."""
    dash = session.state.get("dashboard")
    if not isinstance(dash, dict):
        return None
    sent = current(session)
    ids = [c.id for c in sent.controls]
    shown = list(dash.get("controls") or [])
    if dash.get("version") == sent.version and sorted(shown) == sorted(ids):
        return None
    return (
        f"the browser shows version {dash.get('version')} with {shown or 'no controls'}, "
        f"the server sent version {sent.version} with {ids or 'no controls'}"
    )


def merge(controls: list[Control], new: list[Control], limit: int) -> list[Control]:
    """Return ``controls`` with ``new`` ones replacing those of the same id (in place)
    and the rest appended; only the last ``limit`` are kept."""
    out = list(controls)
    index = {c.id: i for i, c in enumerate(out)}
    for control in new:
        if control.id in index:
            out[index[control.id]] = control
        else:
            index[control.id] = len(out)
            out.append(control)
    return out[-limit:]


def _target(controls: dict[str, Control], action: UIAction) -> Control | None:
    clicked = controls.get(action.control or "")
    target = action.payload.get("target") or (clicked.payload.get("target") if clicked else None)
    return controls.get(str(target)) if target else clicked


def apply_action(controls: list[Control], action: UIAction) -> tuple[list[Control], str | None]:
    """Apply a local click to a copy of ``controls``.

    ``increment``/``decrement`` add/subtract ``payload.step`` (default 1) to a label's
    number; ``toggle`` flips a label's boolean; ``reset`` sets it back to 0/false; ``go``
    moves a machine (``control``) to ``payload.to`` if its current state allows it.
    The label is named by ``payload.target`` or by the clicked button's own payload.

    Returns:
        ``(new controls, None)``, or ``(unchanged controls, why the click was refused)``.
    """
    copies = [c.model_copy(deep=True) for c in controls]
    by_id = {c.id: c for c in copies}
    target = _target(by_id, action)
    if target is None:
        return controls, f"no control '{action.payload.get('target') or action.control}'"
    if action.action == "go":
        return _go(target, action, copies, controls)
    if target.type != "label":
        return controls, f"'{target.id}' is a {target.type}, not a label"
    value = target.value
    if action.action in ("increment", "decrement"):
        if not isinstance(value, (int, float)) and value is not None:
            return controls, f"label '{target.id}' holds {value!r}, not a number"
        step = action.payload.get("step", 1)
        if not isinstance(step, (int, float)):
            return controls, f"step must be a number, not {step!r}"
        target.value = (value or 0) + (step if action.action == "increment" else -step)
    elif action.action == "toggle":
        target.value = not bool(value)
    else:  # reset
        target.value = False if isinstance(value, bool) else 0
    return copies, None


def _go(
    machine: Control,
    action: UIAction,
    copies: list[Control],
    controls: list[Control],
) -> tuple[list[Control], str | None]:
    if machine.type != "machine":
        return controls, f"'{machine.id}' is a {machine.type}, not a machine"
    to = action.payload.get("to")
    state = machine.states.get(machine.state or "")
    allowed = sorted(set(state.go.values())) if state else []
    if to not in allowed:
        return controls, (
            f"machine '{machine.id}' cannot go from '{machine.state}' to "
            f"'{to}'; allowed: {', '.join(allowed) or 'none'}"
        )
    machine.state = str(to)
    return copies, None


class UIParams(NodeParams):
    """Parameters of ``UI`` (YAML ``params``)."""

    max_controls: int = Field(24, ge=1, description="controls kept, oldest dropped")


class UI(Node[UIParams]):
    """Turn thought controls into the session's controls; handle local clicks.

    Keeps the current :class:`Controls` in ``session.state["ui"]`` and emits
    ``ui.controls`` (data: the Controls JSON) whenever they change. A thought's controls
    replace those with the same id and are appended otherwise. A local click (see
    :data:`LOCAL_ACTIONS`) is applied without any LLM call; a refused click emits
    ``ui.ignored`` ``{"action", "reason"}``. When the browser's reported dashboard
    (``session.state["dashboard"]``) differs from what was sent, the controls are sent
    again (``ui.controls``) and ``ui.mismatch`` ``{"detail"}`` is emitted. Output
    ``controls`` always fires with the current controls.

    YAML::

        entry: {message: input.text, action: [ui.action, input.action]}
        nodes:
          ui: {kind: ui_v1, params: {max_controls: 24}}
        edges:
          - thinker.thought -> ui.thought
          - input.reflex -> ui.thought
        outputs: {controls: ui.controls}
    """

    kind = "ui_v1"

    class Inputs(BaseModel):
        thought: ThoughtResult | None = None
        action: UIAction | None = None

    class Outputs(BaseModel):
        controls: Controls | None = None

    async def run(self, inputs: Inputs, ctx: RunContext) -> Outputs:
        before = current(ctx.session)
        controls = before.controls
        action = inputs.action
        if action is not None and is_local(action):
            controls, refused = apply_action(controls, action)
            if refused:
                ctx.emit(
                    "ui.ignored", {"action": action.model_dump(mode="json"), "reason": refused}
                )
        if inputs.thought is not None and inputs.thought.controls:
            controls = merge(controls, inputs.thought.controls, self.params.max_controls)
        if controls != before.controls:
            after = Controls(controls=controls, version=before.version + 1)
            self.send(ctx, after)
            return self.Outputs(controls=after)
        mismatch = dashboard_mismatch(ctx.session)
        if mismatch is not None:
            ctx.emit("ui.mismatch", {"detail": mismatch})
            self.send(ctx, before)
        return self.Outputs(controls=before)

    @staticmethod
    def send(ctx: RunContext, controls: Controls) -> None:
        """Store ``controls`` as the session's and emit ``ui.controls``."""
        ctx.session.state["ui"] = controls.model_dump(mode="json")
        ctx.emit("ui.controls", controls.model_dump(mode="json"))
