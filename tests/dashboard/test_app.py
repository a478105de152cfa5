"""AppTest: every page renders on a stored run and on an upload; the widgets move the numbers."""

import io
from pathlib import Path

import numpy as np
import pandas as pd

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.pages import PAGE_FILES
from engine.stats import threshold_metrics
from tests.dashboard.conftest import predictions_table

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def app(store, monkeypatch) -> AppTest:
    monkeypatch.setenv("HCC_STORE", str(store))
    from dashboard import cached

    monkeypatch.setattr(cached, "STORE", store)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    return at


def test_the_page_list_names_every_page_file_once():
    files = sorted(path.stem for path in (APP.parent / "app_pages").glob("*.py"))
    assert sorted(PAGE_FILES) == files and len(set(PAGE_FILES)) == len(PAGE_FILES)


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_renders_on_a_run(app_store, monkeypatch, page):
    at = app(app_store, monkeypatch)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title and at.title[0].value


def test_threshold_slider_moves_the_operating_point(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/roc.py").run()
    at.selectbox(key="roc_split").set_value("internal").run()
    at.radio(key="roc_mode").set_value("fixed").run()
    at.slider(key="roc_threshold").set_value(0.3).run()
    low = at.dataframe[0].value.set_index("Model")
    at.slider(key="roc_threshold").set_value(0.7).run()
    high = at.dataframe[0].value.set_index("Model")
    sensitivity_low = float(low.loc["Rad", "Sensitivity"].split()[0])
    sensitivity_high = float(high.loc["Rad", "Sensitivity"].split()[0])
    assert sensitivity_high < sensitivity_low
    rows = predictions_table().query("split == 'internal' and model == 'Rad'")
    assert sensitivity_high == pytest.approx(threshold_metrics(rows["label"], rows["prob"], 0.7).sensitivity, abs=5e-4)


def test_roc_page_defaults_to_each_models_training_cutoff(app_store, monkeypatch):
    """Validation sensitivity is computed at the Youden cutoff of the model's training predictions (stored with the
    run), not at one re-learned on the validation cohort; re-learning is labelled optimistic."""
    from engine.stats import youden_threshold

    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/roc.py").run()
    assert at.radio(key="roc_mode").value == "training"
    at.selectbox(key="roc_split").set_value("external").run()
    table = at.dataframe[0].value.set_index("Model")
    predictions = predictions_table()
    for model in ("Clinical", "Rad", "Combined"):
        train = predictions.query("split == 'train' and model == @model")
        cutoff = youden_threshold(train["label"], train["prob"]).threshold
        rows = predictions.query("split == 'external' and model == @model")
        expected = threshold_metrics(rows["label"], rows["prob"], cutoff)
        assert float(table.loc[model, "Sensitivity"].split()[0]) == pytest.approx(expected.sensitivity, abs=5e-4)
        assert float(table.loc[model, "Specificity"].split()[0]) == pytest.approx(expected.specificity, abs=5e-4)
    at.radio(key="roc_mode").set_value("youden").run()
    assert any("optimistic" in w.value for w in at.warning)


@pytest.mark.parametrize("page, key", [("calibration", "calibration_models"), ("decision_curves", "dca_models")])
def test_a_reference_score_enters_probability_pages_as_its_training_recalibration(app_store, monkeypatch, page, key):
    at = app(app_store, monkeypatch)
    at.switch_page(f"app_pages/{page}.py").run()
    at.multiselect(key=key).set_value(["Rad", "Stage (reference)"]).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("logistic recalibration fitted on the training cohort" in c.value for c in at.caption)


@pytest.fixture(scope="module")
def strata_store(tmp_path_factory):
    """A stratified run (two treatments) built from the app tables: one run per stratum and the pooled parent."""
    from engine.config import parse_config
    from engine.views.performance import learn_cutoffs, performance_table
    from engine.store import RunStore
    from engine.pipeline.strata import _write_parent

    root = tmp_path_factory.mktemp("strata_store")
    store = RunStore(root)
    predictions = predictions_table()
    predictions["treatment"] = np.where(predictions["patient_id"].str[-1].astype(int) % 2 == 0, "TACE", "resection")
    runs = {}
    for level, rows in predictions.groupby("treatment"):
        folder = root / f"tables_{level}"
        folder.mkdir()
        performance_table(rows, learn_cutoffs(rows)).to_csv(folder / "performance.csv", index=False)
        store.write(
            f"stratum{level:0>11}"[:17],
            config={"name": level},
            predictions=rows,
            grid=pd.DataFrame(),
            selected=pd.DataFrame(),
            metrics=pd.DataFrame(),
            provenance={"name": f"stratum {level}", "models": list(rows["model"].unique())},
            artifacts=[folder / "performance.csv"],
        )
        runs[level] = f"stratum{level:0>11}"[:17]
    config = parse_config({"name": "per treatment", "cohort": {"feature_table": "x.csv"}, "strata": "treatment"})
    _write_parent(config, store, "parent0000000001", runs)
    (root / "DEMO_RUN").write_text("parent0000000001")
    return root


def test_a_stratified_run_has_a_stratum_picker(strata_store, monkeypatch):
    from dashboard import cached

    cached.store.clear(), cached.runs.clear()  # the store handle and run list are cached per process: clear around
    try:
        at = app(strata_store, monkeypatch)
        assert not at.exception, at.exception
        picker = at.selectbox(key="sidebar_stratum")
        assert picker.options[1:] == ["TACE", "resection"]
        assert any("A stratified run" in i.value for i in at.info)  # the pooled view says cutoffs are per stratum
        picker.set_value("TACE").run()
        assert not at.exception and not at.error
        assert any("Performance by cohort" in h.value for h in at.subheader)
        assert any("120 of 120 patients" in c.value for c in at.sidebar.caption)
    finally:
        cached.store.clear(), cached.runs.clear()


def test_clinical_factors_page_shows_stored_and_computed_tables(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/clinical_factors.py").run()
    paper = at.dataframe[0].value
    assert "Univariable OR (95% CI)" in paper.columns and any(paper["Variable"].str.startswith("sex=M (vs F)"))
    at.radio(key="clinical_endpoint").set_value("rfs").run()  # no stored HR table in this run: computed on training
    assert not at.exception and not at.error
    assert "Univariable HR (95% CI)" in at.dataframe[0].value.columns


def test_survival_page_switches_to_survival_model_risks(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/survival.py").run()
    at.radio(key="survival_source").set_value("survival models (Cox / LASSO-Cox / RSF)").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="survival_model_survival").options == ["Rad (LASSO-Cox)", "Combined (LASSO-Cox)"]
    assert "slider" not in at.radio(key="survival_method").options


def test_survival_page_at_a_horizon_equals_engine_stats(app_store, monkeypatch):
    """Calibration and decision curves at 24 months on the page equal engine.stats on the same rows; the paired
    C-index table equals compare_c_index; axes say the unit."""
    import numpy as np

    from engine.stats import compare_c_index, survival_calibration

    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/survival.py").run()
    at.radio(key="survival_source").set_value("survival models (Cox / LASSO-Cox / RSF)").run()
    at.selectbox(key="survival_split").set_value("internal").run()
    at.selectbox(key="survival_curve_horizon").set_value(24.0).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    survival = predictions_table().query("model in ['Rad', 'Combined'] and split == 'internal'")
    risk = np.log(survival["prob"] / (1 - survival["prob"]))
    surv24 = np.exp(-24 / 24 * np.exp(risk))
    rad = survival["model"] == "Rad"
    expected = survival_calibration(survival.loc[rad, "rfs_time"], survival.loc[rad, "rfs_event"], surv24[rad], 24.0)
    shown = [d.value for d in at.dataframe if "Observed" in d.value.columns][0]  # labels as a paper prints them
    np.testing.assert_allclose(shown["Observed"], expected["observed"].round(3), atol=1e-12)
    pairs = [d.value for d in at.dataframe if "Model A" in d.value.columns][0]
    a, b = survival[rad], survival[~rad]
    c = compare_c_index(
        a["rfs_time"],
        a["rfs_event"],
        np.log(a["prob"] / (1 - a["prob"])),
        np.log(b["prob"].to_numpy() / (1 - b["prob"].to_numpy())),
    )
    assert pairs["Difference"].iloc[0] == pytest.approx(round(c.diff, 3), abs=1e-12)
    assert any("Predicted survival at 24 months" in str(chart.proto) for chart in at.get("plotly_chart"))


def test_horizon_decision_curves_equal_engine_stats():
    """engine.views.horizons feeds survival_decision_curve each model's risk by the horizon, 1 - S(h | x), on the
    cohort's rows."""
    import numpy as np

    from engine.views.horizons import horizon_decision_curves
    from engine.common.predictions import survival_as_predictions
    from engine.stats import survival_decision_curve

    table = (
        predictions_table()
        .query("model in ['Rad', 'Combined']")
        .rename(columns={"prob": "risk", "rfs_time": "time", "rfs_event": "event"})
    )
    table = table.assign(endpoint="rfs", method="Cox", survival_at_24=np.exp(-np.exp(table["risk"])))
    predictions = survival_as_predictions(table, "rfs")
    thresholds = np.round(np.arange(0, 0.9, 0.05), 2)
    ours = horizon_decision_curves(predictions, "rfs", "internal", ["Rad (Cox)", "Combined (Cox)"], 24.0, thresholds)
    rows = table[table["split"] == "internal"]
    rad, combined = (
        rows[rows["model"] == "Rad"],
        rows[rows["model"] == "Combined"].set_index("patient_id").loc[rows.loc[rows["model"] == "Rad", "patient_id"]],
    )
    expected = survival_decision_curve(
        rad["time"],
        rad["event"],
        {"Rad (Cox)": 1 - rad["survival_at_24"], "Combined (Cox)": 1 - combined["survival_at_24"].to_numpy()},
        24.0,
        thresholds=thresholds,
    )
    np.testing.assert_allclose(ours["net_benefit"], expected["net_benefit"], rtol=1e-12)


def test_survival_page_uses_the_cutoff_stored_with_the_run(app_store, monkeypatch):
    import numpy as np

    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/survival.py").run()
    at.selectbox(key="survival_model_binary").set_value("Rad").run()
    train = predictions_table().query("split == 'train' and model == 'Rad'")
    expected = f"Cutoff {np.median(train['prob']):.4g} (median): learned on the training cohort when the run was built"
    assert any(c.value.startswith(expected) for c in at.caption), [c.value for c in at.caption]
    at.multiselect(key="filter_sex").set_value(["M"]).run()
    assert any("re-learned on the filtered training cohort" in c.value for c in at.caption)


def test_an_upload_stays_in_its_browser_session(app_store, monkeypatch):
    """A second session (another browser) with an empty uploader sees nothing of the first session's upload."""
    from streamlit.delta_generator import DeltaGenerator

    first = uploaded_app(app_store, monkeypatch, _wide_upload())
    assert any("120 of 120 patients" in c.value for c in first.sidebar.caption)
    monkeypatch.setattr(DeltaGenerator, "file_uploader", lambda self, *args, **kwargs: None)
    second = app(app_store, monkeypatch)
    second.radio(key="sidebar_source").set_value("Upload a predictions table").run()
    assert not any("patients" in c.value for c in second.sidebar.caption)
    second.switch_page("app_pages/roc.py").run()
    assert "Choose a run" in second.info[0].value


def test_the_report_of_an_upload_downloads_from_the_overview(app_store, monkeypatch):
    at = uploaded_app(app_store, monkeypatch, _wide_upload(n=60))
    at.multiselect(key="filter_sex").set_value(["M"]).run()
    at.toggle(key="overview_report").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "restricted to the what-if sub-cohort" in at.toggle(key="overview_report").label
    assert any(b.proto.label == "Download report.zip" for b in at.get("download_button"))


def test_a_filter_changes_n(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    before = [c.value for c in at.sidebar.caption if "patients" in c.value][0]
    at.multiselect(key="filter_sex").set_value(["F"]).run()
    after = [c.value for c in at.sidebar.caption if "patients" in c.value][0]
    assert before.startswith("240 of 240") and after != before and "(filtered)" in after
    n_female = predictions_table().drop_duplicates("patient_id")["sex"].eq("F").sum()
    assert after.startswith(f"{n_female} of 240")


class _UploadedFile:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def _wide_upload(n: int = 120) -> bytes:
    table = (
        predictions_table(n=n)
        .pivot_table(
            index=["patient_id", "split", "label", "rfs_time", "rfs_event", "sex", "age"],
            columns="model",
            values="prob",
        )
        .reset_index()
    )
    table.columns.name = None
    return table.to_csv(index=False).encode()


def uploaded_app(store, monkeypatch, data: bytes, name: str = "predictions.csv") -> AppTest:
    """The app with a file in the sidebar's uploader (AppTest cannot drive a file uploader itself)."""
    from streamlit.delta_generator import DeltaGenerator

    monkeypatch.setattr(DeltaGenerator, "file_uploader", lambda self, *args, **kwargs: _UploadedFile(name, data))
    at = app(store, monkeypatch)
    at.radio(key="sidebar_source").set_value("Upload a predictions table").run()
    return at


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_renders_on_an_uploaded_wide_table(app_store, monkeypatch, page):
    at = uploaded_app(app_store, monkeypatch, _wide_upload())
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("120 of 120 patients" in c.value for c in at.sidebar.caption)


def test_a_bad_upload_shows_one_message_and_nothing_breaks(app_store, monkeypatch):
    bad = b"patient_id,split,label,Rad\nP1,train,1,0.4\nP1,train,2,0.7\nP2,internal,1,0.2\nP3,internal,1,0.3\n"
    at = uploaded_app(app_store, monkeypatch, bad)
    assert not at.exception
    messages = [e.value for e in at.sidebar.error]
    assert len(messages) == 1 and "patient_id must be unique" in messages[0] and "got 'P1'" in messages[0]
    assert "label must be coded 0/1" in messages[0] and "got 2 in 1 row(s): row 3 (P1)" in messages[0]
    at.switch_page("app_pages/roc.py").run()
    assert not at.exception and "Choose a run" in at.info[0].value


def test_a_bad_upload_lists_every_problem():
    from engine.errors import ValidationError
    from engine.views.uploads import read_predictions

    bad = b"patient_id,split,label,Rad\nP1,train,1,0.4\nP1,train,2,0.7\nP2,internal,1,0.2\nP3,internal,1,0.3\n"
    with pytest.raises(ValidationError) as info:
        read_predictions(bad, "bad.csv")
    message = str(info.value)
    assert (
        "patient_id must be unique (each patient appears once); got 'P1' in 2 row(s): row 2 (P1), row 3 (P1)" in message
    )
    assert "label must be coded 0/1" in message and "Fix: recode the column to 0/1" in message
    assert read_predictions(b"patient_id,label,A\n1,0,0.1\n2,1,0.9\n3,0,0.2\n4,1,0.7\n", "ok.csv")[
        "model"
    ].unique().tolist() == ["A"]
    with pytest.raises(ValidationError, match="CSV or XLSX file; got 'evil.pkl'"):
        read_predictions(b"x", "evil.pkl")
    single = b"patient_id,split,label,A\n1,internal,1,0.1\n2,internal,1,0.9\n3,train,0,0.2\n4,train,1,0.7\n"
    with pytest.raises(ValidationError, match="single class"):
        read_predictions(single, "single.csv")


def test_a_damaged_run_is_marked_and_the_others_stay_usable(app_store, tmp_path, monkeypatch):
    """A copy of the run with a truncated predictions.parquet: the picker labels it damaged, choosing it says which
    file and how to rebuild or remove it, and the intact run (the default) still renders."""
    import shutil

    from dashboard import cached

    root = tmp_path / "store"
    shutil.copytree(app_store, root)
    good = (root / "DEMO_RUN").read_text().strip()
    shutil.copytree(root / "runs" / good, root / "runs" / "0000damaged0000")
    broken = root / "runs" / "0000damaged0000" / "predictions.parquet"
    broken.write_bytes(broken.read_bytes()[:100])
    cached.store.clear(), cached.runs.clear(), cached.run_tables.clear()
    try:
        at = app(root, monkeypatch)
        picker = at.sidebar.selectbox(key="sidebar_run")
        assert picker.value == good and not at.error
        assert picker.format_func("0000damaged0000").endswith("- damaged")
        picker.set_value("0000damaged0000").run()
        assert not at.exception
        assert "This run is damaged" in at.sidebar.error[0].value
        message = at.main.error[0].value
        assert (
            "other runs in the store are not affected" in message
            and "predictions.parquet" in message
            and "--force" in message
            and "runs rm 0000damaged0000" in message
        )
        picker.set_value(good).run()
        assert not at.exception and not at.error and at.title
    finally:
        cached.store.clear(), cached.runs.clear(), cached.run_tables.clear()


def _scored_upload(splits: bool = True) -> bytes:
    table = pd.read_csv(io.BytesIO(_wide_upload()))
    table["Cox LP (score)"] = np.round(np.log(table["Rad"] / (1 - table["Rad"])) * 1.3 + 0.2, 4)
    table["points"] = np.round(100 * table["Combined"], 1)
    if not splits:
        table = table.drop(columns="split")
    return table.to_csv(index=False).encode()


def test_an_upload_with_raw_scores_lists_every_role_and_recalibrates_on_training(app_store, monkeypatch):
    at = uploaded_app(app_store, monkeypatch, _scored_upload())
    assert not at.exception and not at.sidebar.error
    roles = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Probability models**: Clinical, Combined, DL, Rad" in roles
    assert "**Raw risk scores, recalibrated on the training cohort**: Cox LP (score)" in roles
    assert "**Cohort columns**:" in roles and "points" in roles and "**Outcomes**: label, rfs_time, rfs_event" in roles
    picker = at.sidebar.multiselect(key="upload_score_columns")
    assert "points" in picker.options and "age" in picker.options
    picker.set_value(["points"]).run()
    roles = " ".join(m.value for m in at.sidebar.markdown)
    assert "**Raw risk scores, recalibrated on the training cohort**: Cox LP (score), points" in roles
    at.switch_page("app_pages/calibration.py").run()
    assert not at.exception and not at.error
    at.multiselect(key="calibration_models").set_value(["Rad", "Cox LP (score)"]).run()
    assert not at.exception and not at.error
    assert any("Cox LP (score): uploaded as a raw risk score" in c.value for c in at.caption)


def test_raw_scores_without_a_training_cohort_are_left_out_of_probability_pages_with_the_reason(app_store, monkeypatch):
    at = uploaded_app(app_store, monkeypatch, _scored_upload(splits=False))
    assert not at.exception
    roles = " ".join(m.value for m in at.sidebar.markdown)
    assert "not recalibrated (no training cohort with both classes)**: Cox LP (score)" in roles
    for page, key in (("calibration", "calibration_models"), ("decision_curves", "dca_models")):
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception and not at.error
        assert "Cox LP (score)" not in at.multiselect(key=key).options
        assert any("Cox LP (score) is a raw risk score" in w.value and "train split" in w.value for w in at.warning)
    at.switch_page("app_pages/roc.py").run()
    assert not at.exception and not at.error  # ROC takes the raw score as it is


def test_overview_opens_with_what_the_run_is(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    first = at.markdown[0].value
    assert first.startswith("App test run: 240 patients (train ") and "endpoints: binary label and RFS" in first
    assert "4 models and 1 reference score" in first


def test_tables_show_human_labels_and_formatted_p_values(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/calibration.py").run()
    shown = at.dataframe[0].value
    assert {"Model", "Calibration slope", "Hosmer–Lemeshow p", "Brier score"} <= set(shown.columns)
    assert all(
        isinstance(v, str) and (v == "< 0.001" or len(v.split(".")[-1]) == 3) for v in shown["Hosmer–Lemeshow p"]
    )


def test_nomogram_calculator_shows_readable_intervals_and_the_patients_survival_curve(app_store, monkeypatch):
    at = app(app_store, monkeypatch)
    at.switch_page("app_pages/nomogram.py").run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric] == ["Total points", "Probability"]
    band = [c.value for c in at.caption if c.value.startswith("95% CI ")][0]
    low, high = (float(v) for v in band.removeprefix("95% CI ").split(" to "))
    assert low < float(at.metric[1].value) < high
    charts = len(at.get("plotly_chart"))
    at.radio(key="nomogram_kind").set_value("survival:rfs").run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric][1:] == ["12-month survival", "24-month survival"]
    assert len(at.get("plotly_chart")) == charts + 1  # the patient's survival curve with its band


def test_a_failed_figure_export_is_explained_beside_the_buttons(app_store, monkeypatch):
    """A download whose Chromium fails: the browser only flashes "Failed to generate file for download"; the next
    page run names the reason and the fix beside every figure's buttons, until an export succeeds."""
    from dashboard import state
    from engine import plots
    from engine.errors import ValidationError

    monkeypatch.setattr(plots, "chromium_path", lambda: "/usr/bin/chromium")  # found, but it fails to start
    failure = "static figure export failed: the Chromium at /usr/bin/chromium did not start"

    def broken(figure, fmt):
        raise ValidationError(failure)

    monkeypatch.setattr(plots, "export_figure", broken)
    monkeypatch.setattr(state, "EXPORT_FAILURE", {})
    at = app(app_store, monkeypatch)
    assert not [w for w in at.warning if "figure download failed" in w.value]
    with pytest.raises(ValidationError):
        state.export_figure(None, "png")  # what the PNG button runs when clicked
    at.run()
    figures = [b for b in at.get("download_button") if b.proto.label == "Download PNG"]
    assert len(figures) >= 2  # the flowchart, the model grid, ...
    assert [w.value for w in at.warning if "figure download failed" in w.value] == [
        f"The last figure download failed: {failure}"
    ] * len(figures)  # beside each figure's buttons
    monkeypatch.setattr(plots, "export_figure", lambda figure, fmt: b"png bytes")
    assert state.export_figure(None, "png") == b"png bytes"
    at.run()
    assert not [w for w in at.warning if "figure download failed" in w.value]
