"""An idle server closes the sessions of closed tabs (Streamlit keeps them for a reconnect, then only forgets them:
their widget state and uploaded files stayed in memory) and trims its heap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo

from dashboard import housekeeping
from dashboard.client import Session
from tests.dashboard.test_browser import dashboard_process, streamlit_server


class StandInSession:
    """What the storage holds of a session: its id and ``shutdown`` (which removes its uploads)."""

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self.shut_down = False

    def shutdown(self) -> None:
        self.shut_down = True


def stored(storage: MemorySessionStorage, session_id: str) -> StandInSession:
    session = StandInSession(session_id)
    storage.save(SessionInfo(client=None, session=session, script_run_count=1))
    return session


def closing_storage(**options) -> MemorySessionStorage:
    storage = MemorySessionStorage(**options)
    assert housekeeping.close_sessions_on_expiry(storage)
    return storage


def test_a_session_is_shut_down_when_it_expires_and_kept_while_a_reconnect_may_come():
    storage = MemorySessionStorage(ttl_seconds=0.2)
    old = stored(storage, "closed a while ago")  # stored before the server's first page run installed the cache
    assert housekeeping.close_sessions_on_expiry(storage)
    time.sleep(0.3)
    fresh = stored(storage, "closed just now")  # the write drops the expired session: now it is shut down
    assert old.shut_down and not fresh.shut_down
    assert [info.session for info in storage.list()] == [fresh]
    storage.delete(fresh.id)  # the tab reconnected and took its session back: not shut down
    assert not fresh.shut_down


def test_the_periodic_check_closes_expired_sessions_without_another_tab_closing():
    storage = closing_storage(ttl_seconds=0.2)
    old = stored(storage, "closed a while ago")
    assert housekeeping.close_expired_sessions(storage) == 0 and not old.shut_down  # within its reconnect time
    time.sleep(0.3)
    assert housekeeping.close_expired_sessions(storage) == 1
    assert old.shut_down and storage.list() == []


def test_a_session_evicted_for_room_is_shut_down():
    storage = closing_storage(maxsize=1)
    first = stored(storage, "first")
    second = stored(storage, "second")
    assert first.shut_down and not second.shut_down


def test_outside_a_server_there_is_nothing_to_close():
    assert housekeeping.session_storage() is None
    assert not housekeeping.close_sessions_on_expiry()
    assert housekeeping.close_expired_sessions() == 0


def test_the_cleanup_waits_for_an_idle_server(monkeypatch):
    trims = []
    monkeypatch.setattr(housekeeping, "trim_heap", lambda: trims.append(time.monotonic()))
    clock = housekeeping._Clock()
    housekeeping.clean_when_idle(1.0, clock, rounds=1)  # one check after 0.5 s: not idle for a second yet
    assert trims == []
    clock.last -= 20.0  # the last page ran 20 s ago (idle means at least 11 s)
    housekeeping.clean_when_idle(0.2, clock, rounds=3)
    assert len(trims) == 1  # once per idle stretch, not at every check


def test_a_server_closes_the_session_of_a_closed_tab(app_store, tmp_path):
    """On a real server (reconnect time 1 s, checks every second): one tab opens the Overview and closes; the
    server shuts its session down without another tab arriving."""

    async def visit(url: str) -> None:
        async with Session(url.replace("http://", "ws://") + "/_stcore/stream") as session:
            await session.rerun()

    log = tmp_path / "server.log"
    options = ("--server.disconnectedSessionTTL", "1")
    with streamlit_server(options, log, HCC_STORE=str(app_store), HCC_IDLE_CLEANUP_S="2") as url:
        asyncio.run(visit(url))
        deadline = time.monotonic() + 20
        while "closed 1 session(s)" not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
            time.sleep(0.5)
    assert "closed 1 session(s) of closed tabs" in log.read_text(encoding="utf-8")


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_an_idle_server_ends_the_file_serving_threads_a_busy_moment_started(app_store, tmp_path):
    """Ten tabs opening at once make the server start file-serving threads (AnyIO's pool); AnyIO ends idle ones only
    when it next hands out work, so they stayed. Once the server is idle, the housekeeping ends them."""

    async def tabs(url: str, n: int) -> None:
        async def one() -> None:
            async with Session(url.replace("http://", "ws://") + "/_stcore/stream") as session:
                await session.rerun()

        await asyncio.gather(*(one() for _ in range(n)))

    log = tmp_path / "server.log"
    with dashboard_process((), log, HCC_STORE=str(app_store), HCC_IDLE_CLEANUP_S="2") as (url, process):
        server = process.pid
        asyncio.run(tabs(url, 1))
        time.sleep(1)
        before = threads_of(server)
        asyncio.run(tabs(url, 10))
        busy = threads_of(server)
        deadline = time.monotonic() + 45  # AnyIO ends threads idle for 10 s or more
        while threads_of(server) > before and time.monotonic() < deadline:
            time.sleep(1)
        after = threads_of(server)
    assert busy > before  # the busy moment started threads
    assert after <= before
