"""The event catalogue (engine/events.py): docs in step, and validation that fails on
unknown types, missing and extra fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from cogpipe.engine import TraceEvent
from cogpipe.engine.events import EVENTS, UnknownEventError, events_schema, validate_event

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_api_md_lists_every_catalogued_event_type_and_no_other() -> None:
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    table = text.split("## Event types the HUD uses", 1)[1].split("\n### ", 1)[0]
    documented = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            documented |= set(re.findall(r"`([a-z_]+\.[a-z_]+)`", line.split("|")[1]))
    assert documented == set(EVENTS)


def _event(type: str, data: dict | None) -> TraceEvent:
    return TraceEvent(1, 0.0, "s", "r", "g", type, "n", "k", data)


def test_a_good_event_parses_and_bad_ones_say_why() -> None:
    parsed = validate_event(
        _event(
            "tool.failed",
            {
                "server": None,
                "tool": "x",
                "call_id": "c",
                "error": "e",
                "error_kind": "unknown",
                "duration_ms": 0.0,
            },
        )
    )
    assert parsed.model_dump()["tool"] == "x"
    with pytest.raises(UnknownEventError, match=r"'made\.up'"):
        validate_event({"type": "made.up", "data": {}})
    with pytest.raises(ValidationError, match="surprise"):
        validate_event(_event("node.skipped", {"reason": "r", "surprise": 1}))
    with pytest.raises(ValidationError, match="reason"):
        validate_event(_event("node.skipped", {}))
    validate_event(_event("run.cancelled", None))


def test_the_schema_uses_the_wire_names() -> None:
    schema = events_schema()
    assert set(schema["events"]) == set(EVENTS)
    assert "from" in schema["events"]["graph.switched"]["data"]["properties"]
    assert schema["$defs"]["LedgerNode"]["additionalProperties"] is False
