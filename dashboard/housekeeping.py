"""What a server does while nobody uses it: close the sessions of closed tabs and hand freed memory back.

Streamlit keeps a closed tab's session for ``server.disconnectedSessionTTL`` seconds (120) so that a tab that loses
its connection for a moment finds its state again. It keeps them in a cache that drops an expired entry only when
the cache is next written or counted, and dropping it does not shut the session down: the closed sessions' widget
state stays in memory until another tab closes, and a dropped session's uploaded files (a predictions table) stay
in the server's upload store for good (streamlit/streamlit#12506). Here the cache shuts a session down when it
leaves by age or for room (``ClosingSessionCache``, installed once per server), a thread closes expired sessions
without waiting for the next closed tab, and once the server has had no page run for a while it collects garbage
and trims the heap (glibc ``malloc_trim``). (A full collection after every page run instead costs 150 ms each:
.streamlit/config.toml.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import time

from streamlit.logger import get_logger
from streamlit.runtime.caching.ttl_cache import TTLCache

LOGGER = get_logger(__name__)  # printed at Streamlit's log level (info)


class _Clock:
    """The time of the last page run (``ran``), read by the cleanup thread."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def ran(self) -> None:
        self.last = time.monotonic()


PAGE_RUNS = _Clock()


class ClosingSessionCache(TTLCache):
    """Streamlit's cache of closed tabs' sessions (``MemorySessionStorage``) that shuts a session down, as Streamlit
    does when a session ends (its uploads removed), when the session leaves by age (``expire``) or to make room
    (``_evict_lru``, the documented hook for subclasses); not when a reconnecting tab takes it back (``del``)."""

    def expire(self, at_time: float | None = None) -> list:
        removed = super().expire(at_time)
        for _, info in removed:
            info.session.shutdown()
        return removed

    def _evict_lru(self, reason):
        info = super()._evict_lru(reason)
        info.session.shutdown()
        return info


def session_storage():
    """The running server's store of closed tabs' sessions (``None`` outside a server: AppTest, bare mode)."""
    from streamlit import runtime

    if not runtime.exists():
        return None
    manager = getattr(runtime.get_instance(), "_session_mgr", None)
    return getattr(manager, "_session_storage", None)


def close_sessions_on_expiry(storage=None) -> bool:
    """Give the server's session storage a ``ClosingSessionCache`` (same size, reconnect time and stored sessions);
    whether it has one."""
    storage = session_storage() if storage is None else storage
    if storage is None:  # no server (AppTest): no closed tabs
        return False
    cache = getattr(storage, "_cache", None)
    if isinstance(cache, ClosingSessionCache):
        return True
    if not isinstance(cache, TTLCache):
        LOGGER.warning("closed tabs' sessions are kept as Streamlit keeps them: its session storage has changed")
        return False

    def swap() -> None:
        closing = ClosingSessionCache(maxsize=cache.maxsize, ttl=cache.ttl, timer=cache.timer)
        for session_id, info in cache.items():
            closing[session_id] = info
        storage._cache = closing

    _on_server_loop(swap)
    return True


def close_expired_sessions(storage=None) -> int:
    """Shut down the stored sessions whose reconnect time has passed; the number shut down. Sessions still within
    their time are kept (a reconnect finds them)."""
    storage = session_storage() if storage is None else storage
    cache = getattr(storage, "_cache", None)
    return len(_on_server_loop(cache.expire)) if isinstance(cache, ClosingSessionCache) else 0


def _on_server_loop(function):
    """``function()`` run on the server's event loop thread, where Streamlit reads and writes its session storage
    (the cache is not thread-safe: an expiry on another thread could meet a reconnect mid-iteration), as Streamlit
    itself hands session work to that thread; called directly outside a server (tests, AppTest)."""

    async def call():
        return function()

    return _await_on_server_loop(call) if _server_loop() else function()


def _await_on_server_loop(coroutine_function):
    """``await coroutine_function()`` on the server's event loop, from another thread; its result."""
    import asyncio

    return asyncio.run_coroutine_threadsafe(coroutine_function(), _server_loop()).result(timeout=60)


def _server_loop():
    from streamlit import runtime

    if not runtime.exists():
        return None
    loop = getattr(getattr(runtime.get_instance(), "_async_objs", None), "eventloop", None)
    return None if loop is None or loop.is_closed() else loop


def trim_heap() -> None:
    """Collect garbage and hand the freed heap back to the system (glibc; elsewhere only the collection)."""
    gc.collect()
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def prune_idle_workers() -> None:
    """Let the server's pool of file-serving threads (AnyIO's, up to 28: each tab's first load fetches the page's
    files at once) end the threads idle for 10 s or more: AnyIO prunes them only when it next hands out work, so an
    idle server kept them (and their heap) after a busy wave. One trivial job on the server's loop prunes them."""
    if _server_loop() is None:
        return
    import anyio.to_thread

    _await_on_server_loop(lambda: anyio.to_thread.run_sync(lambda: None))


def clean_when_idle(after: float, clock: _Clock = PAGE_RUNS, rounds: int | None = None) -> None:
    """Every ``after / 2`` seconds (at most 15): close the expired sessions; once no page has run for ``after``
    seconds (at least 11: AnyIO ends only threads idle for 10 s) since the last cleanup, end the idle file-serving
    threads and trim the heap. ``rounds``: stop after that many checks (tests)."""
    idle = max(after, 11.0)
    cleaned = None
    checked = 0
    while rounds is None or checked < rounds:
        time.sleep(min(after / 2, 15.0))
        checked += 1
        closed = close_expired_sessions()
        if closed:
            LOGGER.info("closed %d session(s) of closed tabs (their widget state and uploads freed)", closed)
        last = clock.last
        if (closed or last != cleaned) and time.monotonic() - last > idle:
            prune_idle_workers()
            trim_heap()
            cleaned = last
