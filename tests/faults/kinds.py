"""Node kinds for the fault suite. The test process imports this module; a ``cogpipe
serve`` subprocess loads the same file as a node module (``COGPIPE_NODE_MODULES``)."""

from __future__ import annotations

import json

import anyio
from pydantic import BaseModel

from cogpipe.engine import Node, RunContext

GRAPHS = {
    "ask.yaml": """\
name: ask
description: One LLM call (streamed when the message starts with 'stream').
entry: {message: ask.text}
nodes:
  ask: {kind: fault_llm_v1}
outputs: {response: ask.response}
""",
    "tool.yaml": """\
name: tool
description: "One tool call; the message is {tool, arguments} as JSON."
entry: {message: call.text}
nodes:
  call: {kind: fault_tool_v1}
outputs: {response: call.response}
""",
    "step.yaml": """\
name: step
description: "'fail' raises, 'sleep:N' naps N seconds with a tick every 0.1 s, else echoes."
entry: {message: step.text}
nodes:
  step: {kind: fault_step_v1}
outputs: {response: step.response}
""",
}


class Answer(BaseModel):
    response: str | None = None


class Text(BaseModel):
    text: str


class AskLLM(Node):
    """Asks the LLM endpoint once: ``stream ...`` streams the answer, else ``complete``."""

    kind = "fault_llm_v1"
    Inputs = Text
    Outputs = Answer

    async def run(self, inputs: Text, ctx: RunContext) -> Answer:
        assert ctx.llm is not None
        if inputs.text.startswith("stream"):
            return Answer(response=await ctx.llm.stream("gpt-4o-mini", inputs.text))
        return Answer(response=await ctx.llm.complete("gpt-4o-mini", inputs.text))


class CallTool(Node):
    """Calls the tool the message names (JSON ``{"tool", "arguments"}``)."""

    kind = "fault_tool_v1"
    Inputs = Text
    Outputs = Answer

    async def run(self, inputs: Text, ctx: RunContext) -> Answer:
        assert ctx.tools is not None
        call = json.loads(inputs.text)
        result = await ctx.tools.call(call["tool"], call.get("arguments", {}))
        return Answer(response=result.text)


class FaultStep(Node):
    """``fail``: raises; ``sleep:N``: naps N seconds, a ``fault.tick`` event every 0.1 s;
    ``big:N``: emits a ``fault.big`` event of N bytes; then it echoes the text."""

    kind = "fault_step_v1"
    Inputs = Text
    Outputs = Answer

    async def run(self, inputs: Text, ctx: RunContext) -> Answer:
        if inputs.text == "fail":
            raise RuntimeError("told to fail")
        if inputs.text.startswith("big:"):
            ctx.emit("fault.big", {"pad": "x" * int(inputs.text[4:])})
        if inputs.text.startswith("sleep:"):
            for i in range(int(float(inputs.text[6:]) * 10)):
                ctx.emit("fault.tick", {"i": i})
                await anyio.sleep(0.1)
        return Answer(response=f"done: {inputs.text}")
