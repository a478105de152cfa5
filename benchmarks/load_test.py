"""Many users at once: concurrent browser sessions on one dashboard server (one run; not part of the tests).

    .venv/bin/python benchmarks/load_test.py [--store store] [--sessions 20] [--moves 5] [--waves 2]
        [--warmup] [--serve] [--replicas N] [--idle 60]

Starts the dashboard (``streamlit run dashboard/app.py``) on the store's demo run (``make demo`` writes it) and
opens ``--sessions`` sessions at once over Streamlit's own websocket protocol, as a browser tab does: each loads
the Overview, switches to the ROC page and moves the threshold slider ``--moves`` times. A page time is the time
from the request to the server's "script finished" message (the server's share of a page view; the browser's
drawing comes on top). Reports p50/p95 per step and the server's memory (RSS) before and after each wave; a
second wave of new sessions shows whether memory grows with the number of sessions (the result caches are
bounded: ``st.cache_data(max_entries=...)`` in dashboard/cached.py). ``--warmup``: one session opens the two pages
before the first wave (a server that has been up, not one started a second ago). ``--replicas N``: N dashboard
processes behind nginx with deploy/nginx.conf (sticky by a route cookie, as deploy/docker-compose.yml runs them;
needs nginx: `apt-get install nginx-light`); memory is then the replicas' sum. ``--idle S``: after the waves, the
server's memory once it has been idle S seconds (sessions closed). ``--serve``: the dashboard started as `make demo`
and the compose replicas start it (``python -m dashboard.serve``: libraries imported before it answers, a warm-up
session on a thread once it does); the waves start as soon as it answers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dashboard.client import Session  # noqa: E402
from dashboard.warm_up import wait_until_healthy  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    store: Path, port: int, script: Path | str = "dashboard/app.py", serve: bool = False
) -> subprocess.Popen:
    """Streamlit serving ``script`` (the dashboard, on ``store``) on ``port``, once it answers its health check;
    ``serve``: the dashboard as `make demo` and the compose replicas start it (``python -m dashboard.serve``: the
    libraries imported before it answers, one session opening the pages once it does)."""
    options = ["--server.headless", "true", "--server.port", str(port), "--browser.gatherUsageStats", "false"]
    command = [sys.executable, "-m", *(["dashboard.serve"] if serve else ["streamlit", "run", str(script)]), *options]
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "HCC_STORE": str(store)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return healthy(server, port, f"{script} did not start within 60 s")


def healthy(process: subprocess.Popen, port: int, failure: str) -> subprocess.Popen:
    """``process`` once the dashboard's health check answers on ``port`` (directly or through the proxy)."""
    if wait_until_healthy(port, 60):
        return process
    process.kill()
    raise SystemExit(failure)


def start_proxy(ports: list[int], port: int, folder: Path) -> subprocess.Popen:
    """nginx on ``port`` in front of the dashboards on ``ports``, configured by deploy/nginx.conf."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("--replicas needs nginx: apt-get install -y nginx-light")
    config = (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    config = re.sub(r"^\s*server dashboard:8501;.*$", servers, config, flags=re.MULTILINE)
    config = config.replace("listen 80;", f"listen 127.0.0.1:{port};")
    config = config.replace("worker_processes auto;", f"worker_processes 1;\npid {folder}/nginx.pid;")
    config = config.replace("http {", f"http {{\n    access_log off;\n    client_body_temp_path {folder};", 1)
    (folder / "nginx.conf").write_text(config, encoding="utf-8")
    proxy = subprocess.Popen(
        [nginx, "-c", str(folder / "nginx.conf"), "-e", str(folder / "error.log"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return healthy(proxy, port, f"nginx did not start: {folder / 'error.log'}")


async def one_user(url: str, moves: int, times: dict[str, list[float]]) -> None:
    async with Session(url) as session:
        times["Overview (first load)"].append(await session.rerun())
        times["ROC page"].append(await session.rerun("ROC"))
        if "roc_mode" not in session.widgets:
            raise RuntimeError("the ROC page showed no threshold choice: is the store's demo run a binary study?")
        fixed = {"roc_mode": "one threshold (slider)"}
        times["ROC: fixed threshold"].append(await session.rerun("ROC", fixed, fragment="roc_mode"))
        for step in range(moves):
            moved = {**fixed, "roc_threshold": round(0.2 + 0.1 * step, 2)}
            times["ROC slider move"].append(await session.rerun("ROC", moved, fragment="roc_threshold"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--moves", type=int, default=5)
    parser.add_argument("--waves", type=int, default=2)
    parser.add_argument("--warmup", action="store_true", help="one session opens the pages before the waves")
    parser.add_argument("--serve", action="store_true", help="start the dashboard(s) with python -m dashboard.serve")
    parser.add_argument("--replicas", type=int, default=0, help="N dashboards behind nginx (deploy/nginx.conf)")
    parser.add_argument("--idle", type=float, default=0, help="seconds idle after the waves before memory is read")
    args = parser.parse_args()
    if not (args.store / "DEMO_RUN").exists():
        raise SystemExit(f"no demo run in {args.store}: run `make demo` (or `python -m engine demo`) first.")
    ports = [free_port() for _ in range(max(args.replicas, 1))]
    servers = [start_server(args.store.resolve(), p, serve=args.serve) for p in ports]
    processes = [psutil.Process(server.pid) for server in servers]
    folder = Path(tempfile.mkdtemp(prefix="load-test-"))
    proxy = None
    if args.replicas:
        entry = free_port()
        proxy = start_proxy(ports, entry, folder)
    url = f"ws://127.0.0.1:{entry if proxy else ports[0]}/_stcore/stream"

    def memory() -> float:
        return sum(process.memory_info().rss for process in processes) / 2**20

    try:
        where = f"{args.replicas} dashboards behind nginx" if proxy else "one dashboard"
        print(
            f"{args.sessions} concurrent sessions per wave, {where}, {os.cpu_count()} CPU cores; server RSS at "
            f"start {memory():.0f} MiB"
        )
        if args.warmup:
            asyncio.run(warm_up(url, len(servers)))
            print(f"after the warm-up session(s): server RSS {memory():.0f} MiB")
        for wave in range(1, args.waves + 1):
            times: dict[str, list[float]] = {
                "Overview (first load)": [],
                "ROC page": [],
                "ROC: fixed threshold": [],
                "ROC slider move": [],
            }
            started = time.perf_counter()

            async def run_wave() -> None:
                await asyncio.gather(*(one_user(url, args.moves, times) for _ in range(args.sessions)))

            asyncio.run(run_wave())
            print(f"wave {wave}: {time.perf_counter() - started:.1f} s wall, server RSS {memory():.0f} MiB after it")
            for step, values in times.items():
                print(
                    f"  {step:<22} p50 {1000 * statistics.median(values):6.0f} ms   "
                    f"p95 {1000 * percentile(values, 0.95):6.0f} ms   ({len(values)} page views)"
                )
        if args.idle:
            time.sleep(args.idle)
            print(f"after {args.idle:.0f} s idle: server RSS {memory():.0f} MiB")
    finally:
        for process in [*servers, *([proxy] if proxy else [])]:
            process.terminate()
            process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


async def warm_up(url: str, replicas: int) -> None:
    """Sessions that open the Overview and the ROC page once (through the proxy: enough to reach every replica)."""
    for _ in range(4 * replicas if replicas > 1 else 1):
        async with Session(url) as session:
            await session.rerun()
            await session.rerun("ROC")


if __name__ == "__main__":
    main()
