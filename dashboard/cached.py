"""The only place that uses st.cache_*: the store handle, a run's tables and figures (resources: one object shared
by every session, never changed), and results (data, bounded). A results cache keys a predictions table by its
content digest, computed once per table object (``frame_digest``): the shared run tables and their filtered views
are the same objects in every session and rerun, so a slider move hashes no table."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import housekeeping, roc_view, tcp
from engine import plots
from engine.plots.flowchart import flowchart_figure as flowchart_figure_of
from engine.cohort.synth import new_patients_manifest
from engine.common import predictions as predictions_module
from engine.common.predictions import filter_predictions
from engine.views import analysis, horizons, performance, refits
from engine.pipeline.jobs import JobQueue, run_jobs
from engine.store import RunStore

STORE = Path(os.environ.get("HCC_STORE", "store"))
# the folder a browser user may pick study tables from (nothing outside it is read or listed)
DATA_ROOT = Path(os.environ.get("HCC_DATA_ROOT", "studies"))
# the demo's synthetic cohort (`python -m engine demo`): its manifest (case viewer, New study) and its new patients
# (Predict) are read beside the data folder
DEMO_STUDY = Path("demo_study")


def demo_manifest() -> Path:
    return DEMO_STUDY / "manifest.csv"


def demo_new_patients() -> Path:
    return new_patients_manifest(DEMO_STUDY)


@st.cache_resource(max_entries=1)
def store() -> RunStore:
    return RunStore(STORE)


@st.cache_resource(max_entries=1)
def idle_cleanup(after: float = float(os.environ.get("HCC_IDLE_CLEANUP_S", "60"))) -> threading.Thread:
    """The server's housekeeping thread (dashboard.housekeeping): closes the sessions of tabs closed more than
    Streamlit's reconnect time ago (their widget state and uploads freed) and, once no page has run for ``after``
    seconds, collects garbage and trims the heap, so that an idle server returns to about its starting size."""
    housekeeping.close_sessions_on_expiry()
    thread = threading.Thread(target=housekeeping.clean_when_idle, args=(after,), daemon=True, name="housekeeping")
    thread.start()
    return thread


@st.cache_resource(max_entries=1)
def sockets_without_delay() -> int:
    """dashboard.tcp: TCP_NODELAY on the server's listening socket and open connections, once per server (the
    first page run): each page update leaves at once instead of 40 ms later."""
    return tcp.send_without_delay(int(st.get_option("server.port")))


def page_ran() -> None:
    """Called by every page run (dashboard/app.py): the server is not idle."""
    housekeeping.PAGE_RUNS.ran()


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


def frame_digest(frame: pd.DataFrame) -> str:
    """The content digest of a table (values, index, columns, dtypes), remembered for the object while it lives. A
    table handed to a cached function is never changed afterwards (pages build new tables; the shared run tables
    are checked unchanged by tests/dashboard/test_shared_and_fragments.py)."""
    known = _DIGESTS.get(id(frame))
    if known is not None and known[0]() is frame:
        return known[1]
    digest = hashlib.sha1(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    digest.update(repr((list(frame.columns), [str(t) for t in frame.dtypes])).encode())
    with _DIGEST_LOCK:
        for key in [k for k, (ref, _) in _DIGESTS.items() if ref() is None]:  # tables that are gone
            del _DIGESTS[key]
        _DIGESTS[id(frame)] = (weakref.ref(frame), digest.hexdigest())
    return digest.hexdigest()


_DIGESTS: dict[int, tuple[weakref.ref, str]] = {}
_DIGEST_LOCK = threading.Lock()
BY_DIGEST = {pd.DataFrame: frame_digest}


@st.cache_resource(max_entries=8, show_spinner="Loading the run...")
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


@st.cache_resource(max_entries=32, show_spinner=False)
def filtered(run_id: str, filters: dict) -> pd.DataFrame:
    """A run's predictions narrowed by the sidebar's filters, one shared table per run and filter set."""
    return filter_predictions(run_tables(run_id)["predictions"], filters)


def _cached(function):
    return st.cache_data(max_entries=64, show_spinner=False, hash_funcs=BY_DIGEST)(function)


def _shared(function):
    """Results shared by every session as one object (never copied, never changed by a page)."""
    return st.cache_resource(max_entries=256, show_spinner=False, hash_funcs=BY_DIGEST)(function)


def _shared_figure(function):
    """A figure builder whose figures are built once per input and shared by every session (plotly figures take
    20-40 ms to build; st.plotly_chart only reads them)."""
    return st.cache_resource(max_entries=128, show_spinner=False, hash_funcs=BY_DIGEST)(function)


# the ROC page at one threshold, in one piece (one lookup per threshold move), and the curves it shares with the
# classifier comparison: shared objects (no copy per call); pages only read them
roc_curves = _shared(analysis.roc_curves)


@st.cache_resource(max_entries=256, show_spinner=False, hash_funcs=BY_DIGEST)
def operating_point(predictions, split, models, mode, value, reference, stored) -> roc_view.OperatingPoint:
    """dashboard.roc_view.operating_point, with the curves of the cohort and models (shared: the same for every
    threshold) looked up once."""
    curves = roc_curves(predictions, split, list(models))
    return roc_view.operating_point(predictions, split, models, mode, value, reference, stored, curves=curves)


# the sidebar's what-if filters (every page run) and the Overview's paper table: found once per table
filter_choices = _shared(predictions_module.filter_choices)
paper_table = _shared(performance.paper_table)
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
# the figures of the pages (not the case viewer's, which it resizes)
roc_figure = _shared_figure(plots.roc_figure)
radar_figure = _shared_figure(plots.radar_figure)
pairwise_heatmap = _shared_figure(plots.pairwise_heatmap)
calibration_figure = _shared_figure(plots.calibration_figure)
km_figure = _shared_figure(plots.km_figure)
line_figure = _shared_figure(plots.line_figure)
forest_figure = _shared_figure(plots.forest_figure)
decision_curve_figure = _shared_figure(plots.decision_curve_figure)
lasso_path_figure = _shared_figure(plots.lasso_path_figure)
grid_heatmap = _shared_figure(plots.grid_heatmap)
flowchart_figure = _shared_figure(flowchart_figure_of)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=BY_DIGEST)
def performance_table(predictions: pd.DataFrame, cutoffs: dict) -> pd.DataFrame:
    return performance.performance_table(predictions, cutoffs)


@st.cache_data(max_entries=32, show_spinner=False, hash_funcs=BY_DIGEST)
def survival_stratification(predictions, model, endpoint, split, method, cutoff, horizon):
    return analysis.survival_stratification(
        predictions, model, endpoint, split, method=method, cutoff=cutoff, horizon=horizon
    )


@st.cache_resource(max_entries=8, show_spinner=False, hash_funcs=BY_DIGEST)
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
