"""The demo from nothing to the dashboard, and again from the store (not part of the tests).

    .venv/bin/python benchmarks/cold_start.py [--folder /tmp/cold]

In a new folder (no synthetic cohort, no store, no feature cache) it runs what `make demo` runs,
``python -m engine demo`` then ``python -m dashboard.serve``, and times: the engine (with the stages its run
records), the dashboard's server answering its health check, and the Overview page's script finished for a first
session (Streamlit's websocket protocol, as a browser tab; the browser's drawing comes on top, about 2 s for a
fresh tab in headless Chromium, see benchmarks/page_load.py). Then the warm start: the same two commands again,
served from the store. While the engine runs, both cores' busy share is sampled every second (/proc/stat) to
show the seconds that only one core worked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.load_test import Session, free_port, start_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def busy_cores(stop: threading.Event, samples: list[float]) -> None:
    """Every second, how many cores were busy on average (Linux /proc/stat)."""

    def read() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        return sum(values), values[3] + values[4]

    before = read()
    while not stop.wait(1.0):
        after = read()
        total = after[0] - before[0]
        samples.append((os.cpu_count() or 1) * (total - (after[1] - before[1])) / max(total, 1))
        before = after


def start(folder: Path) -> dict[str, float]:
    """One `make demo`: the engine's seconds and stages, the server's health, the first Overview."""
    samples: list[float] = []
    stop = threading.Event()
    sampler = threading.Thread(target=busy_cores, args=(stop, samples), daemon=True)
    sampler.start()
    began = time.perf_counter()
    command = [sys.executable, "-W", "ignore", "-m", "engine", "demo", "--out", str(folder / "study")]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run([*command, "--store", str(folder / "store")], cwd=ROOT, check=True, **quiet)
    engine = time.perf_counter() - began
    stop.set()
    port = free_port()
    server = start_server(folder / "store", port, serve=True)
    healthy = time.perf_counter() - began

    async def overview() -> None:
        async with Session(f"ws://127.0.0.1:{port}/_stcore/stream") as session:
            await session.rerun()

    try:
        asyncio.run(overview())
        shown = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=30)
    run = (folder / "store" / "DEMO_RUN").read_text().strip()
    stages = json.loads((folder / "store" / "runs" / run / "provenance.json").read_text())["timings_s"]
    one_core = sum(1 for s in samples if s < 1.5)
    return {"engine": engine, "healthy": healthy, "overview": shown, "one_core_s": one_core, **stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/hcc_cold_start"))
    args = parser.parse_args()
    shutil.rmtree(args.folder, ignore_errors=True)
    args.folder.mkdir(parents=True)
    print(f"{os.cpu_count()} CPU cores; folder {args.folder}")
    for label in ("cold", "warm"):
        figures = start(args.folder)
        stages = ", ".join(
            f"{name} {figures[name]:.1f} s"
            for name in ("radiomics", "deep", "grid", "survival_models")
            if name in figures and label == "cold"
        )
        print(
            f"{label}: engine {figures['engine']:.1f} s, dashboard healthy at {figures['healthy']:.1f} s, Overview "
            f"script finished at {figures['overview']:.1f} s"
            + (f"; {stages}; {figures['one_core_s']:.0f} s with one core busy or less" if stages else "")
        )


if __name__ == "__main__":
    main()
