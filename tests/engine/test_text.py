"""Bad values at every serialisation point of the engine: trace events and previews, the
JSONL sink's writer, the session store; and the modes of the files they create."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from cogpipe.engine import JsonlSink, Session, TraceEvent, Turn, preview
from cogpipe.engine.files import private_folder
from cogpipe.engine.store import SqliteSessionStore
from cogpipe.engine.text import clean, dumps_clean, first_unencodable, replacements

BAD = "a\ud800b"


class Model(BaseModel):
    keys: dict[str, int]
    text: str


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _event(seq: int, data: dict[str, Any] | None = None, type: str = "t") -> TraceEvent:
    return TraceEvent(seq, 1.5, "s", "r", "g", type, "n", "k", data)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- the rules -------------------------------------------------------------------------


def test_clean_replaces_surrogates_and_non_finite_numbers_everywhere() -> None:
    value = {BAD: [BAD, float("nan"), float("inf"), 1.5, ("x", {"k": "\udfff"})], 3: None}
    assert clean(value) == {
        "a\ufffdb": ["a\ufffdb", None, None, 1.5, ["x", {"k": "\ufffd"}]],
        3: None,
    }
    loop: list[Any] = []
    loop.append(loop)
    assert "nested too deep" in json.dumps(clean(loop))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"text": "fine ✓ 😀"}, None),
        (
            {"payload": {"items": ["ok", BAD]}},
            (
                "payload.items.1",
                "holds a lone surrogate U+D800 at character 1, which UTF-8 cannot encode; "
                "send well-formed Unicode text",
            ),
        ),
        (
            {"payload": {BAD: 1}},
            (
                "payload.(key)",
                "holds a lone surrogate U+D800 at character 1, which UTF-8 "
                "cannot encode; send well-formed Unicode text",
            ),
        ),
        ({"n": float("nan")}, ("n", "is nan, which JSON cannot hold; send a finite number")),
        (
            {"deep": json.loads("[" * 70 + "]" * 70)},
            ("deep" + ".0" * 63, "is nested more than 64 levels deep; send flatter data"),
        ),
    ],
)
def test_first_unencodable_names_the_place(value: Any, expected: Any) -> None:
    assert first_unencodable(value) == expected


def test_dumps_clean_repairs_and_reports(caplog: pytest.LogCaptureFixture) -> None:
    before = replacements["test place"]
    assert dumps_clean({"a": "é"}, "test place") == '{"a": "é"}'
    assert replacements["test place"] == before
    with caplog.at_level(logging.WARNING, "cogpipe.engine.text"):
        assert dumps_clean({"a": BAD, "n": float("nan")}, "test place") == (
            '{"a": "a\ufffdb", "n": null}'
        )
    assert replacements["test place"] == before + 1
    assert "test place: replaced text UTF-8 cannot encode" in caplog.text


# -- trace events ----------------------------------------------------------------------


def test_an_event_with_bad_values_still_serialises() -> None:
    event = _event(1, {"text": BAD, "n": float("nan"), "obj": Unprintable(), BAD: 1})
    data = json.loads(event.to_json())
    assert data["data"] == {
        "text": "a\ufffdb",
        "n": None,
        "obj": "<unprintable Unprintable>",
        "a\ufffdb": 1,
    }
    assert json.loads(_event(2, {"n": float("inf")}).to_json())["data"] == {"n": None}
    model = Model(keys={BAD: 1}, text=BAD)
    shown = json.loads(_event(3, {"model": model}).to_json())["data"]["model"]
    assert shown["text"] == "a\ufffdb" and list(shown["keys"].values()) == [1]


def test_previews_are_always_encodable() -> None:
    assert preview(BAD) == "a\ufffdb"
    assert preview({"x": BAD}) == '{"x":"a\ufffdb"}'
    assert preview(Unprintable()) == '"<unprintable Unprintable>"'
    assert preview(Turn("r", "g", "e", BAD, {}, "s", float("nan"))) == (
        '{"run_id":"r","graph":"g","entry":"e","input":"a\ufffdb","outputs":{},'
        '"status":"s","ts":null,"warnings":[]}'
    )
    assert preview("\ud800" * 500).encode() == ("\ufffd" * 199 + "…").encode()


# -- the JSONL sink --------------------------------------------------------------------


class ExplodingEvent(TraceEvent):
    """An event whose serialisation raises, whatever the reason."""

    def to_json(self) -> str:
        raise RuntimeError("this event cannot be written")


def test_jsonl_writer_survives_any_event(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sink = JsonlSink(tmp_path)
    with caplog.at_level(logging.ERROR, "cogpipe.engine.sinks"):
        sink.on_event(_event(1))
        sink.on_event(ExplodingEvent(2, 0.0, "s", "r", "g", "boom"))
        sink.on_event(_event(3, {"text": BAD}))
        sink.on_event(ExplodingEvent(4, 0.0, "s", "r", "g", "boom"))
        sink.on_event(_event(5))
        sink.flush()
    lines = [json.loads(line) for line in sink.path.read_text(encoding="utf-8").splitlines()]
    sink.close()
    assert [e["seq"] for e in lines] == [1, 3, 5]
    assert lines[1]["data"] == {"text": "a\ufffdb"}
    assert sink.failed == 2
    reported = [r for r in caplog.records if r.name == "cogpipe.engine.sinks"]
    assert len(reported) == 1 and "could not write a boom event" in reported[0].getMessage()


def test_jsonl_write_errors_are_counted_not_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sink = JsonlSink(tmp_path / "trace")
    sink.on_event(_event(1))
    sink.flush()
    kept = sink._handler.stream
    full = open("/dev/full", "w", buffering=1)  # noqa: SIM115 - every write: ENOSPC
    sink._handler.stream = full
    sink.on_event(_event(2))
    sink._queue.join()
    sink._handler.stream = kept
    with contextlib.suppress(OSError):  # its buffer still holds the line it refused
        full.close()
    sink.on_event(_event(3))
    sink.flush()
    assert sink.failed == 1 and sink._thread.is_alive()
    assert "Logging error" not in capsys.readouterr().err
    sink.close()
    assert [json.loads(line)["seq"] for line in sink.path.read_text().splitlines()] == [1, 3]


def test_trace_files_are_private_also_after_rotation(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "trace"
    sink = JsonlSink(folder, max_bytes=2_000, backups=2)
    for seq in range(1, 200):
        sink.on_event(_event(seq))
    sink.flush()
    sink.close()
    assert _mode(folder) == 0o700 and _mode(folder.parent) == 0o700
    files = sorted(folder.iterdir())
    assert len(files) == 3 and {_mode(f) for f in files} == {0o600}


def test_an_existing_open_folder_is_kept_but_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    with caplog.at_level(logging.WARNING, "cogpipe.engine.files"):
        private_folder(shared, "trace folder")
    assert _mode(shared) == 0o755
    assert f"trace folder {shared} is open to other users (mode 0755)" in caplog.text
    assert f"run 'chmod 700 {shared}'" in caplog.text


# -- the session store -----------------------------------------------------------------


def test_a_session_with_bad_text_is_stored_and_loads(tmp_path: Path) -> None:
    store = SqliteSessionStore(tmp_path / "s.db")
    turn = Turn("r1", "g", "message", "hi", {"response": BAD, "n": float("nan")}, "finished", 1.0)
    store.save(Session(id="abc", graph="g", history=[turn], state={"memory": {BAD: BAD}}))
    loaded = store.load("abc")
    store.close()
    assert loaded is not None
    assert loaded.history[0].outputs == {"response": "a\ufffdb", "n": None}
    assert loaded.state == {"memory": {"a\ufffdb": "a\ufffdb"}}


def test_a_row_written_with_lone_surrogates_still_loads(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    SqliteSessionStore(db).close()
    row = json.dumps(Session(id="old", graph="g", state={"x": "\ud800 and 😀"}).to_dict())
    with sqlite3.connect(db) as conn:  # what the store wrote before it repaired text
        conn.execute("INSERT INTO sessions VALUES ('old', 'g', 0, 0, ?)", (row,))
    store = SqliteSessionStore(db)
    loaded = store.load("old")
    store.close()
    assert loaded is not None and loaded.state == {"x": "\ufffd and 😀"}


def test_the_database_and_its_journals_are_private(tmp_path: Path) -> None:
    db = tmp_path / "var" / "sessions.db"
    store = SqliteSessionStore(db)
    store.save(Session(id="abc", graph="g"))
    files = {p.name: _mode(p) for p in db.parent.iterdir()}
    store.close()
    assert _mode(db.parent) == 0o700
    assert files == {"sessions.db": 0o600, "sessions.db-wal": 0o600, "sessions.db-shm": 0o600}


def test_files_left_open_by_an_older_version_are_closed(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    SqliteSessionStore(db).close()
    names = ("sessions.db", "sessions.db-wal", "sessions.db-shm")
    for name in names:
        (tmp_path / name).touch()
        (tmp_path / name).chmod(0o644)
    store = SqliteSessionStore(db)
    assert {name: _mode(tmp_path / name) for name in names} == dict.fromkeys(names, 0o600)
    store.close()
