"""Hot reload over a real server: editing a graph file in the watched folder reaches
the session's event stream as a diff, and an invalid edit as its problems, while the
last valid version keeps answering."""

from __future__ import annotations

import anyio
import httpx2

from cogpipe.server.reload import watch_graphs

from .conftest import GRAPHS, new_session, run_to_end, send


async def _event(running, sid: str, type: str) -> dict:
    with anyio.fail_after(10):
        while True:
            found = [e for e in running.runtime.ring.events(sid) if e.type == type]
            if found:
                return found[-1].data
            await anyio.sleep(0.05)


async def test_an_edited_graph_file_is_reloaded_live(serve, tmp_path) -> None:
    running = serve()
    path = tmp_path / "s0" / "graphs" / "slow.yaml"
    async with httpx2.AsyncClient(base_url=running.url) as c:
        sid = await new_session(c, "slow")
        await anyio.sleep(0.3)  # the watcher is up
        path.write_text(GRAPHS["slow.yaml"].replace("pieces: 5", "pieces: 2"))
        data = await _event(running, sid, "graph.updated")
        assert data["diff"]["nodes"]["changed"] == [
            {
                "id": "echo",
                "changes": {
                    "params": {
                        "from": {"pieces": 5, "delay_s": 0.05},
                        "to": {"pieces": 2, "delay_s": 0.05},
                    }
                },
            }
        ]
        run = await run_to_end(c, await send(c, sid, "x"))  # the next turn runs the edit
        deltas = [
            e
            for e in running.runtime.ring.events(sid)
            if e.type == "output.delta" and e.run_id == run["run_id"]
        ]
        assert len(deltas) == 2

        path.write_text(GRAPHS["slow.yaml"].replace("srv_nap_v1", "srv_nap_v9"))
        data = await _event(running, sid, "graph.invalid")
        assert data["problems"][0].startswith("line 5: node 'nap': unknown kind 'srv_nap_v9'")
        (listed,) = [g for g in (await c.get("/api/graphs")).json() if g["name"] == "slow"]
        assert listed["valid"] is False and listed["problems"] == data["problems"]
        detail = (await c.get("/api/graphs/slow")).json()
        assert "srv_nap_v9" in detail["yaml"] and detail["elements"] is not None
        run = await run_to_end(c, await send(c, sid, "y"))  # the last valid version
        assert (run["status"], run["outputs"]) == ("finished", {"response": "echo: y"})


async def test_the_watcher_stops_at_once_when_told(serve) -> None:
    # the watch waits in a thread a cancel cannot interrupt: without the stop event a
    # server's shutdown waited for watchfiles' 5 s wake-up
    runtime, stop, done = serve().runtime, anyio.Event(), anyio.Event()

    async def watch() -> None:
        await watch_graphs(runtime, stop)
        done.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        await anyio.sleep(0.3)  # watching
        stop.set()
        with anyio.fail_after(2):  # it returns by itself, well before the 5 s wake-up
            await done.wait()
