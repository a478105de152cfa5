"""The only place that uses st.cache_*: the store handle (resource) and results (data, bounded)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pandas as pd
import streamlit as st

from engine.views import analysis, horizons, performance, refits
from engine.pipeline.jobs import JobQueue, run_jobs
from engine.store import RunStore

STORE = Path(os.environ.get("HCC_STORE", "store"))
# the folder a browser user may pick study tables from (nothing outside it is read or listed)
DATA_ROOT = Path(os.environ.get("HCC_DATA_ROOT", "studies"))


@st.cache_resource(max_entries=1)
def store() -> RunStore:
    return RunStore(STORE)


@st.cache_resource(max_entries=1)
def job_queue(root: str) -> JobQueue:
    """The job queue of the store at ``root`` (``job_queue(str(STORE))``), with its runner: a thread of this server
    trains the queued jobs (each in its own process), HCC_JOB_PARALLEL at a time (default 1), HCC_JOB_WORKERS cores
    each (default 2) or on the Dask cluster HCC_JOB_SCHEDULER; on start it marks the jobs a stopped server left
    running as interrupted. HCC_JOB_RUNNER=0: the jobs are run elsewhere (`hcc-study jobs run`, the tests)."""
    queue = JobQueue(root)
    if os.environ.get("HCC_JOB_RUNNER", "1") != "0":
        queue.recover()
        threading.Thread(target=_run_jobs, args=(queue,), daemon=True, name="job runner").start()
    return queue


def _run_jobs(queue: JobQueue) -> None:
    while True:
        try:
            run_jobs(
                queue,
                parallel=int(os.environ.get("HCC_JOB_PARALLEL", "1")),
                workers=int(os.environ.get("HCC_JOB_WORKERS", "2")),
                scheduler=os.environ.get("HCC_JOB_SCHEDULER") or None,
            )
        except Exception:  # noqa: BLE001 - a job's failure is recorded with the job; the runner goes on
            time.sleep(1.0)


@st.cache_data(max_entries=1, ttl=10, show_spinner=False)
def runs() -> pd.DataFrame:
    """The store's runs with their status (a run trained or damaged meanwhile shows within 10 s)."""
    return store().list()


@st.cache_data(max_entries=8, show_spinner="Loading the run...")
def run_tables(run_id: str) -> dict:
    run = store().load(run_id)
    pooled = bool(run.provenance.get("strata"))  # a stratified run's union: cutoffs and clinical tables are per stratum
    return {
        "predictions": run.predictions,
        "grid": run.grid,
        "selected": run.selected,
        "metrics": run.metrics,
        "provenance": run.provenance,
        "config": run.config,
        "gradcam": run.gradcam(),
        "survival": run.survival_predictions(),
        "cutoffs": None if pooled else run.risk_cutoffs(),
        "performance": run.performance(),
        "classifier_predictions": None if pooled else run.classifier_predictions(),
        "references": run.reference_scores(),
        "clinical_tables": None if pooled else run.clinical_tables(),
    }


def _cached(function):
    return st.cache_data(max_entries=64, show_spinner=False)(function)


roc_curves = _cached(analysis.roc_curves)
choose_threshold = _cached(analysis.choose_threshold)
metrics_at_threshold = _cached(analysis.metrics_at_threshold)
model_metrics = _cached(analysis.model_metrics)
pairwise_delong = _cached(analysis.pairwise_delong)
reclassification = _cached(analysis.reclassification)
calibration = _cached(analysis.calibration)
decision_curves = _cached(analysis.decision_curves)
subgroup_aucs = _cached(analysis.subgroup_aucs)
concordance_table = _cached(analysis.concordance_table)
time_auc_table = _cached(analysis.time_auc_table)
table_one = _cached(analysis.table_one)
cohort_counts = _cached(analysis.cohort_counts)
regression_tables = _cached(analysis.regression_tables)
horizon_calibration = _cached(horizons.horizon_calibration)
horizon_decision_curves = _cached(horizons.horizon_decision_curves)
horizon_roc_curves = _cached(horizons.horizon_roc_curves)
c_index_pairs = _cached(horizons.c_index_pairs)
subgroup_c_index = _cached(horizons.subgroup_c_index)
learn_cutoffs = _cached(performance.learn_cutoffs)


@st.cache_data(max_entries=32, show_spinner=False)
def performance_table(predictions: pd.DataFrame, cutoffs: dict) -> pd.DataFrame:
    return performance.performance_table(predictions, cutoffs)


@st.cache_data(max_entries=32, show_spinner=False)
def survival_stratification(predictions, model, endpoint, split, method, cutoff, horizon):
    return analysis.survival_stratification(
        predictions, model, endpoint, split, method=method, cutoff=cutoff, horizon=horizon
    )


@st.cache_resource(max_entries=8, show_spinner=False)
def nomogram(predictions, predictors, score_models, endpoint, horizons, time_unit=""):
    return analysis.fit_nomogram(
        predictions,
        list(predictors),
        list(score_models),
        endpoint=endpoint,
        horizons=list(horizons),
        time_unit=time_unit,
    )


@st.cache_data(max_entries=4, show_spinner="Building the report (figures, tables, methods)...")
def report(run_id: str, filters: dict, anchors: tuple[str, ...] = (), pdf: bool = False) -> bytes:
    """The report zip; ``anchors``: DeLong tests of every model against these (default: engine's choice); ``pdf``:
    with Chromium's print of the page."""
    import dataclasses

    from engine.report import ReportInput, anchored_comparisons, report_zip

    report = ReportInput.from_run(store().load(run_id), filters=filters)
    return report_zip(
        dataclasses.replace(report, comparisons=anchored_comparisons(report.predictions, anchors)), pdf=pdf
    )


@st.cache_data(max_entries=4, show_spinner="Building the report (figures, tables, methods)...")
def upload_report(
    predictions: pd.DataFrame, source: str, filters: dict, anchors: tuple[str, ...] = (), pdf: bool = False
) -> bytes:
    import dataclasses

    from engine.report import ReportInput, anchored_comparisons, report_zip

    report = ReportInput.from_upload(predictions, source, filters=filters)
    return report_zip(
        dataclasses.replace(report, comparisons=anchored_comparisons(report.predictions, anchors)), pdf=pdf
    )


@st.cache_data(max_entries=8, show_spinner="Refitting the model on bootstrap resamples of the training cohort...")
def bias_corrected(run_id: str, model: str, n_boot: int):
    run = store().load(run_id)
    return refits.bias_corrected_calibration(run, model, n_boot=n_boot), refits.refit_caveat(run, model)


@st.cache_data(max_entries=8, show_spinner="Refitting the LASSO path on the training features...")
def lasso_path(run_id: str, model: str):
    return refits.lasso_path(store().load(run_id), model)


@st.cache_data(max_entries=16, show_spinner="Computing SHAP values (once per model; stored with the run)...")
def explanation(run_id: str, model: str):
    from engine.views.explain import explain

    return explain(store().load(run_id), model)


@st.cache_data(max_entries=4, show_spinner=False)
def explainable_models(run_id: str) -> list[str]:
    from engine.views.explain import explainable_models as models

    return models(store().load(run_id))


@st.cache_data(max_entries=4, show_spinner="Reading the run's manifest...")
def run_cohort(manifest: str, clinical: tuple[str, ...], roi: str | None):
    """The cohort behind a run's images (paths only: the images were validated when the run was trained)."""
    from engine.cohort.manifest import load_manifest

    return load_manifest(manifest, clinical=list(clinical) or None, roi=roi, check_images=False)


@st.cache_data(max_entries=32, show_spinner="Reading the patient's images...")
def case_slices(manifest: str, clinical: tuple[str, ...], roi: str | None, patient_id: str, rings: tuple):
    from engine.views.case import case_slices as slices

    return slices(run_cohort(manifest, clinical, roi), patient_id, dict(rings))


@st.cache_data(max_entries=32, show_spinner="Computing the Grad-CAM of the stored network...")
def case_gradcam(run_id: str, manifest: str, clinical: tuple[str, ...], roi: str | None, patient_id: str):
    from engine.views.case import case_gradcam as gradcam

    return gradcam(store().load(run_id), run_cohort(manifest, clinical, roi), patient_id)


@st.cache_data(max_entries=32, show_spinner="PyRadiomics voxel-based extraction on the tumour neighbourhood...")
def voxel_map(manifest: str, clinical: tuple[str, ...], roi: str | None, patient_id: str, feature: str, params: str):
    import json

    from engine.views.case import voxel_map as compute

    return compute(run_cohort(manifest, clinical, roi), patient_id, feature, params=json.loads(params))
