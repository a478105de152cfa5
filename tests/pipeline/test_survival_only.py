"""A survival-only study (a manifest without a binary label): the CNN learns from the survival endpoint (Cox loss),
the survival models are the study's models, and the dashboard's survival views read the run."""

import pandas as pd
import pytest

from engine.config import parse_config
from engine.errors import ValidationError
from engine.report import methods_text
from engine.stats import concordance_index
from engine.store import RunStore
from engine.pipeline.study import run_study


@pytest.fixture(scope="module")
def survival_run(small_cohort, tmp_path_factory):
    manifest = pd.read_csv(small_cohort).drop(columns=["label"])
    manifest.to_csv(small_cohort.parent / "manifest_survival_only.csv", index=False)
    config = parse_config(
        {
            "name": "survival only",
            "cohort": {"manifest": "manifest_survival_only.csv", "external_centers": ["C3"], "log_transform": ["afp"]},
            "survival_endpoints": ["rfs", "os"],
            "survival": {"time_unit": "months", "horizons": [12]},
            "radiomics": {"preset": "ct_demo", "rings_mm": {}},
            "deep": {"width": 8, "epochs": 3, "folds": 2, "size": 32, "objective": "cox", "endpoint": "os"},
            "grid": {"models": {"Clinical": ["clinical"], "DL": ["deep"]}, "survival_methods": ["LASSO-Cox"]},
            "device": "cpu",
        }
    )
    store = RunStore(tmp_path_factory.mktemp("store_survival_only"))
    return store.load(run_study(config, small_cohort.parent, store, workers=1))


def test_survival_only_study_runs_without_a_label(survival_run):
    run = survival_run
    predictions = run.predictions
    assert "label" not in predictions
    assert set(predictions["model"]) == {
        "Clinical (LASSO-Cox, RFS)",
        "DL (LASSO-Cox, RFS)",
        "Clinical (LASSO-Cox, OS)",
        "DL (LASSO-Cox, OS)",
    }
    assert {"rfs_time", "rfs_event", "os_time", "os_event", "survival_at_12"} <= set(predictions.columns)
    rows = predictions.query("model == 'DL (LASSO-Cox, OS)' and split == 'internal'")
    stored = run.metrics.query("model == 'DL (LASSO-Cox, OS)' and split == 'internal'")["os_c_index"].item()
    assert stored == pytest.approx(
        concordance_index(rows["os_time"], rows["os_event"], rows["prob"]).c_index, rel=1e-12
    )
    assert run.performance() is None and run.grid.empty
    univariable, _ = run.clinical_tables()
    assert set(univariable["endpoint"]) == {"rfs", "os"} and set(univariable["measure"]) == {"HR"}
    assert "trained with the Cox partial-likelihood loss on os" in methods_text(run.config, run.provenance)


def test_a_binary_cnn_objective_needs_the_label(small_cohort, tmp_path):
    manifest = pd.read_csv(small_cohort).drop(columns=["label"])
    manifest.to_csv(small_cohort.parent / "manifest_no_label.csv", index=False)
    config = parse_config(
        {
            "cohort": {"manifest": "manifest_no_label.csv"},
            "survival_endpoints": ["os"],
            "radiomics": {"enabled": False},
            "deep": {"width": 8, "epochs": 1, "folds": 2, "size": 32},
            "device": "cpu",
        }
    )
    with pytest.raises(ValidationError, match="deep.objective: cox"):
        run_study(config, small_cohort.parent, RunStore(tmp_path / "store"))


@pytest.mark.parametrize("page", ["overview", "clinical_factors", "roc", "survival", "nomogram", "features"])
def test_the_dashboard_reads_a_survival_only_run(survival_run, monkeypatch, page):
    """Every survival view renders on it; the binary pages say there is no binary label instead of failing."""
    from streamlit.testing.v1 import AppTest

    from dashboard import cached
    from tests.dashboard.test_app import APP

    root = survival_run.path.parents[1]
    (root / "DEMO_RUN").write_text(survival_run.run_id)
    monkeypatch.setenv("HCC_STORE", str(root))
    monkeypatch.setattr(cached, "STORE", root)
    cached.store.clear(), cached.runs.clear()  # the store handle and run list are cached per process
    try:
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page(f"app_pages/{page}.py").run()
        if (
            page == "survival"
        ):  # the internal cohort of this small study is too small for two risk groups: show training
            at.selectbox(key="survival_split").set_value("train").run()
        assert not at.exception, at.exception
        assert not at.error, [e.value for e in at.error]
        if page == "roc":
            assert any("no binary label" in i.value for i in at.info)
        if page == "features":  # the Grad-CAM gallery says what the CNN learned from
            assert any("Cox partial-likelihood loss on os" in c.value for c in at.caption)
    finally:
        cached.store.clear(), cached.runs.clear()
