"""Payload types that flow between the built-in nodes, and the UI controls protocol.

Port types are these pydantic models, so the graph validator can check that an edge's
output fits its input (``DirectorPlan`` into ``plan``, ``ThoughtResult`` into
``thought``...). The UI models are also the wire format of ``ui.controls`` trace events
and of UI actions posted by the browser.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "Analysis",
    "Command",
    "Complexity",
    "Control",
    "Controls",
    "DirectorPlan",
    "Guidance",
    "Intent",
    "MachineState",
    "Response",
    "ThoughtResult",
    "ToolOutcome",
    "ToolResult",
    "ToolStep",
    "UIAction",
]

Intent = Literal["social", "question", "request", "action", "feedback"]
Complexity = Literal["trivial", "simple", "complex"]


class Analysis(BaseModel):
    """What a user message is about (input_v1's structured output)."""

    intent: Intent = Field(description="social, question, request, action or feedback")
    topic: str = Field(description="a few words naming the subject")
    complexity: Complexity = Field(description="trivial, simple or complex")
    needs_data: bool = Field(
        default=False, description="whether answering needs facts that must be looked up"
    )
    needs_tools: bool = Field(
        default=False, description="whether answering needs a tool call or UI controls"
    )
    reply: str = Field(
        default="",
        description="a short friendly reply when neither data nor tools are needed, else ''",
    )


class UIAction(BaseModel):
    """A click in the browser, posted as the ``action`` entry event.

    Attributes:
        action: the action name of the control (``increment``, ``go``, ``show_customers``).
        control: the id of the control that was clicked, if any.
        payload: extra data the control carried (e.g. ``{"target": "counter"}``).
    """

    action: str
    control: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class Command(BaseModel):
    """A request the thinking path works on: a user message or a non-local UI action."""

    analysis: Analysis
    source_text: str = Field(description="the user's words (or a description of the action)")
    action: UIAction | None = None


class ToolStep(BaseModel):
    """One step of a director_v2 plan."""

    tool: str = Field(description="tool name as listed by the tool manager")
    arguments: dict[str, Any] = Field(default_factory=dict)
    why: str = ""


class DirectorPlan(BaseModel):
    """director_v2's plan: what to achieve, which tools in which order, how to answer."""

    goal: str
    tool_sequence: list[ToolStep] = Field(default_factory=list)
    response_style: str = "concise"
    controls: list[Control] = Field(
        default_factory=list, description="UI controls to show (counters, switches, machines)"
    )


class Guidance(BaseModel):
    """director_v1's short plan that guides thinker_v1."""

    plan: str


class ToolOutcome(BaseModel):
    """The result of one tool call as nodes pass it on."""

    tool: str
    server: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    ok: bool
    text: str = ""
    data: Any = None
    error: str | None = None


class ToolResult(BaseModel):
    """thinker_v2's output: every step it ran, failed ones included."""

    goal: str
    steps: list[ToolOutcome] = Field(default_factory=list)
    controls: list[Control] = Field(
        default_factory=list, description="controls the plan asked for, passed on unchanged"
    )

    @property
    def ok(self) -> bool:
        """Whether every step succeeded."""
        return all(step.ok for step in self.steps)


class MachineState(BaseModel):
    """One state of a UI state machine: a label and ``go`` transitions (button -> state)."""

    label: str = ""
    go: dict[str, str] = Field(default_factory=dict, description="button text -> target state")


class Control(BaseModel):
    """One UI control. Which fields matter depends on ``type``:

    * ``button``: ``label``, ``action`` (sent back as ``UIAction.action``), ``payload``.
    * ``label``: ``label`` and ``value`` (a number for counters).
    * ``table``: ``label`` (caption), ``columns``, ``rows``.
    * ``machine``: ``label``, ``state`` (current) and ``states``; each state's ``go``
      transitions render as buttons that post ``UIAction(action="go", control=id,
      payload={"to": target})``.
    """

    id: str
    type: Literal["button", "label", "table", "machine"]
    label: str = ""
    action: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    value: Any = None
    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    state: str | None = None
    states: dict[str, MachineState] = Field(default_factory=dict)


class Controls(BaseModel):
    """The whole set of controls the UI node shows; ``version`` grows with each change.

    This is the ``data`` of ``ui.controls`` trace events and what the browser renders.
    """

    controls: list[Control] = Field(default_factory=list)
    version: int = 0


class ThoughtResult(BaseModel):
    """What the thinking path concluded: the answer draft, controls to show, tool results."""

    response: str = Field(description="the answer draft the output node turns into prose")
    controls: list[Control] = Field(default_factory=list, description="controls to show")
    tool_results: list[ToolOutcome] = Field(default_factory=list)
    reflex: bool = Field(
        default=False, description="true on the reflex path (no planning happened)"
    )


class Response(BaseModel):
    """The user-facing answer of a turn (output_v1)."""

    text: str


# DirectorPlan and ToolResult refer to Control, which is defined after them.
DirectorPlan.model_rebuild()
ToolResult.model_rebuild()
