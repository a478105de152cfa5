"""A whole study, start to finish: cohort -> features (cached) -> model grid -> run store.

``run_study`` returns the run id; the same config on the same data is served from the store; finished steps
of an interrupted run (radiomics, deep features) are reused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import platform
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from engine.common.cluster import dask_cluster, jobs
from engine.cohort.file_index import FileIndex
from engine.common.transforms import log_transform
from engine.config import StudyConfig, resolve_device
from engine.errors import ValidationError
from engine.models.reference import is_reference
from engine.pipeline.feature_steps import deep_inputs, deep_step, icc_step, in_background, radiomics_step
from engine.pipeline.inputs import load_study_table, package_version, study_fingerprint
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
from engine.store import RunStore, run_key

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    return None


def run_study(
    config: StudyConfig,
    base: Path,
    store: RunStore,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = _noop,
    force: bool = False,
    stratum: tuple[str, str] | None = None,
) -> str:
    """Run (or fetch from the store) the study described by ``config``; relative paths resolve against ``base``.
    With ``config.strata`` the study runs once per stratum (engine.pipeline.strata); ``stratum`` = (column, level)
    restricts a run to one stratum's patients."""
    if config.strata and stratum is None:
        from engine.pipeline.strata import run_stratified

        return run_stratified(
            config, base, store, workers=workers, scheduler=scheduler, progress=progress, force=force, run_one=run_study
        )
    started = time.perf_counter()
    settings = {**config.canonical(), **({"stratum": list(stratum)} if stratum else {})}
    shortcut = run_key(settings, study_fingerprint(config, base))
    recorded = store.recorded(shortcut)
    if recorded and not force and _served(store, recorded, progress):
        return recorded  # the same config on the same files (sizes, times) as a stored run: no file read at all
    files = FileIndex(store.root / "file_index.sqlite", workers=1 if scheduler else workers)
    cohort, table, path_columns, digest = load_study_table(config, base, files)
    files.save()
    if stratum is not None:
        column, level = stratum
        table = table[table[column].astype(str) == level].reset_index(drop=True)
        cohort = dataclasses.replace(cohort, table=table) if cohort is not None else None
    run_id = run_key(settings, digest)
    store.record(shortcut, run_id)
    if not force and _served(store, run_id, progress):
        return run_id
    with store.lock(run_id):  # another process building the same run: wait for it, then serve what it wrote
        if not force and _served(store, run_id, progress):
            return run_id
        with dask_cluster(scheduler) as address:  # local:N starts its LocalCluster here, only when building
            return _build(config, store, run_id, cohort, table, path_columns, workers, address, progress, started)


def _served(store: RunStore, run_id: str, progress: Progress) -> bool:
    """True when the run is in the store and intact; a damaged run is announced and rebuilt."""
    if not store.exists(run_id):
        return False
    problems = store.problems(run_id)
    if problems:
        progress(f"rebuilding damaged run {run_id}: {problems[0]}", 0, 1)
        return False
    progress("served from the store", 1, 1)
    return True


def _build(config, store, run_id, cohort, table, path_columns, workers, scheduler, progress, started) -> str:
    # the model grid's libraries (scikit-learn, SciPy's statistics, numba: 2 s of imports on one core) load on a
    # thread while the workers extract radiomics, not before the workers start
    grid_imported = in_background(importlib.import_module, "engine.models.grid")
    timings: dict[str, float] = {}

    if config.cohort.log_transform:
        table, clinical = log_transform(
            table, config.cohort.log_transform, cohort.clinical if cohort is not None else config.cohort.clinical
        )
        if cohort is not None:
            cohort = dataclasses.replace(cohort, table=table, clinical=tuple(clinical))
    partial = store.partial(run_id)
    frame = table.drop(columns=path_columns)
    families: dict[str, list[str]] = {}
    crops = None
    if cohort is not None and config.deep.enabled and not (partial / "deep.parquet").exists():
        crops = in_background(deep_inputs, cohort, config)  # while the workers extract radiomics
    if cohort is not None:
        clinical = list(cohort.clinical)
        families["clinical"] = clinical
        if config.radiomics.enabled:
            frame, families["radiomics"] = radiomics_step(
                cohort, config, store, partial, frame, workers, scheduler, progress, timings
            )
            if config.radiomics.icc_threshold is not None:
                families["radiomics"] = icc_step(
                    cohort, config, store, partial, frame, families["radiomics"], workers, scheduler, progress
                )
    device = resolve_device(config.device)
    if cohort is not None and config.deep.enabled:
        frame, families["deep"] = deep_step(cohort, config, partial, frame, device, scheduler, progress, timings, crops)
    if cohort is None:
        families = families_for_table(frame, config)
    models = {
        name: parts for name, parts in config.grid.models.items() if all(p in families and families[p] for p in parts)
    }
    if not models:
        raise ValidationError(
            f"no model of the config can be built from the feature families {list(families)}; check grid.models."
        )
    grid_imported.result()
    from engine.models.grid import FeatureTable, Selection, run_grid

    survival = [
        e
        for e in (config.survival_endpoints or list(cohort.survival_endpoints if cohort else []))
        if f"{e}_time" in frame
    ]
    has_label = "label" in frame
    if not has_label and not survival:
        raise ValidationError(
            "the cohort has neither a label column (binary endpoint) nor <name>_time/<name>_event columns "
            "(survival endpoints); add at least one outcome."
        )
    result = None
    if has_label:
        total = len(models) * len(config.grid.classifiers)
        done = [0]

        def step(label: str) -> None:
            progress(f"model grid: {label}", done[0], total)
            done[0] += 1

        start = time.perf_counter()
        result = run_grid(
            FeatureTable(frame, families),
            models=models,
            classifiers=config.grid.classifiers,
            n_iter=config.grid.n_iter,
            folds=config.grid.folds,
            repeats=config.grid.repeats,
            search=config.grid.search,
            selection=Selection(**config.grid.selection.model_dump()),
            seed=config.seed,
            device=device,
            stacking=config.grid.stacking,
            smote=config.grid.smote,
            n_jobs=jobs(scheduler, workers),
            progress=step,
            clinical_selection=config.grid.clinical_selection.model_dump(),
            harmonization=config.grid.harmonization.model_dump(),
        )
        progress("model grid", total, total)
        timings["grid"] = time.perf_counter() - start
        predictions = with_references(result.predictions, frame, families, config, partial)
        tables = in_background(  # one core's work, while the survival models below keep the workers busy
            write_paper_tables, predictions, result.classifier_predictions, frame, families, survival, config, partial
        )
    risks = None
    if (
        config.grid.survival_models or not has_label
    ) and survival:  # a survival-only study: the survival models are its models
        from engine.models.survival_grid import run_survival_grid

        start = time.perf_counter()
        family_models = {name: parts for name, parts in models.items()}
        outputs = [
            run_survival_grid(
                FeatureTable(frame, families),
                endpoint,
                models=family_models,
                methods=config.grid.survival_methods,
                seed=config.seed,
                progress=lambda label: progress(f"survival models: {label}", 0, 1),
                horizons=horizons_within_follow_up(frame, endpoint, config.survival.horizon_values()),
                harmonization=config.grid.harmonization.model_dump(),
                n_jobs=jobs(scheduler, workers),
            )
            for endpoint in survival
        ]
        risks = pd.concat([o.predictions for o in outputs], ignore_index=True)
        risks.to_parquet(partial / "survival_predictions.parquet", index=False)
        pd.concat([o.grid for o in outputs], ignore_index=True).to_csv(partial / "survival_grid.csv", index=False)
        timings["survival_models"] = time.perf_counter() - start
    if has_label:
        tables.result()
    else:
        predictions = survival_only_predictions(risks, frame, survival)
        write_paper_tables(predictions, pd.DataFrame(), frame, families, survival, config, partial)
    metrics = metrics_table(predictions, survival)
    store_cutoffs(predictions if has_label else None, risks, survival, partial)
    timings["total"] = time.perf_counter() - started
    provenance = {
        "name": config.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "patients": int(len(frame)),
        "models": list(predictions["model"].unique()),
        "seed": config.seed,
        "device": device,
        "deep_device": _read_text(partial / "deep_device.txt"),
        "timings_s": timings,
        "engine": package_version("engine"),
        "python": platform.python_version(),
        "packages": {
            name: package_version(name)
            for name in ("numpy", "scikit-learn", "pyradiomics", "torch", "monai", "xgboost", "lightgbm")
        },
        "survival_endpoints": survival,
        "families": {k: len(v) for k, v in families.items()},
        "time_unit": config.survival.time_unit,
        "horizons": config.survival.horizon_values(),
        "clinical": families.get("clinical", []),
        "resampled_phases": dict(cohort.resampled) if cohort is not None else {},
        "phases": list(cohort.phases) if cohort is not None else [],
        "manifest": str(cohort.root / Path(config.cohort.manifest).name) if cohort is not None else None,
        "flowchart": flowchart_counts(cohort, frame) if cohort is not None else None,
        "references": [name for name in predictions["model"].unique() if is_reference(name)],
        "clinical_selection": chosen_clinical(result.pipelines) if result is not None else {},
    }
    feature_columns = [c for family in families.values() for c in family]
    from engine.models.deep_folds import fold_columns

    outcome = ["label"] if has_label else []
    kept = [
        "patient_id",
        "split",
        *outcome,
        *(["center"] if "center" in frame and "center" not in feature_columns else []),  # ComBat's batch
        *dict.fromkeys(feature_columns),
        *fold_columns(frame),
    ]  # fold blocks: to re-run the grid
    frame[kept].to_parquet(partial / "features.parquet", index=False)
    if cohort is not None and len(cohort.excluded):
        cohort.excluded.to_csv(partial / "exclusions.csv", index=False)
    artifacts = [
        partial / name
        for name in (
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
        if (partial / name).exists()
    ]
    store.write(
        run_id,
        config=config.canonical(),
        predictions=predictions,
        grid=result.grid if result else pd.DataFrame(),
        selected=result.selected if result else pd.DataFrame(),
        metrics=metrics,
        provenance=provenance,
        pipelines=result.pipelines if result else None,
        artifacts=artifacts,
    )
    return run_id


def _read_text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
