"""Reading trace files back: events from lines, and following a file as it is written."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from cogpipe.engine import TraceEvent
from cogpipe.server.traces import follow, read_events


def _event(seq: int, run: str = "r1") -> TraceEvent:
    return TraceEvent(seq, 1.0 + seq, "s1", run, "g", "node.started", "n", "k", {"i": seq})


def test_read_events_keeps_events_and_reports_other_lines() -> None:
    skipped: list[str] = []
    lines = [_event(1).to_json(), "not json", '{"seq": 2}', "", _event(3).to_json()]
    assert [e.seq for e in read_events(lines, skipped)] == [1, 3]
    assert skipped == ["not json", '{"seq": 2}']


def test_follow_reads_appended_lines_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "cogpipe.jsonl"
    path.write_text(_event(1).to_json() + "\n")
    seen: list[int] = []
    done = threading.Event()

    def write() -> None:
        time.sleep(0.3)
        with path.open("a") as f:
            f.write(_event(2).to_json()[:20])  # half a line: not read yet
            f.flush()
            time.sleep(0.3)
            f.write(_event(2).to_json()[20:] + "\n")
        time.sleep(0.3)
        path.rename(tmp_path / "cogpipe.jsonl.1")  # rotation: a new file starts
        path.write_text(_event(3).to_json() + "\n")
        time.sleep(0.5)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    for event in follow(path, poll_s=0.05, stop=done.is_set):
        seen.append(event.seq)
    writer.join()
    assert seen == [2, 3]  # the line already there is skipped unless from_start
    looks = iter([False, False, True])  # two looks at the file, then stop
    assert [e.seq for e in follow(path, from_start=True, stop=lambda: next(looks))] == [3]
