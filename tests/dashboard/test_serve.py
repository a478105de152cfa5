"""``python -m dashboard.serve``: the dashboard started ready for its first analysts (the engine's libraries imported
before the server answers; one session opens the Overview and the ROC page once it does), with streamlit run's
options passed through."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from dashboard.client import Session
from dashboard.serve import port_of
from tests.dashboard.test_browser import dashboard_process

ROOT = Path(__file__).resolve().parents[2]


def test_the_port_comes_from_streamlits_options():
    assert port_of(["--server.headless", "true", "--server.port", "8765"]) == 8765
    assert port_of(["--server.port=8766"]) == 8766
    assert port_of(["--server.headless", "true"]) == 8501  # Streamlit's default


@contextlib.contextmanager
def served(log: Path, **env: str):
    """``python -m dashboard.serve`` on a free port with ``env``; yields the port once its warm-up said so."""
    with dashboard_process((), log, serve=True, **env) as (url, server):
        deadline = time.monotonic() + 120
        while "warmed up" not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
            assert server.poll() is None, log.read_text(encoding="utf-8")
            time.sleep(0.5)
        yield int(url.rsplit(":", 1)[1])


def test_a_served_dashboard_warms_itself_and_serves_the_pages(app_store, tmp_path):
    async def visit(port: int) -> list:
        async with Session(f"ws://127.0.0.1:{port}/_stcore/stream") as session:
            await session.rerun()
            await session.rerun("ROC")
            return session.received

    log = tmp_path / "serve.log"
    with served(log, HCC_STORE=str(app_store)) as port:
        drawn = [kind for _, kind in asyncio.run(visit(port))]
    assert "warmed up: the Overview and ROC opened once" in log.read_text(encoding="utf-8")
    assert drawn.count("plotly_chart") >= 2 and "heading" in drawn  # the ROC page: its title, curves and radar


def test_with_sign_in_on_the_warm_up_opens_only_the_sign_in_page(app_store, tmp_path):
    """The warm-up is an anonymous session: it imports the libraries (the sign-in page's run) and says that the
    results wait for the first signed-in user; it never gets past the sign-in."""
    log = tmp_path / "serve.log"
    with served(log, HCC_STORE=str(app_store), HCC_AUTH="proxy"):
        pass
    text = log.read_text(encoding="utf-8")
    assert "warmed up: the sign-in page opened" in text and "the Overview and ROC opened" not in text
