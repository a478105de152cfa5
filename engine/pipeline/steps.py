"""The steps that build a run, in order, over one state object (:class:`StudyState`).

Each step takes the study's state and returns it with what the step adds: the clinical transforms, the features
(radiomics, ICC, deep; or a feature table's families), the models the families allow, the binary model grid with
the reference scores and the paper tables, the survival models, the metrics and training cutoffs, and finally the
run written to the store. ``BUILD_STEPS`` is the whole recipe; engine.pipeline.study runs it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import platform
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pandas as pd

from engine.cohort.manifest import Cohort
from engine.common.cluster import jobs
from engine.common.transforms import log_transform
from engine.config import StudyConfig, resolve_device
from engine.errors import ValidationError
from engine.models.reference import is_reference
from engine.pipeline.feature_steps import deep_inputs, deep_step, icc_step, in_background, radiomics_step
from engine.pipeline.inputs import package_version
from engine.pipeline.paper_tables import (
    PAPER_TABLES,
    chosen_clinical,
    families_for_table,
    flowchart_counts,
    horizons_within_follow_up,
    metrics_table,
    store_cutoffs,
    survival_only_predictions,
    with_references,
    write_paper_tables,
)
from engine.store import RunStore

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclasses.dataclass
class StudyState:
    """What the steps of one run read and add, from the checked patient table to the stored run."""

    config: StudyConfig
    store: RunStore
    run_id: str
    cohort: Cohort | None  # None for a feature-table study
    frame: pd.DataFrame  # the patients without image paths; each feature step adds its columns
    workers: int
    scheduler: str | None
    progress: Progress
    started: float
    families: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # family -> its feature columns
    timings: dict[str, float] = dataclasses.field(default_factory=dict)
    device: str = "cpu"
    models: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # model -> its families
    survival: list[str] = dataclasses.field(default_factory=list)  # the survival endpoints with time columns
    grid: Any = None  # the binary grid's GridResult
    predictions: pd.DataFrame | None = None  # long form, with the reference scores
    risks: pd.DataFrame | None = None  # the survival models' predictions
    metrics: pd.DataFrame | None = None
    background: dict[str, Future] = dataclasses.field(default_factory=dict)  # work running beside the steps

    @property
    def partial(self) -> Path:
        """The run's folder of finished steps (reused when an interrupted run is resumed)."""
        return self.store.partial(self.run_id)

    @property
    def has_label(self) -> bool:
        return "label" in self.frame


def start(state: StudyState) -> StudyState:
    """The model grid's libraries (scikit-learn, SciPy's statistics, numba: 2 s of imports on one core) load on a
    thread while the workers extract radiomics, not before the workers start."""
    state.background["grid imports"] = in_background(importlib.import_module, "engine.models.grid")
    return state


def transform_clinical(state: StudyState) -> StudyState:
    """Heavy-tailed labs as log10_<column> (cohort.log_transform)."""
    config, cohort = state.config, state.cohort
    if config.cohort.log_transform:
        clinical = cohort.clinical if cohort is not None else config.cohort.clinical
        state.frame, names = log_transform(state.frame, config.cohort.log_transform, clinical)
        if cohort is not None:
            table, _ = log_transform(cohort.table, config.cohort.log_transform, clinical)
            state.cohort = dataclasses.replace(cohort, table=table, clinical=tuple(names))
    return state


def extract_features(state: StudyState) -> StudyState:
    """Radiomics (with the inter-reader ICC filter) and deep features of an image study; the families of a feature
    table's columns otherwise."""
    config, cohort, partial = state.config, state.cohort, state.partial
    if cohort is None:
        state.families = families_for_table(state.frame, config)
        state.device = resolve_device(config.device)
        return state
    crops = None
    if config.deep.enabled and not (partial / "deep.parquet").exists():
        crops = in_background(deep_inputs, cohort, config)  # while the workers extract radiomics
    state.families["clinical"] = list(cohort.clinical)
    arguments = (state.workers, state.scheduler, state.progress)
    if config.radiomics.enabled:
        state.frame, state.families["radiomics"] = radiomics_step(
            cohort, config, state.store, partial, state.frame, *arguments, state.timings
        )
        if config.radiomics.icc_threshold is not None:
            state.families["radiomics"] = icc_step(
                cohort, config, state.store, partial, state.frame, state.families["radiomics"], *arguments
            )
    state.device = resolve_device(config.device)
    if config.deep.enabled:
        state.frame, state.families["deep"] = deep_step(
            cohort, config, partial, state.frame, state.device, state.scheduler, state.progress, state.timings, crops
        )
    return state


def choose_models(state: StudyState) -> StudyState:
    """The config's models whose families all have features, and the survival endpoints the table has."""
    config, families, cohort = state.config, state.families, state.cohort
    state.models = {
        name: parts for name, parts in config.grid.models.items() if all(p in families and families[p] for p in parts)
    }
    if not state.models:
        raise ValidationError(
            f"no model of the config can be built from the feature families {list(families)}; check grid.models."
        )
    endpoints = config.survival_endpoints or list(cohort.survival_endpoints if cohort else [])
    state.survival = [e for e in endpoints if f"{e}_time" in state.frame]
    if not state.has_label and not state.survival:
        raise ValidationError(
            "the cohort has neither a label column (binary endpoint) nor <name>_time/<name>_event columns "
            "(survival endpoints); add at least one outcome."
        )
    return state


def train_grid(state: StudyState) -> StudyState:
    """The binary model grid (every model x classifier, tuned inside the training folds), the reference scores,
    and the paper tables on a thread while the survival models keep the workers busy."""
    if not state.has_label:
        return state
    state.background.pop("grid imports").result()
    from engine.models.grid import FeatureTable, Selection, run_grid

    config = state.config
    total = len(state.models) * len(config.grid.classifiers)
    done = [0]

    def step(label: str) -> None:
        state.progress(f"model grid: {label}", done[0], total)
        done[0] += 1

    begun = time.perf_counter()
    state.grid = run_grid(
        FeatureTable(state.frame, state.families),
        models=state.models,
        classifiers=config.grid.classifiers,
        n_iter=config.grid.n_iter,
        folds=config.grid.folds,
        repeats=config.grid.repeats,
        search=config.grid.search,
        selection=Selection(**config.grid.selection.model_dump()),
        seed=config.seed,
        device=state.device,
        stacking=config.grid.stacking,
        smote=config.grid.smote,
        n_jobs=jobs(state.scheduler, state.workers),
        progress=step,
        clinical_selection=config.grid.clinical_selection.model_dump(),
        harmonization=config.grid.harmonization.model_dump(),
    )
    state.progress("model grid", total, total)
    state.timings["grid"] = time.perf_counter() - begun
    state.predictions = with_references(state.grid.predictions, state.frame, state.families, config, state.partial)
    state.background["paper tables"] = in_background(  # one core's work beside the survival models
        write_paper_tables,
        state.predictions,
        state.grid.classifier_predictions,
        state.frame,
        state.families,
        state.survival,
        config,
        state.partial,
    )
    return state


def fit_survival_models(state: StudyState) -> StudyState:
    """Cox, LASSO-Cox and random survival forests per endpoint (grid.survival_models, or a survival-only study)."""
    config = state.config
    if not state.survival or not (config.grid.survival_models or not state.has_label):
        return state
    if "grid imports" in state.background:
        state.background.pop("grid imports").result()
    from engine.models.grid import FeatureTable
    from engine.models.survival_grid import run_survival_grid

    begun = time.perf_counter()
    outputs = [
        run_survival_grid(
            FeatureTable(state.frame, state.families),
            endpoint,
            models=dict(state.models),
            methods=config.grid.survival_methods,
            seed=config.seed,
            progress=lambda label: state.progress(f"survival models: {label}", 0, 1),
            horizons=horizons_within_follow_up(state.frame, endpoint, config.survival.horizon_values()),
            harmonization=config.grid.harmonization.model_dump(),
            n_jobs=jobs(state.scheduler, state.workers),
        )
        for endpoint in state.survival
    ]
    state.risks = pd.concat([o.predictions for o in outputs], ignore_index=True)
    state.risks.to_parquet(state.partial / "survival_predictions.parquet", index=False)
    pd.concat([o.grid for o in outputs], ignore_index=True).to_csv(state.partial / "survival_grid.csv", index=False)
    state.timings["survival_models"] = time.perf_counter() - begun
    return state


def summarise(state: StudyState) -> StudyState:
    """The paper tables finished (a survival-only study's from its survival models), the metrics table and the
    training cutoffs of every model."""
    if state.has_label:
        state.background.pop("paper tables").result()
    else:
        state.predictions = survival_only_predictions(state.risks, state.frame, state.survival)
        write_paper_tables(
            state.predictions, pd.DataFrame(), state.frame, state.families, state.survival, state.config, state.partial
        )
    state.metrics = metrics_table(state.predictions, state.survival)
    store_cutoffs(state.predictions if state.has_label else None, state.risks, state.survival, state.partial)
    return state


def write_run(state: StudyState) -> StudyState:
    """The run in the store: predictions, grid, metrics, provenance, pipelines and the finished steps' files."""
    config, cohort, frame, families, partial = state.config, state.cohort, state.frame, state.families, state.partial
    state.timings["total"] = time.perf_counter() - state.started
    feature_columns = [c for family in families.values() for c in family]
    from engine.models.deep_folds import fold_columns

    kept = [
        "patient_id",
        "split",
        *(["label"] if state.has_label else []),
        *(["center"] if "center" in frame and "center" not in feature_columns else []),  # ComBat's batch
        *dict.fromkeys(feature_columns),
        *fold_columns(frame),  # fold blocks: to re-run the grid
    ]
    frame[kept].to_parquet(partial / "features.parquet", index=False)
    if cohort is not None and len(cohort.excluded):
        cohort.excluded.to_csv(partial / "exclusions.csv", index=False)
    names = (
        "gradcam.npz",
        "deep_network.pt",
        "features.parquet",
        "survival_predictions.parquet",
        "survival_grid.csv",
        "icc.csv",
        "risk_cutoffs.csv",
        "exclusions.csv",
        *PAPER_TABLES,
    )
    grid = state.grid
    state.store.write(
        state.run_id,
        config=config.canonical(),
        predictions=state.predictions,
        grid=grid.grid if grid else pd.DataFrame(),
        selected=grid.selected if grid else pd.DataFrame(),
        metrics=state.metrics,
        provenance=provenance(state),
        pipelines=grid.pipelines if grid else None,
        artifacts=[partial / name for name in names if (partial / name).exists()],
    )
    return state


def provenance(state: StudyState) -> dict[str, Any]:
    """Who, when, with what: the run's provenance (engine and package versions, timings, cohorts, choices)."""
    config, cohort, predictions = state.config, state.cohort, state.predictions
    deep_device = state.partial / "deep_device.txt"
    return {
        "name": config.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "patients": int(len(state.frame)),
        "models": list(predictions["model"].unique()),
        "seed": config.seed,
        "device": state.device,
        "deep_device": deep_device.read_text(encoding="utf-8") if deep_device.exists() else None,
        "timings_s": state.timings,
        "engine": package_version("engine"),
        "python": platform.python_version(),
        "packages": {
            name: package_version(name)
            for name in ("numpy", "scikit-learn", "pyradiomics", "torch", "monai", "xgboost", "lightgbm")
        },
        "survival_endpoints": state.survival,
        "families": {k: len(v) for k, v in state.families.items()},
        "time_unit": config.survival.time_unit,
        "horizons": config.survival.horizon_values(),
        "clinical": state.families.get("clinical", []),
        "resampled_phases": dict(cohort.resampled) if cohort is not None else {},
        "phases": list(cohort.phases) if cohort is not None else [],
        "manifest": str(cohort.root / Path(config.cohort.manifest).name) if cohort is not None else None,
        "flowchart": flowchart_counts(cohort, state.frame) if cohort is not None else None,
        "references": [name for name in predictions["model"].unique() if is_reference(name)],
        "clinical_selection": chosen_clinical(state.grid.pipelines) if state.grid is not None else {},
    }


BUILD_STEPS: tuple[Callable[[StudyState], StudyState], ...] = (
    start,
    transform_clinical,
    extract_features,
    choose_models,
    train_grid,
    fit_survival_models,
    summarise,
    write_run,
)
