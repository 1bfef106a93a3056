"""Tools described for models: the prompt listing (whole text compared) and the OpenAI
function specs, from hand-written listings and from a real server's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cogpipe.demo.query import MAX_ROWS
from cogpipe.demo.server import demo_db_server_config, ensure_db
from cogpipe.engine.tools import (
    ToolAnnotations,
    ToolInfo,
    ToolManager,
    describe_tools,
    openai_parameters,
    openai_tools,
)
from tests.helpers.mcp_servers import helper_server_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "tools.md"

REPORT = ToolInfo(
    server="db",
    name="report",
    title="Sales report",
    description="Build a sales report\n   for one region.",
    input_schema={
        "type": "object",
        "properties": {
            "region": {"type": "string", "enum": ["north", "south"], "description": "where"},
            "year": {"anyOf": [{"type": "integer", "minimum": 2000}, {"type": "null"}]},
            "limit": {"type": "integer", "default": 10, "minimum": 1, "maximum": 50},
            "tags": {"type": "array", "items": {"type": "string"}},
            "since": {"type": "string", "format": "date", "description": "first day"},
            "mode": {"$ref": "#/$defs/Mode"},
            "flag": {"const": True},
            "extra": {},
        },
        "required": ["region", "mode"],
        "$defs": {"Mode": {"enum": ["fast", "full"], "type": "string", "description": "how"}},
    },
    annotations=ToolAnnotations(title="ignored", read_only_hint=True),
)
WIPE = ToolInfo(
    server="db",
    name="wipe",
    title="Wipe",
    input_schema={"type": "object", "properties": {}},
    annotations=ToolAnnotations(destructive_hint=True),
)


def test_describe_tools_shows_types_required_enums_and_hints() -> None:
    assert describe_tools([REPORT, WIPE]) == (
        "report (Sales report) [read-only]\n"
        "  Build a sales report for one region.\n"
        '  - region: string, required, one of "north", "south" - where\n'
        "  - year: integer, optional, at least 2000\n"
        "  - limit: integer, optional, default 10, 1 to 50\n"
        "  - tags: array of string, optional\n"
        "  - since: string (date), optional - first day\n"
        '  - mode: string, required, one of "fast", "full" - how\n'
        "  - flag: boolean, optional, one of true\n"
        "  - extra: any, optional\n"
        "\n"
        "wipe [destructive]\n"
        "  - no parameters"
    )


def test_shared_names_are_listed_qualified() -> None:
    other = WIPE.model_copy(update={"server": "fs"})
    heads = [b.splitlines()[0] for b in describe_tools([REPORT, WIPE, other]).split("\n\n")]
    assert heads == [
        "report (Sales report) [read-only]",
        "db.wipe [destructive]",
        "fs.wipe [destructive]",
    ]


def test_no_tools() -> None:
    assert describe_tools([]) == "(no tools available)"


async def test_describe_tools_of_real_servers(tmp_path: Path) -> None:
    demo = demo_db_server_config(str(ensure_db(tmp_path / "demo.db")))
    async with ToolManager([demo, helper_server_config("h")]) as manager:
        text = describe_tools(await manager.list_tools())
    blocks = {b.split()[0]: b for b in text.split("\n\n")}
    assert blocks["count_customers"] == (
        "count_customers [read-only]\n"  # the title only repeats the name
        "  Count customers, optionally by city (e.g. Berlin), country (Germany, Austria, "
        "Switzerland) and segment.\n"
        "  - city: string, optional\n"
        "  - country: string, optional\n"
        '  - segment: string, optional, one of "smb", "midmarket", "enterprise"'
    )
    assert blocks["query"].splitlines()[2:] == [
        "  - sql: string, required - one SQLite SELECT (or WITH ... SELECT)",
        f"  - limit: integer, optional, default 100, 1 to {MAX_ROWS} - maximum rows",
    ]
    assert blocks["pick"] == (
        "pick\n"
        "  Pick a colour.\n"
        '  - color: string, required, one of "red", "green", "blue" - the colour\n'
        "  - size: integer, optional, 1 to 10 - how many\n"
        '  - note: string, optional, default ""'
    )
    assert blocks["pid"].splitlines()[0] == "pid (Process id) [read-only]"
    shown = DOC.read_text().split("```\ncount_customers [read-only]\n", 1)[1].split("```")[0]
    for block in ("count_customers [read-only]\n" + shown).strip().split("\n\n"):
        assert block == blocks[block.split()[0]]  # docs/tools.md shows real output


def test_openai_tools_keep_descriptions_and_show_hints() -> None:
    (report, wipe) = openai_tools([REPORT, WIPE])
    function = report["function"]
    assert report["type"] == "function"
    assert function["name"] == "report"
    assert function["description"] == "Build a sales report for one region. [read-only]"
    assert function["parameters"]["properties"]["region"]["description"] == "where"
    assert function["parameters"]["$defs"]["Mode"]["description"] == "how"
    assert wipe["function"]["description"] == "[destructive]"


def test_openai_parameters_drop_what_openai_rejects_at_the_top() -> None:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "pickArguments",
        "type": "object",
        "properties": {"id": {"type": "string", "title": "Id", "description": "which"}},
        "anyOf": [
            {"properties": {"path": {"type": "string"}}, "required": ["path"]},
            {"$ref": "#/$defs/ByUrl"},
        ],
        "not": {"required": ["both"]},
        "$defs": {"ByUrl": {"properties": {"url": {"type": "string"}}}},
    }
    assert openai_parameters(schema) == {
        "type": "object",
        "properties": {
            "id": {"type": "string", "title": "Id", "description": "which"},
            "path": {"type": "string"},
            "url": {"type": "string"},
        },
        "$defs": {"ByUrl": {"properties": {"url": {"type": "string"}}}},
    }
    assert openai_parameters({}) == {"type": "object", "properties": {}}
