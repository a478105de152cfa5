"""Warm a dashboard server that just started: one session opens the Overview and the ROC page, so that the first
analysts do not wait for the imports and the first results of a cold process (20 sessions on a cold server: the
Overview took 6-7 s; on a warm one 1.5 s: README). `make demo` and deploy/docker-compose.yml run it beside the
server:

    python -m dashboard.warm_up --port 8501 [--wait 120]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import urllib.request

from dashboard.client import Session


def wait_until_healthy(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
            return True
        except OSError:
            time.sleep(0.5)
    return False


async def visit(port: int, pages: tuple[str, ...]) -> None:
    async with Session(f"ws://127.0.0.1:{port}/_stcore/stream") as session:
        await session.rerun()  # the default page (Overview)
        for page in pages:
            await session.rerun(page)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--wait", type=float, default=120, help="seconds to wait for the server to answer")
    parser.add_argument("--pages", nargs="*", default=["ROC"], help="pages to open after the Overview")
    args = parser.parse_args()
    if not wait_until_healthy(args.port, args.wait):
        return  # the server did not come up: nothing to warm (it says why itself)
    try:
        asyncio.run(visit(args.port, tuple(args.pages)))
    except (OSError, asyncio.TimeoutError):  # the server went away meanwhile: nothing to warm
        return


if __name__ == "__main__":
    main()
