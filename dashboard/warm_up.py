"""Warm a dashboard server that just started: one session opens the Overview and the ROC page, so that the first
analysts do not wait for the imports and the first results of a cold process (20 sessions on a cold server: the
Overview took 4.5-6 s; on a warm one 1.4-1.8 s: README). ``python -m dashboard.serve`` (make demo, the
Dockerfile, deploy/docker-compose.yml) runs it on a thread beside the server; for a server started otherwise:

    python -m dashboard.warm_up --port 8501 [--wait 120]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request

from streamlit.logger import get_logger

from dashboard.client import Session

LOGGER = get_logger(__name__)


def wait_until_healthy(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return True
        except OSError:
            time.sleep(0.5)
    return False


async def visit(port: int, pages: tuple[str, ...]) -> bool:
    """Open the default page, then ``pages``; whether the pages were there to open (with sign-in on, an anonymous
    session gets only the sign-in page: the libraries are imported, the results wait for the first signed-in user)."""
    async with Session(f"ws://127.0.0.1:{port}/_stcore/stream") as session:
        await session.rerun()  # the default page (Overview)
        if not session.pages:
            return False
        for page in pages:
            await session.rerun(page)
        return True


def warm(port: int, wait: float = 120.0, pages: tuple[str, ...] = ("ROC",)) -> bool:
    """Once the server on ``port`` answers (within ``wait`` seconds), open the Overview and ``pages``; whether it
    did. A server that did not come up or went away meanwhile has nothing to warm (it says why itself)."""
    if not wait_until_healthy(port, wait):
        return False
    try:
        opened = asyncio.run(visit(port, pages))
    except (OSError, asyncio.TimeoutError):
        return False
    if opened:
        LOGGER.info("warmed up: the Overview and %s opened once", ", ".join(pages) or "no other page")
    else:
        LOGGER.info("warmed up: the sign-in page opened (the first signed-in visit computes the shared results)")
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the server to answer")
    parser.add_argument("--pages", nargs="*", default=["ROC"], help="pages to open after the Overview")
    args = parser.parse_args()
    warm(args.port, args.wait, tuple(args.pages))


if __name__ == "__main__":
    main()
