"""One end-to-end test in a real headless Chromium (Debian's chromium and chromium-driver, driven by selenium):
load the app on a stored run, switch pages, move the threshold slider, download a PNG of the ROC figure."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dashboard.pages import PAGES, SECTIONS
from dashboard.warm_up import wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")

if not (CHROMIUM and DRIVER):
    if os.environ.get("CI"):
        raise RuntimeError(
            "chromium missing: CI must have chromium and chromium-driver (make test installs them as root: "
            "apt-get install -y chromium chromium-driver); the browser test cannot run."
        )
    pytest.skip(
        "chromium / chromedriver not installed here (apt-get install -y chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def dashboard_process(options: tuple[str, ...] = (), log: Path | None = None, serve: bool = False, **env: str):
    """The dashboard served on a free local port with ``env`` added to its environment and Streamlit's command-line
    ``options`` (``--server.x value``), its output written to ``log``; ``serve``: started by ``python -m
    dashboard.serve`` instead of ``streamlit run``. Yields its URL and its process once it answers."""
    port = free_port()
    command = ["dashboard.serve"] if serve else ["streamlit", "run", str(ROOT / "dashboard" / "app.py")]
    served = ["--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1", *options]
    output = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", *command, *served, "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env={**os.environ, "BROWSER_PATH": CHROMIUM, **env},
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        if not wait_until_healthy(port, 90):
            raise RuntimeError("the dashboard did not start within 90 s")
        yield f"http://127.0.0.1:{port}", process
    finally:
        process.terminate()
        process.wait(timeout=20)
        if log:
            output.close()


@contextlib.contextmanager
def streamlit_server(options: tuple[str, ...] = (), log: Path | None = None, **env: str):
    """dashboard_process started by ``streamlit run``; yields its URL."""
    with dashboard_process(options, log, **env) as (url, _):
        yield url


@pytest.fixture(scope="module")
def server(app_store):
    with streamlit_server(HCC_STORE=str(app_store)) as url:
        yield url


@pytest.fixture()
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(tmp_path), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def heading(driver, text: str, timeout: int = 60) -> None:
    WebDriverWait(driver, timeout).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain'] h1"), text)
    )


def test_browser_end_to_end(server, browser, tmp_path):
    browser.get(server)
    heading(browser, "Overview")
    # the sidebar lists every page under its section, none folded behind "View N more"
    links = browser.find_elements(By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink']")
    assert [link.text for link in links] == [title for _, title in PAGES]
    sidebar = browser.find_element(By.CSS_SELECTOR, "[data-testid='stSidebarNav']").text
    assert "View" not in sidebar and all(section in sidebar for section in SECTIONS)
    WebDriverWait(browser, 60).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, "a[data-testid='stSidebarNavLink'][href$='/roc']"))
    ).click()
    heading(browser, "ROC curves")
    WebDriverWait(browser, 60).until(
        EC.text_to_be_present_in_element((By.XPATH, "//h3[contains(., 'Operating points')]"), "training cutoffs")
    )  # the default: fixed on training
    mode = browser.find_element(By.XPATH, "//label[.//*[contains(text(), 'one threshold (slider)')]]")
    browser.execute_script("arguments[0].click();", mode)
    operating = (By.XPATH, "//h3[contains(., 'Operating point:')]")
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element(operating, "0.500"))
    slider = browser.find_elements(
        By.CSS_SELECTOR, "[data-testid='stMain'] [data-testid='stSlider'] input[type='range']"
    )[0]
    browser.execute_script("arguments[0].focus();", slider)
    for _ in range(5):
        slider.send_keys(Keys.ARROW_RIGHT)
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element(operating, "0.5"))
    WebDriverWait(browser, 60).until(lambda d: "0.500" not in d.find_element(*operating).text)
    moved = browser.find_element(*operating).text
    assert "0.5" in moved and "0.500" not in moved
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element(operating, "0.550"))  # the five moves done
    download = WebDriverWait(browser, 120).until(  # rendered when clicked (on a thread beside the page)
        EC.element_to_be_clickable((By.XPATH, "//button[.//*[contains(text(), 'Download PNG')]]"))
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", download)
    download.click()
    deadline = time.time() + 60
    files = []
    while time.time() < deadline and not files:
        files = [f for f in tmp_path.glob("*.png")]
        time.sleep(0.5)
    assert files, "no PNG was downloaded"
    assert files[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
