"""The whole study from the browser, end to end in headless Chromium: upload a small feature table on the New study
page, confirm the proposed roles, set a quick search, Train; the dashboard's runner trains the job while the Jobs
page follows it; open the new run's ROC page; predict two new patients on the Predict page and download them."""

import io
import time

import pandas as pd
import pytest

from tests.dashboard.test_browser import heading, streamlit_server
from tests.dashboard.test_browser import browser  # noqa: F401 - the Chromium fixture
from tests.system.test_table_checks import breast_table

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


MAIN_FILE = "[data-testid='stMain'] input[type=file]"  # the page's uploader, not the sidebar's


@pytest.fixture()
def server(tmp_path):
    env = {"HCC_STORE": str(tmp_path / "store"), "HCC_DATA_ROOT": str(tmp_path / "studies"), "HCC_JOB_WORKERS": "1"}
    with streamlit_server(**env) as url:
        yield url


def click_button(driver, text: str, timeout: int = 60) -> None:
    button = WebDriverWait(driver, timeout).until(
        EC.element_to_be_clickable((By.XPATH, f"//button[normalize-space(.)='{text}']"))
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()


def set_number(driver, label: str, value: int) -> None:
    field = driver.find_element(
        By.XPATH, f"//div[@data-testid='stNumberInput'][.//*[contains(text(), '{label}')]]//input"
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
    field.click()
    field.send_keys("\ue009a")  # Ctrl+A
    field.send_keys(str(value), "\ue007")  # Enter
    time.sleep(1.0)


def test_a_study_from_the_browser(server, browser, tmp_path):  # noqa: F811 - the fixture
    table = breast_table()
    table.to_csv(tmp_path / "features.csv", index=False)
    new = breast_table(122).iloc[120:].drop(columns=["label", "rfs_time", "rfs_event", "center"])
    new.to_csv(tmp_path / "two_new_patients.csv", index=False)

    browser.get(f"{server}/new_study")
    heading(browser, "New study")
    WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, MAIN_FILE)))
    browser.find_element(By.CSS_SELECTOR, MAIN_FILE).send_keys(str(tmp_path / "features.csv"))
    WebDriverWait(browser, 60).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain']"), "What each column is")
    )
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element((By.TAG_NAME, "code"), "feature_table"))
    set_number(browser, "Cross-validation folds", 3)
    set_number(browser, "Candidates per classifier", 1)
    WebDriverWait(browser, 60).until(EC.text_to_be_present_in_element((By.TAG_NAME, "code"), "folds: 3"))
    click_button(browser, "Train")
    WebDriverWait(browser, 60).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain']"), "Queued as job")
    )

    browser.get(f"{server}/jobs")
    heading(browser, "Jobs")
    WebDriverWait(browser, 300).until(  # the runner trains it; the page redraws every 2 s
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain']"), "· finished")
    )
    click_button(browser, "Open its run")
    heading(browser, "Overview")
    browser.get(f"{server}/roc")  # a new session: the store's only run is the default
    heading(browser, "ROC curves")
    WebDriverWait(browser, 60).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='stMain'] [data-testid='stPlotlyChart']"))
    )

    browser.get(f"{server}/predict")
    heading(browser, "Predict")
    WebDriverWait(browser, 60).until(EC.presence_of_element_located((By.CSS_SELECTOR, MAIN_FILE)))
    browser.find_element(By.CSS_SELECTOR, MAIN_FILE).send_keys(str(tmp_path / "two_new_patients.csv"))
    click_button(browser, "Predict")
    WebDriverWait(browser, 120).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid='stMain']"), "2 new patients scored by")
    )
    click_button(browser, "CSV")
    deadline = time.time() + 60
    files: list = []
    while time.time() < deadline and not files:
        files = [f for f in tmp_path.glob("predictions_*.csv")]
        time.sleep(0.5)
    assert files, "no CSV was downloaded"
    downloaded = pd.read_csv(io.StringIO(files[0].read_text()))
    assert set(downloaded["patient_id"]) == {"P120", "P121"} and downloaded["prob"].between(0, 1).all()
