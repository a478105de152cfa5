"""Time from asking for a dashboard page to its first chart, in headless Chromium (one run; not part of the tests).

    .venv/bin/python benchmarks/page_load.py [--store store] [--visits 10] [--out benchmarks/page_load.csv] [page ...]

Starts the dashboard on the store's demo run (``make demo`` writes it) and measures every results page (or the pages
named) two ways:

- **navigate**: a reader moving through the app: the dashboard is open, and a click on the page's link in the
  sidebar starts the clock; it stops when the page's first Plotly chart has drawn its SVG (a page without a chart:
  its first table or image). Every page is visited ``--visits`` + 1 times, round after round; the first visit of
  a page after the server started is reported on its own (it fills the server's result caches: SHAP values, the
  survival models' curves), p50 / p95 / max are over the later visits.
- **fresh**: a new tab opening the page's link (a new Streamlit session): from the request until the first chart,
  again over ``--visits`` loads after a first one. This includes the browser loading and starting Streamlit's
  frontend and Plotly's JavaScript (several MB) for every load; a one-chart control app (``st.plotly_chart`` of two
  points, nothing of ours) measures that floor on the same machine.

Times are taken inside the page (a MutationObserver and ``performance.now()``), so the polling does not count.
Needs Debian's chromium and chromium-driver (``make browser``) and selenium.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_test import ROOT, free_port, start_server  # noqa: E402

sys.path.insert(0, str(ROOT))
from dashboard.pages import SECTIONS  # noqa: E402

# the pages that show a run's results ("": the default page); the Study pages start with a form, not a chart
PAGES = ["" if name == "overview" else name for name, _ in SECTIONS["Results"]]
RUNNING = "[data-testid='stStatusWidget']"
ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
LINKS = "[data-testid='stSidebarNavLink']"
# window.__shown: ms from window.__start (a click, or the navigation's start) to the first chart and the first content
# that were not on the screen before (checked every animation frame)
WATCH = """
window.__shown = {};
window.__start = typeof arguments !== "undefined" && arguments.length ? performance.now() : 0;
const chart = "[data-testid='stPlotlyChart'] .main-svg";
const other = "[data-testid='stDataFrame'] canvas, [data-testid='stTable'] table, [data-testid='stImage'] img";
const before = new Set(document.querySelectorAll(chart + ", " + other));
const fresh = (selector) => Array.from(document.querySelectorAll(selector)).some(
  (node) => !before.has(node) && !node.closest("[data-stale='true']")
);
const look = () => {
  const now = performance.now() - window.__start;
  if (!("chart" in window.__shown) && fresh(chart)) window.__shown.chart = now;
  if (!("content" in window.__shown) && fresh(chart + ", " + other)) window.__shown.content = now;
  if (!("chart" in window.__shown)) requestAnimationFrame(look);
};
requestAnimationFrame(look);
"""
CONTROL_APP = """
import plotly.graph_objects as go
import streamlit as st

st.sidebar.title("control")
st.title("One chart")
st.plotly_chart(go.Figure(go.Scatter(x=[0, 1], y=[0, 1])))
"""


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1500,1100"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def wait_shown(driver: webdriver.Chrome, label: str, timeout: float = 120) -> tuple[float, float | None]:
    """Seconds to the first content and to the first chart (None when the page finished without one)."""
    start, finished = time.perf_counter(), None
    while time.perf_counter() - start < timeout:
        if driver.find_elements(By.CSS_SELECTOR, ERRORS):
            raise SystemExit(f"{label}: the page shows an error")
        shown = driver.execute_script("return window.__shown") or {}
        if "chart" in shown:
            return shown["content"] / 1000, shown["chart"] / 1000
        running = driver.find_elements(By.CSS_SELECTOR, RUNNING)
        if "content" in shown and not running:
            finished = finished or time.perf_counter()
            if time.perf_counter() - finished > 2:
                return shown["content"] / 1000, None
        time.sleep(0.1)
    raise SystemExit(f"{label}: nothing shown within {timeout:.0f} s")


def settle(driver: webdriver.Chrome) -> None:
    """Wait until the script run has finished (no running indicator for half a second)."""
    quiet = None
    for _ in range(1200):
        if driver.find_elements(By.CSS_SELECTOR, RUNNING):
            quiet = None
        elif (quiet := quiet or time.perf_counter()) and time.perf_counter() - quiet > 0.5:
            return
        time.sleep(0.05)


def navigate(driver: webdriver.Chrome, base: str, page: str) -> tuple[float, float | None]:
    wanted = f"{base}/{page}".rstrip("/")
    link = next(
        a for a in driver.find_elements(By.CSS_SELECTOR, LINKS) if a.get_attribute("href").rstrip("/") == wanted
    )
    driver.execute_script(WATCH, "click")
    driver.execute_script("arguments[0].click()", link)
    shown = wait_shown(driver, page or "overview")
    settle(driver)
    return shown


def fresh(driver: webdriver.Chrome, url: str) -> tuple[float, float | None]:
    driver.get("about:blank")
    driver.get(url)
    shown = wait_shown(driver, url)
    settle(driver)
    return shown


def summary(page: str, mode: str, visits: list[tuple[float, float | None]]) -> dict:
    later = visits[1:]
    content = [shown for shown, _ in later]
    charts = [chart for _, chart in later if chart is not None]
    row = {
        "page": page or "overview",
        "mode": mode,
        "first_visit_s": round(visits[0][1] or visits[0][0], 3),
        "content_p95_s": round(percentile(content, 0.95), 3),
        "chart_p50_s": round(statistics.median(charts), 3) if charts else None,
        "chart_p95_s": round(percentile(charts, 0.95), 3) if charts else None,
        "chart_max_s": round(max(charts), 3) if charts else None,
    }
    print(
        f"{row['page']:18s} {mode:8s} first visit {row['first_visit_s']:6.2f} s   first content p95 "
        f"{row['content_p95_s']:5.2f} s   first chart p50 / p95 / max {row['chart_p50_s']} / "
        f"{row['chart_p95_s']} / {row['chart_max_s']} s",
        flush=True,
    )
    return row


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def control_server(folder: Path, port: int) -> subprocess.Popen:
    script = folder / "control.py"
    script.write_text(CONTROL_APP)
    return start_server(folder, port, script)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("pages", nargs="*")
    parser.add_argument("--store", type=Path, default=ROOT / "store")
    parser.add_argument("--visits", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "page_load.csv")
    args = parser.parse_args()
    pages = [p if p != "overview" else "" for p in args.pages] or PAGES
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(args.store.resolve(), port)
    driver = browser()
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
    rows = []
    try:
        driver.get(base)
        wait_shown(driver, "overview")
        settle(driver)
        visits: dict[str, list] = {page: [] for page in pages}
        current = ""
        for _ in range(args.visits + 1):
            for page in pages:
                if page == current:  # leave the page first: a click on the page shown is no visit
                    current = next(p for p in PAGES if p != page)
                    navigate(driver, base, current)
                visits[page].append(navigate(driver, base, page))
                current = page
        rows += [summary(page, "navigate", visits[page]) for page in pages]
        for page in pages:
            rows.append(summary(page, "fresh", [fresh(driver, f"{base}/{page}") for _ in range(args.visits + 1)]))
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        control = control_server(Path(folder), port)
        driver = browser()
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": WATCH})
        try:
            rows.append(summary("control app", "fresh", [fresh(driver, f"http://127.0.0.1:{port}/") for _ in range(6)]))
        finally:
            driver.quit()
            control.terminate()
            control.wait(timeout=30)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
