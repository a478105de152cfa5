"""Many readers on one server: a threshold move reruns only the ROC page's fragment (over the websocket protocol, as
a browser sends it), and two sessions share the computed results and figures (each computed once)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.client import Session
from tests.dashboard.test_browser import streamlit_server

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"


def test_a_threshold_move_reruns_only_the_operating_point_fragment(app_store):
    async def visit(url: str) -> tuple[list, list, list]:
        async with Session(url) as session:
            await session.rerun()
            await session.rerun("ROC")
            full = session.received
            fixed = {"roc_mode": "one threshold (slider)"}
            await session.rerun("ROC", fixed, fragment="roc_mode")
            await session.rerun("ROC", {**fixed, "roc_threshold": 0.3}, fragment="roc_threshold")
            return full, session.received, [session.fragments["roc_threshold"], session.fragments["sidebar_source"]]

    with streamlit_server(HCC_STORE=str(app_store)) as url:
        full, moved, (fragment, outside) = asyncio.run(visit(url.replace("http://", "ws://") + "/_stcore/stream"))
    assert fragment and outside == ""  # the slider is drawn in a fragment; the sidebar's data source is not
    assert moved and {f for f, _ in moved} == {fragment}  # only the fragment's elements were sent again
    kinds = [kind for _, kind in moved]
    assert kinds.count("plotly_chart") == 2 and "slider" in kinds  # the curves and the radar, redrawn
    assert len(moved) < len(full) and "selectbox" in [kind for _, kind in full]  # the pickers were not redrawn
    assert not {"selectbox", "multiselect"} & set(kinds)


def drawn_in(url: str, page: str) -> dict:
    """Widget key -> the fragment it was drawn in ('' outside any) on ``page``."""

    async def visit() -> dict:
        async with Session(url.replace("http://", "ws://") + "/_stcore/stream") as session:
            await session.rerun()
            await session.rerun(page)
            return session.fragments

    return asyncio.run(visit())


def test_the_nomogram_calculator_and_the_survival_risk_groups_are_fragments(app_store):
    """Entering a patient's value reruns the calculator, not the page (the model is not refitted); the survival
    page's cutoff rule reruns the risk groups only (not the C-index or time-dependent AUC)."""
    with streamlit_server(HCC_STORE=str(app_store)) as url:
        nomogram, survival = drawn_in(url, "Nomogram"), drawn_in(url, "Survival")
    inputs = {key: fragment for key, fragment in nomogram.items() if key.startswith("nomogram_in_")}
    assert inputs and all(inputs.values())  # every calculator input is drawn in a fragment
    assert nomogram["nomogram_kind"] == ""  # the outcome choice refits the model: a full rerun
    assert survival["survival_method"] and survival["survival_model_binary"] == survival["survival_method"]
    assert survival["survival_split"] == "" and survival["survival_endpoint"] == ""  # they change every section


def test_the_calibration_and_decision_curve_controls_rerun_only_their_curves(app_store):
    """The risk groups and the curve method rerun the calibration curves and tests, the threshold range and the
    measure the decision curves; the cohort pickers (above the fragments) rerun the page."""
    with streamlit_server(HCC_STORE=str(app_store)) as url:
        calibration, decision = drawn_in(url, "Calibration"), drawn_in(url, "Decision curves")
    assert calibration["calibration_bins"] and calibration["calibration_method"] == calibration["calibration_bins"]
    assert calibration["calibration_split"] == ""
    assert decision["dca_range"] and decision["dca_y"] == decision["dca_range"] and decision["dca_split"] == ""


def counting(cached_function, monkeypatch) -> list:
    """Record each computation of a cached function (a cache hit computes nothing)."""
    calls = []
    function = cached_function._info.func

    def counted(*args, **kwargs):
        calls.append(1)
        return function(*args, **kwargs)

    monkeypatch.setattr(cached_function._info, "func", counted)
    return calls


def roc_page(store, monkeypatch) -> AppTest:
    from dashboard import cached

    monkeypatch.setenv("HCC_STORE", str(store))
    monkeypatch.setattr(cached, "STORE", store)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("app_pages/roc.py").run()
    at.radio(key="roc_mode").set_value("fixed").run()
    at.slider(key="roc_threshold").set_value(0.3).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name", ["run_tables", "operating_point", "flowchart_figure", "grid_heatmap", "forest_figure"])
def test_two_sessions_share_results_and_figures(app_store, monkeypatch, name):
    from dashboard import cached

    function = getattr(cached, name)
    function.clear()
    calls = counting(function, monkeypatch)
    first = roc_page(app_store, monkeypatch)
    computed = len(calls)
    assert computed > 0
    second = roc_page(app_store, monkeypatch)  # another browser session, the same run and settings
    assert len(calls) == computed, f"{name} was computed again for the second session"
    assert first.session_state["roc_threshold"] == second.session_state["roc_threshold"] == 0.3


def test_pages_leave_the_shared_run_tables_as_they_were(app_store, monkeypatch):
    """Shared tables are one object in every session: a page that changed one would change it for everyone."""
    from dashboard import cached
    from dashboard.pages import PAGE_FILES

    tables = roc_page(app_store, monkeypatch)
    run_id = tables.session_state["sidebar_run"]
    shared = cached.run_tables(run_id)
    before = {name: cached.frame_digest(t.copy()) for name, t in shared.items() if hasattr(t, "columns")}
    for page in PAGE_FILES:
        tables.switch_page(f"app_pages/{page}.py").run()
    after = {name: cached.frame_digest(t.copy()) for name, t in shared.items() if hasattr(t, "columns")}
    assert after == before and cached.run_tables(run_id) is shared
