"""A small image study end to end: manifest -> radiomics + deep features -> grid -> store; then the frozen
pipelines on the same patients (predict) and the HTML report."""

import io
from pathlib import Path
import zipfile

import numpy as np
import pandas as pd
import pytest

from engine.config import parse_config
from engine.errors import ValidationError
from engine.report import methods_text, report_zip
from engine.store import RunStore
from engine.pipeline.new_patients import predict_new
from engine.features.radiomics import extraction_options
from engine.pipeline.inputs import run_config
from engine.pipeline.study import run_study


@pytest.fixture(scope="module")
def image_run(small_cohort, tmp_path_factory):
    config = parse_config(
        {
            "name": "small image study",
            "cohort": {"manifest": "manifest.csv", "external_centers": ["C3"], "log_transform": ["afp"]},
            "radiomics": {"preset": "ct_demo", "rings_mm": {"ring3": 3}, "icc_threshold": 0.75},
            "deep": {
                "width": 8,
                "epochs": 3,
                "folds": 2,
                "size": 32,
                "objective": "cox",
                "endpoint": "rfs",
            },  # CNN trained on RFS
            "grid": {
                "models": {
                    "Clinical": ["clinical"],
                    "Rad": ["radiomics"],
                    "DL": ["deep"],
                    "Combined": ["clinical", "radiomics", "deep"],
                },
                "classifiers": ["LR"],
                "n_iter": 1,
                "folds": 3,
                "survival_models": True,
                "survival_methods": ["LASSO-Cox"],
                "clinical_selection": "multivariable",
            },
            "reference_scores": {"BCLC": {"column": "bclc", "order": ["0", "A", "B", "C"]}},
            "survival": {"time_unit": "months", "horizons": [12, 24]},
            "device": "cpu",
        }
    )
    store = RunStore(tmp_path_factory.mktemp("store"))
    run_id = run_study(config, small_cohort.parent, store, workers=2)
    return store.load(run_id), small_cohort


def test_image_study_stores_everything(image_run):
    run, _ = image_run
    assert set(run.predictions["split"]) == {"train", "internal", "external_C3"}
    assert {"Clinical", "Rad", "DL", "Combined"} <= set(run.predictions["model"])
    assert {"sex", "age", "center", "rfs_time", "os_event"} <= set(run.predictions.columns)
    assert "log10_afp" in run.predictions and "afp" not in run.predictions and "log10_afp" in run.provenance["clinical"]
    assert run.gradcam() is not None and run.gradcam()["heatmap"].shape[1:] == (32, 32)
    assert (run.path / "deep_network.pt").exists() and (run.path / "pipelines" / "Rad.skops").exists()
    assert set(run.metrics["split"]) == {"train", "internal", "external_C3"} and "rfs_c_index" in run.metrics
    assert run.provenance["timings_s"]["radiomics"] > 0 and run.provenance["phases"] == [
        "arterial",
        "portal",
        "delayed",
    ]
    icc = pd.read_csv(run.path / "icc.csv")
    assert len(icc) > 100 and icc["icc"].max() > 0.9
    kept = set(icc.loc[icc["icc"] >= 0.75, "feature"])
    assert 0 < run.provenance["families"]["radiomics"] == len(kept) < len(icc)
    survival = run.survival_predictions()
    assert set(survival["endpoint"]) == {"rfs", "os"} and set(survival["method"]) == {"LASSO-Cox"}
    assert run.provenance["time_unit"] == "months" and run.provenance["horizons"] == [12, 24]
    assert survival[["survival_at_12", "survival_at_24"]].stack().between(0, 1).all()
    assert len(survival) == 2 * 4 * 48


def test_predict_reproduces_stored_test_predictions(image_run):
    """The frozen pipelines, applied to the same patients through predict, give the stored internal/external
    probabilities (training probabilities are out-of-fold, so they differ by design)."""
    run, manifest = image_run
    fresh = predict_new(run, manifest, workers=1)
    assert "clinical" in run.pipeline("Combined").named_steps  # the clinical selection travels with the frozen pipeline
    for model in ("Clinical", "Rad", "DL", "Combined", "BCLC (reference)"):
        stored = run.predictions.query("model == @model and split != 'train'").set_index("patient_id")["prob"]
        again = fresh.query("model == @model").set_index("patient_id")["prob"].loc[stored.index]
        np.testing.assert_allclose(again, stored, rtol=1e-6, atol=1e-9, err_msg=model)


def test_a_run_config_from_before_ring_shape_keeps_the_rings_shape(image_run):
    """Runs stored by engine < 0.6.0 extracted the rings' shape features (their config has no ring_shape): predict
    must extract them again, while a run that records the setting keeps what it recorded."""
    run, _ = image_run
    assert run.config["radiomics"]["ring_shape"] is False and run_config(run.config).radiomics.ring_shape is False
    older = {**run.config, "radiomics": {k: v for k, v in run.config["radiomics"].items() if k != "ring_shape"}}
    assert run_config(older).radiomics.ring_shape is True
    assert extraction_options(run_config(older).radiomics)["ring_shape"] is True


def test_predict_names_missing_phases(image_run):
    run, manifest = image_run
    import pandas as pd

    table = pd.read_csv(manifest).drop(columns=["image_delayed"])
    new = manifest.parent / "new_without_delayed.csv"
    table.to_csv(new, index=False)
    with pytest.raises(ValidationError, match="phases \\['delayed'\\]"):
        predict_new(run, new)


@pytest.mark.chromium
def test_report_zip(image_run):
    run, _ = image_run
    archive = zipfile.ZipFile(io.BytesIO(report_zip(run)))
    names = archive.namelist()
    assert "report.html" in names and any(n.startswith("figures/roc_internal") for n in names)
    page = archive.read("report.html").decode()
    assert "Methods" in page and "PyRadiomics" in page and "DeLong" in page and "Harrell" in page
    assert "Clinical factors (binary endpoint, odds ratios; training cohort)" in page and "RFS, hazard ratios" in page
    assert (
        "Performance at each model&#x27;s training cutoff" in page
        or "Performance at each model's training cutoff" in page
    )
    assert "external_C3" in page and "out-of-fold training predictions by maximising Youden" in page
    assert "RFS at 12 months: calibration by risk group (internal cohort)" in page
    assert "trained with the Cox partial-likelihood loss on rfs" in page
    assert "OS: time-dependent AUC of the survival models (horizons in months)" in page
    assert any(n.startswith("figures/survival_dca_rfs_12_internal") for n in names)
    assert (
        "RFS at 24 months not shown: horizon must lie within follow-up" in page
    )  # this small cohort's internal follow-up
    assert "ResNet" in methods_text(run.config, run.provenance) or "resnet10" in methods_text(
        run.config, run.provenance
    )


def test_bias_corrected_calibration_of_a_stored_model(image_run):
    """The stored pipeline is refitted (selection included) on bootstrap resamples of the training cohort."""
    from engine.views.refits import bias_corrected_calibration

    run, _ = image_run
    train = run.features().query("split == 'train'")
    assert len(train) == (run.predictions.query("model == 'Rad'")["split"] == "train").sum()
    result = bias_corrected_calibration(run, "Rad", n_boot=10)
    curve = result.curve.dropna()
    assert len(curve) > 10 and result.n_boot == 10
    assert np.isfinite(curve["bias_corrected"]).all() and (curve["ideal"] == curve["predicted"]).all()
    assert not np.allclose(curve["bias_corrected"], curve["apparent"])


def test_lasso_path_of_a_stored_model(image_run):
    """At the chosen penalty the refitted path reproduces the stored LASSO coefficients; the penalty search's CV
    AUC is kept per penalty; fewer features survive a larger penalty."""
    from engine.views.refits import lasso_path

    run, _ = image_run
    path, cv, chosen = lasso_path(run, "Rad")
    lasso = run.pipeline("Rad").named_steps["lasso"]
    at_chosen = path[np.isclose(path["log_lambda"], chosen)]
    np.testing.assert_allclose(at_chosen["coefficient"].to_numpy(), lasso.coef_, atol=1e-6)
    assert len(cv) == len(lasso.Cs_) and cv["cv_auc"].between(0, 1).all()
    assert chosen == pytest.approx(cv["log_lambda"].to_numpy()[np.argmax(lasso.cv_auc_)])
    nonzero = path.assign(nz=path["coefficient"] != 0).groupby("log_lambda")["nz"].sum()
    assert nonzero.iloc[0] >= nonzero.iloc[-1] and nonzero.iloc[-1] <= 1  # small lambda: many; largest: at most one


def test_risk_cutoffs_are_learned_on_training_and_reach_new_patients(image_run):
    """The stored median cutoff is the median of the training risks; predict labels new patients high/low by it."""
    run, manifest = image_run
    cutoffs = run.risk_cutoffs()
    assert {"binary", "survival"} == set(cutoffs["source"]) and {"rfs", "os"} == set(cutoffs["endpoint"])
    row = cutoffs.query("endpoint == 'rfs' and source == 'binary' and model == 'Rad' and method == 'median'").iloc[0]
    train = run.predictions.query("split == 'train' and model == 'Rad'")
    assert row["cutoff"] == pytest.approx(np.median(train["prob"]))
    maxstat = cutoffs.query("endpoint == 'os' and source == 'survival' and method == 'maxstat'")
    found = maxstat["cutoff"].notna()
    assert found.any() and maxstat.loc[found, "p_value_adjusted"].between(0, 1).all()
    assert (
        maxstat.loc[~found, "note"].str.contains("distinct").all()
    )  # e.g. a LASSO-Cox that kept no feature: constant risk
    new = predict_new(run, manifest)
    rad = new[new["model"] == "Rad"]
    assert set(rad["rfs_risk_group"]) <= {"high", "low"}
    np.testing.assert_array_equal(rad["rfs_risk_group"] == "high", rad["prob"] > row["cutoff"])


def test_refit_caveat_names_what_the_bootstrap_does_not_repeat(image_run):
    from engine.views.refits import refit_caveat

    run, _ = image_run
    assert refit_caveat(run, "Rad") == ""
    assert "CNN" in refit_caveat(run, "DL") and "CNN" in refit_caveat(run, "Combined")


def test_explanations_of_a_stored_model_match_its_predictions_and_stay_with_the_run(image_run):
    """SHAP of the final pipeline: base value + contributions = the stored probability on validation cohorts
    (LR: log-odds); computed once, then read from the run folder, and the run stays intact."""
    from engine.views.explain import explain, family_contributions
    from engine.store import RunStore

    run, _ = image_run
    explanation = explain(run, "Combined")
    stored = run.predictions[(run.predictions["model"] == "Combined") & (run.predictions["split"] != "train")]
    probability = pd.Series(1 / (1 + np.exp(-explanation.output())), index=explanation.patient_id)
    np.testing.assert_allclose(probability[stored["patient_id"]].to_numpy(), stored["prob"].to_numpy(), atol=1e-9)
    families = family_contributions(explanation)
    assert set(families.columns[2:]) <= {"clinical", "radiomics", "deep"}
    np.testing.assert_allclose(
        families.iloc[:, 2:].sum(axis=1), explanation.output() - explanation.base_value, atol=1e-9
    )
    assert (run.path / "explanations" / "Combined.npz").exists()
    again = explain(run, "Combined")
    np.testing.assert_array_equal(again.values, explanation.values)
    assert again.features == explanation.features and again.method == explanation.method
    assert RunStore(run.path.parents[1]).problems(run.run_id) == []
    with pytest.raises(ValidationError, match="stacked fusions and reference scores"):
        explain(run, "BCLC (reference)")


def test_explain_command_stores_the_shap_values_the_pages_then_read(image_run):
    """`hcc-study explain` (make demo runs it in the background) writes what explain() then reads unchanged."""
    from typer.testing import CliRunner

    from engine.cli import app
    from engine.views.explain import explain

    run, _ = image_run
    store = str(run.path.parents[1])
    (run.path / "explanations" / "Rad.npz").unlink(missing_ok=True)
    result = CliRunner().invoke(app, ["explain", "--run", run.run_id, "--model", "Rad", "--store", store])
    assert result.exit_code == 0, result.output
    assert "Rad: LinearExplainer" in result.output and (run.path / "explanations" / "Rad.npz").exists()
    fresh = explain(run, "Rad", cache=False)
    np.testing.assert_allclose(explain(run, "Rad").values, fresh.values, atol=1e-12)
    result = CliRunner().invoke(app, ["explain", "--run", run.run_id, "--model", "Nope", "--store", store])
    assert result.exit_code == 2 and "model must be one of" in result.output


@pytest.fixture
def app_on_run(image_run, monkeypatch):
    """The dashboard (AppTest) on the image run's store; the app's caches cleared before and after."""
    from streamlit.testing.v1 import AppTest

    from dashboard import cached

    run, _ = image_run
    monkeypatch.setattr(cached, "STORE", run.path.parents[1])
    caches = (cached.store, cached.runs, cached.run_tables)
    for function in caches:
        function.clear()
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py"), default_timeout=180)
    at.run()
    yield at
    for function in caches:
        function.clear()


def test_explanations_page_on_a_stored_run(app_on_run):
    at = app_on_run
    at.switch_page("app_pages/explanations.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="explain_model").value == "Combined"
    assert "LinearExplainer" in " ".join(c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 3  # family shares, bar, beeswarm, waterfall


def test_case_viewer_shows_the_stored_predictions_and_the_manifests_images(image_run):
    """engine.views.case on one validation patient: the probabilities are the stored ones, the slice is the largest
    tumour cross-section with the manifest's mask on it, the voxel map of firstorder Minimum is the 3 x 3 minimum
    filter, the Grad-CAM is a map in [0, 1] with evidence somewhere."""
    import SimpleITK as sitk
    from scipy.ndimage import minimum_filter

    from engine.views.case import case_gradcam, case_predictions, case_slices, run_manifest, voxel_map
    from engine.cohort.manifest import load_manifest

    run, cohort = image_run
    assert run_manifest(run) is not None
    cohort = load_manifest(run_manifest(run), check_images=False)
    patient = run.predictions.loc[run.predictions["split"] == "external_C3", "patient_id"].iloc[0]
    cutoffs = dict(zip(run.performance()["model"], run.performance()["cutoff"]))
    shown = case_predictions(run.predictions, cutoffs, patient).set_index("model")
    stored = run.predictions[run.predictions["patient_id"] == patient].set_index("model")
    np.testing.assert_array_equal(shown["prob"], stored.loc[shown.index, "prob"])
    assert shown.loc["Rad", "cutoff"] == cutoffs["Rad"]
    assert shown.loc["Rad", "prediction"] == (
        "high risk" if stored.loc["Rad", "prob"] >= cutoffs["Rad"] else "low risk"
    )
    assert shown.loc["BCLC (reference)", "scale"] == "raw score" and shown.loc["Rad", "scale"] == "probability"

    slices = case_slices(cohort, patient, {"ring3": 3})
    row = cohort.table.set_index("patient_id").loc[patient]
    mask = sitk.GetArrayFromImage(sitk.ReadImage(row[cohort.mask_column(cohort.phases[0])])) > 0
    assert slices[0].index == int(np.argmax(mask.sum(axis=(1, 2))))
    np.testing.assert_array_equal(slices[0].tumour, mask[slices[0].index])
    assert not (slices[0].rings["ring3"] & slices[0].tumour).any() and slices[0].rings["ring3"].any()

    feature = f"{cohort.phases[0]}_tumour_original_firstorder_Minimum"
    plane, values, _ = voxel_map(cohort, patient, feature)
    expected = minimum_filter(plane, size=3, mode="nearest")
    inside = np.isfinite(values)
    inside[[0, 1, -2, -1], :] = inside[:, [0, 1, -2, -1]] = False  # kernels that reach past the crop
    assert inside.sum() > 20
    np.testing.assert_allclose(values[inside], expected[inside])

    crop, heatmap = case_gradcam(run, cohort, patient)
    assert crop.ndim == 3 and heatmap.shape == crop.shape[1:]
    assert heatmap.min() >= 0 and heatmap.max() == pytest.approx(1.0)


def test_case_viewer_page_on_a_stored_run(image_run, app_on_run):
    run, at = image_run[0], app_on_run
    at.switch_page("app_pages/case_viewer.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    patient = at.selectbox(key="case_patient").value
    assert patient in set(run.predictions["patient_id"])
    assert len(at.get("plotly_chart")) >= 5  # phases, Grad-CAM, voxel map, probabilities, SHAP waterfall
    shown = at.dataframe[0].value
    stored = run.predictions[run.predictions["patient_id"] == patient].drop_duplicates("model")
    assert list(shown.columns[:4]) == ["Model", "Cohort", "Score", "Training cutoff"]
    assert "Nomogram points" in [h.value for h in at.subheader]
    points = at.dataframe[-1].value
    assert points["Predictor"].iloc[-1] == "Total"
    assert points["Points"].iloc[-1] == pytest.approx(points["Points"].iloc[:-1].sum(), abs=0.01)
    assert np.allclose(shown["Score"].astype(float).to_numpy(), stored["prob"].round(3).to_numpy())


def test_the_runs_flowchart_counts_the_manifest(image_run):
    from engine.views.summary import flowchart

    run, manifest = image_run
    listed = pd.read_csv(manifest)
    flow = flowchart(run.predictions, run.provenance)
    assert flow == run.provenance["flowchart"]
    assert flow["manifest"] == len(listed) == flow["analysed"] and flow["excluded"] == {}
    patients = run.predictions.drop_duplicates("patient_id")["split"].value_counts().to_dict()
    assert flow["cohorts"] == patients and list(flow["cohorts"]) == ["train", "internal", "external_C3"]


def test_a_warm_start_reads_no_file_and_a_touched_file_only_its_own(image_run, monkeypatch):
    """The same config on the same files is served without reading the manifest's files (the store's shortcut
    index); after one mask is touched, the study is checked again and only that mask is read again (file index)."""
    import os

    import engine.cohort.manifest as manifest_module
    import engine.pipeline.inputs as inputs_module
    import engine.pipeline.study as study_module
    from engine.cohort.file_index import file_digest

    run, manifest = image_run
    config, store = parse_config(run.config), RunStore(run.path.parents[1])

    def no_reading(*args, **kwargs):
        raise AssertionError("a warm start read the study's files")

    assert run_study(config, manifest.parent, store) == run.run_id  # records the files as they are now
    with monkeypatch.context() as patch:
        patch.setattr(study_module, "load_study_table", no_reading)
        assert run_study(config, manifest.parent, store) == run.run_id
    mask = pd.read_csv(manifest)["mask"].iloc[0]
    mask = str((manifest.parent / mask).resolve())
    stat = os.stat(mask)
    os.utime(mask, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    read = []
    labels = manifest_module._labels
    monkeypatch.setattr(manifest_module, "_labels", lambda path: read.append(path) or labels(path))
    monkeypatch.setattr(inputs_module, "file_digest", lambda path: read.append(path) or file_digest(path))
    assert run_study(config, manifest.parent, store) == run.run_id  # same bytes: the same run, served
    assert read == [mask, mask]  # its labels and its SHA-256, nothing else


def test_an_older_runs_manifest_is_read_only_from_the_data_folder(image_run, app_on_run, monkeypatch):
    """A run that did not record its manifest asks for it; a path outside the dashboard's data folder is refused
    with the rule and the fix (nothing else on the server is read), one inside it shows the images."""
    from dashboard import cached
    from engine.views import case

    _, manifest = image_run
    monkeypatch.setattr(case, "run_manifest", lambda run: None)  # as a run trained before the engine recorded it
    monkeypatch.setattr(cached, "DATA_ROOT", manifest.parent / "studies")
    at = app_on_run
    at.switch_page("app_pages/case_viewer.py").run()
    at.text_input(key="case_manifest").set_value(str(manifest)).run()
    assert [e.value for e in at.error] and "leaves the data folder" in at.error[0].value
    assert len(at.get("plotly_chart")) < 5  # no images read
    monkeypatch.setattr(cached, "DATA_ROOT", manifest.parent)
    at.text_input(key="case_manifest").set_value(manifest.name).run()
    assert not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) >= 5  # phases, Grad-CAM, voxel map, probabilities, SHAP waterfall


def test_the_predict_page_scores_the_demos_new_patients(image_run, app_on_run, monkeypatch, tmp_path):
    """`engine demo` writes new patients beside its cohort (another seed, ids NEW0001..., no outcome and no second
    reader); for a run trained on the demo's cohort (the demo's, or one from New study) the Predict page offers them
    and scores them with the stored pipelines, as predict_new does; for another run it does not (their phases and
    columns are the demo's)."""
    from dashboard import cached
    from engine.cohort.synth import OUTCOMES, synthesize_new_patients
    from engine.views import case
    from tests.conftest import SMALL

    run, _ = image_run
    new = synthesize_new_patients(tmp_path / "demo" / "new_patients", SMALL, n=10)
    table = pd.read_csv(new)
    assert list(table["patient_id"]) == [f"NEW{i:04d}" for i in range(1, 11)]
    assert not {*OUTCOMES, "mask2"} & set(table) and {"image_arterial", "mask", "afp"} <= set(table)
    monkeypatch.setattr(cached, "DEMO_STUDY", tmp_path / "demo")
    monkeypatch.setattr(cached, "DATA_ROOT", tmp_path / "no data folder")
    at = app_on_run
    at.switch_page("app_pages/predict.py").run()
    assert "put the new patients' manifest in" in at.info[0].value  # not trained on the demo's cohort
    (tmp_path / "demo" / "manifest.csv").write_text("the demo's cohort", encoding="utf-8")
    monkeypatch.setattr(case, "run_manifest", lambda run: (tmp_path / "demo" / "manifest.csv").resolve())
    at.run()
    assert at.selectbox(key="predict_table").value.startswith("the demo's new patients")
    at.button(key="predict_go").click().run()
    assert not at.error, [e.value for e in at.error]
    shown = at.dataframe[0].value
    expected = predict_new(run, new, workers=1)
    assert set(shown["patient_id"]) == set(table["patient_id"]) and len(shown) == len(expected)
    np.testing.assert_allclose(shown["prob"].to_numpy(), expected["prob"].to_numpy(), rtol=1e-9)


def test_new_patients_sharing_a_clinical_value_and_without_outcomes_are_scored(image_run):
    """New patients are scored, not trained on: a clinical column with one value for all of them (one centre's
    HBsAg-positive patients) and unknown outcomes are fine (the manifest check refused both as for training).
    Scored together, they get what each gets alone."""
    run, manifest = image_run
    table = pd.read_csv(manifest).iloc[:4].copy()
    column = next(c for c in run.provenance["clinical"] if c in table and table[c].dtype == object)
    table[column] = table[column].iloc[0]
    table[["label", "rfs_time", "rfs_event"]] = np.nan
    together = manifest.parent / "new_one_value.csv"
    table.to_csv(together, index=False)
    scored = predict_new(run, together, workers=1)
    assert set(scored["patient_id"]) == set(table["patient_id"])
    for index in range(len(table)):
        alone = manifest.parent / f"new_alone_{index}.csv"
        table.iloc[[index]].to_csv(alone, index=False)
        single = predict_new(run, alone, workers=1).set_index("model")["prob"]
        same = scored[scored["patient_id"] == table["patient_id"].iloc[index]].set_index("model")["prob"]
        np.testing.assert_allclose(same.loc[single.index], single, rtol=1e-5)  # the CNN: float32, batched or not
