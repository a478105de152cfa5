"""A whole study, start to finish: cohort -> features (cached) -> model grid -> run store.

``run_study`` returns the run id; the same config on the same data is served from the store; finished steps
of an interrupted run (radiomics, deep features) are reused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import hashlib
import importlib
import platform
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from engine.common.cluster import dask_cluster, jobs, run_on_gpu_worker
from engine.cohort.file_index import FileIndex
from engine.cohort.manifest import assign_splits, file_columns, load_manifest, read_table
from engine.validation import check_table, read_table_file
from engine.validation.study_tables import announce, study_roles
from engine.common.transforms import log_name, log_transform
from engine.config import StudyConfig, resolve_device
from engine.errors import ValidationError
from engine.features.cache import FeatureCache, file_digest
from engine.models.reference import is_reference
from engine.store import RunStore, run_key

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def _noop(stage: str, done: int, total: int) -> None:
    return None


def _cohort_digest(table: pd.DataFrame, path_columns: list[str], files: FileIndex) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(table.drop(columns=path_columns), index=False).values.tobytes())
    for column in path_columns:
        for value in table[column].dropna():
            digest.update(files.get(value, "sha256", lambda path=value: file_digest(path)).encode())
    return digest.hexdigest()


def _families_for_table(frame: pd.DataFrame, config: StudyConfig) -> dict[str, list[str]]:
    reserved = {"patient_id", "split", "center", config.endpoint} | {
        c for c in frame if c.endswith(("_time", "_event"))
    }
    named = [log_name(c) if c in config.cohort.log_transform else c for c in config.cohort.clinical]
    clinical = [c for c in named if c in frame]
    families = {"clinical": clinical} if clinical else {}
    deep = [c for c in frame if c.startswith("dl_")]
    if deep:
        families["deep"] = deep
    rest = [
        c
        for c in frame
        if c not in reserved and c not in clinical and c not in deep and pd.api.types.is_numeric_dtype(frame[c])
    ]
    if rest:
        families["radiomics"] = rest
    for parts in config.grid.models.values():
        for part in parts:
            if part.startswith("prefix:"):
                families[part] = [c for c in frame if c.startswith(part[len("prefix:") :]) and c not in reserved]
    return families


def metrics_table(predictions: pd.DataFrame, survival_endpoints: list[str]) -> pd.DataFrame:
    """AUC (DeLong 95% CI) per model and cohort, and Harrell's C of the probability for each survival endpoint."""
    from engine.stats import auc_ci, concordance_index

    rows = []
    for (model, split), group in predictions.groupby(["model", "split"], sort=False):
        row = {"model": model, "split": split, "classifier": group["classifier"].iloc[0], "n": len(group)}
        if "label" in group:
            row["events"] = int(group["label"].sum())
            try:
                result = auc_ci(group["label"], group["prob"])
                row.update(auc=result.auc, auc_ci_low=result.ci_low, auc_ci_high=result.ci_high)
            except ValidationError as error:
                row.update(auc=np.nan, note=str(error))
        for endpoint in survival_endpoints:
            try:
                row[f"{endpoint}_c_index"] = concordance_index(
                    group[f"{endpoint}_time"], group[f"{endpoint}_event"], group["prob"]
                ).c_index
            except ValidationError:
                row[f"{endpoint}_c_index"] = np.nan
        rows.append(row)
    return pd.DataFrame(rows)


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

        return run_stratified(config, base, store, workers=workers, scheduler=scheduler, progress=progress, force=force)
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


def study_fingerprint(config: StudyConfig, base: Path) -> str:
    """The study's files as they are now, without reading an image: the size and modification time of the manifest
    (or feature table) and of every image and mask it names (a DICOM folder by its files), with the engine's and
    scikit-learn's versions (splits come from scikit-learn). Equal fingerprints and configs mean the run recorded
    for them is this run; any other file in the folder does not count."""
    from engine.cohort.file_index import signature

    source = base / (config.cohort.manifest or config.cohort.feature_table)
    digest = hashlib.sha256(f"{_version('engine')}|{_version('scikit-learn')}|{source.resolve()}".encode())
    if not source.exists():
        return "files:" + digest.hexdigest()  # the full path says what is missing
    digest.update(signature(source).encode())
    if config.cohort.manifest:
        try:
            table = read_table(source)
        except (ValidationError, ValueError, OSError):
            return "files:" + digest.hexdigest()
        for column in file_columns(table):
            for value in table[column].dropna().astype(str):
                path = source.parent / value
                digest.update(f"{value}|{signature(path) if path.exists() else 'missing'};".encode())
    return "files:" + digest.hexdigest()


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
    grid_imported = _in_background(importlib.import_module, "engine.models.grid")
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
        crops = _in_background(_deep_inputs, cohort, config)  # while the workers extract radiomics
    if cohort is not None:
        clinical = list(cohort.clinical)
        families["clinical"] = clinical
        if config.radiomics.enabled:
            frame, families["radiomics"] = _radiomics_step(
                cohort, config, store, partial, frame, workers, scheduler, progress, timings
            )
            if config.radiomics.icc_threshold is not None:
                families["radiomics"] = _icc_step(
                    cohort, config, store, partial, frame, families["radiomics"], workers, scheduler, progress
                )
    device = resolve_device(config.device)
    if cohort is not None and config.deep.enabled:
        frame, families["deep"] = _deep_step(
            cohort, config, partial, frame, device, scheduler, progress, timings, crops
        )
    if cohort is None:
        families = _families_for_table(frame, config)
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
        predictions = _with_references(result.predictions, frame, families, config, partial)
        tables = _in_background(  # one core's work, while the survival models below keep the workers busy
            _paper_tables, predictions, result.classifier_predictions, frame, families, survival, config, partial
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
                horizons=_horizons_within_follow_up(frame, endpoint, config.survival.horizon_values()),
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
        _paper_tables(predictions, pd.DataFrame(), frame, families, survival, config, partial)
    metrics = metrics_table(predictions, survival)
    _store_cutoffs(predictions if has_label else None, risks, survival, partial)
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
        "engine": _version("engine"),
        "python": platform.python_version(),
        "packages": {
            name: _version(name)
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
        "clinical_selection": _chosen_clinical(result.pipelines) if result is not None else {},
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


PAPER_TABLES = (
    "performance.csv",
    "classifier_predictions.parquet",
    "reference_scores.csv",
    "clinical_univariable.csv",
    "clinical_multivariable.csv",
)


def flowchart_counts(cohort, frame: pd.DataFrame) -> dict:
    """The cohort flowchart's numbers: patients in the manifest, excluded per reason, analysed, per cohort (in the
    order train, internal, external)."""
    from engine.common.predictions import ordered_splits

    reasons = cohort.excluded["reason"].value_counts() if len(cohort.excluded) else pd.Series(dtype=int)
    counts = frame["split"].value_counts()
    return {
        "manifest": int(cohort.listed or len(cohort.table) + len(cohort.excluded)),
        "excluded": {str(reason): int(n) for reason, n in reasons.items()},
        "analysed": int(len(frame)),
        "cohorts": {split: int(counts[split]) for split in ordered_splits(frame)},
    }


def survival_only_predictions(risks: pd.DataFrame, frame: pd.DataFrame, endpoints: list[str]) -> pd.DataFrame:
    """A survival-only study's predictions table: the survival models' risks (``prob`` = risk score) of every
    endpoint, with every endpoint's time and event; with several endpoints the model says which it was fitted for,
    e.g. ``Rad (Cox, RFS)``."""
    from engine.common.predictions import survival_as_predictions

    frames = []
    for endpoint in endpoints:
        rows = survival_as_predictions(risks, endpoint)
        if len(endpoints) > 1:
            rows["model"] = rows["model"].str.replace(r"\)$", f", {endpoint.upper()})", regex=True)
        others = [c for other in endpoints if other != endpoint for c in (f"{other}_time", f"{other}_event")]
        frames.append(rows.merge(frame[["patient_id", *others]], on="patient_id", how="left"))
    return pd.concat(frames, ignore_index=True)


def _horizons_within_follow_up(frame: pd.DataFrame, endpoint: str, horizons: list[float]) -> list[float]:
    """The horizons before the end of the training cohort's follow-up (a survival estimate needs patients at risk)."""
    last = frame.loc[frame["split"] == "train", f"{endpoint}_time"].max()
    return [h for h in horizons if h < last]


def _with_references(
    predictions: pd.DataFrame, frame: pd.DataFrame, families: dict, config: StudyConfig, partial: Path
) -> pd.DataFrame:
    """The grid's predictions plus a model per reference score (raw score; training recalibration stored)."""
    if not config.reference_scores:
        return predictions
    from engine.models.reference import parse_reference_scores, reference_predictions
    from engine.common.predictions import outcome_columns

    scores = parse_reference_scores({name: spec.model_dump() for name, spec in config.reference_scores.items()})
    cohort_columns = [
        c
        for c in predictions.columns
        if c in frame and c not in ("patient_id", "split", "prob") and c not in outcome_columns(predictions)
    ]
    rows, recalibration = reference_predictions(frame, scores, outcome_columns(predictions), cohort_columns)
    recalibration.to_csv(partial / "reference_scores.csv", index=False)
    return pd.concat([predictions, rows], ignore_index=True)


def _paper_tables(predictions, classifier_predictions, frame, families, survival, config, partial) -> None:
    """performance.csv (cutoffs fixed on training), every classifier's held-out predictions, and the clinical
    univariable / multivariable tables of each endpoint on the training cohort."""
    from engine.views.performance import learn_cutoffs, performance_table

    if "label" in predictions:
        cutoffs = learn_cutoffs(predictions, method=config.grid.cutoff.method, target=config.grid.cutoff.target)
        performance = performance_table(predictions, cutoffs).merge(cutoffs[["model", "method", "target"]], on="model")
        performance.to_csv(partial / "performance.csv", index=False)
    if len(classifier_predictions):
        classifier_predictions.to_parquet(partial / "classifier_predictions.parquet", index=False)
    clinical = families.get("clinical", [])
    if not clinical:
        return
    from engine.stats.regression import select_clinical

    train = frame[frame["split"] == "train"]
    method = config.grid.clinical_selection.method
    settings = {
        "method": "multivariable" if method == "none" else method,
        "enter_p": config.grid.clinical_selection.enter_p,
        "stay_p": config.grid.clinical_selection.stay_p,
    }
    outcomes = [("label", {"outcome": "label"})] if "label" in frame else []
    outcomes += [(e, {"time": f"{e}_time", "event": f"{e}_event"}) for e in survival]
    univariable, multivariable = [], []
    for endpoint, columns in outcomes:
        chosen = select_clinical(train, clinical, **settings, **columns)
        univariable.append(chosen.univariable.assign(endpoint=endpoint))
        table = chosen.multivariable.assign(endpoint=endpoint, reason=chosen.reason)
        if method != "none" and endpoint == "label":  # the grid's clinical models use this choice (binary endpoint)
            table["chosen"] = table["predictor"].isin(chosen.chosen)
        multivariable.append(table)
    for name, tables in (("univariable", univariable), ("multivariable", multivariable)):
        kept = [t for t in tables if not t.empty] or tables[:1]  # an endpoint with no predictor adds no row
        pd.concat(kept, ignore_index=True).to_csv(partial / f"clinical_{name}.csv", index=False)


def _chosen_clinical(pipelines: dict) -> dict[str, list[str]]:
    """The clinical predictors each model's final pipeline chose (models with a clinical selection step)."""
    return {
        name: list(p.named_steps["clinical"].chosen_) for name, p in pipelines.items() if "clinical" in p.named_steps
    }


def read_feature_table(path: Path, config: StudyConfig) -> pd.DataFrame:
    """A feature table read and checked against the study's roles (engine.validation): every problem in one
    ValidationError; outcomes recoded to 0/1, what was changed said (InputNotice)."""
    table = read_table_file(path, what="feature table", parquet=True)
    checked = check_table(table, study_roles(config, table, "feature table")).raise_problems(
        f"feature table {path.name}"
    )
    announce(checked.notices)
    return checked.table


def load_study_table(config: StudyConfig, base: Path, files: FileIndex | None = None):
    """(cohort or None, patient table with splits assigned and the endpoint as ``label``, image path columns, data
    digest) for a manifest or a feature-table study; ``files`` remembers what was read from each image file."""
    files = files or FileIndex(None)
    if config.cohort.manifest:
        cohort = load_manifest(
            base / config.cohort.manifest,
            clinical=config.cohort.clinical or None,
            roi=config.cohort.roi,
            exclude_incomplete=config.cohort.exclude_incomplete,
            files=files,
            roles=lambda frame: study_roles(config, frame, "manifest", features=False),
        )
        announce(cohort.notices)
        cohort = assign_splits(
            cohort,
            external_centers=config.cohort.external_centers,
            train_fraction=config.cohort.train_fraction,
            seed=config.seed,
        )
        table = cohort.table
        path_columns = file_columns(table)
        digest = _cohort_digest(table, path_columns, files)
    else:
        cohort = None
        feature_file = base / config.cohort.feature_table
        table = read_feature_table(feature_file, config)
        if "split" not in table:
            from engine.cohort.manifest import Cohort

            table = assign_splits(
                Cohort(base, table, (), (), ()),
                external_centers=config.cohort.external_centers,
                train_fraction=config.cohort.train_fraction,
                seed=config.seed,
            ).table
        path_columns = []
        digest = file_digest(feature_file)
    if config.endpoint != "label":
        table = table.rename(columns={config.endpoint: "label"})
        if cohort is not None:
            cohort = dataclasses.replace(cohort, table=table)
    return cohort, table, path_columns, digest


def _store_cutoffs(predictions: pd.DataFrame, risks: pd.DataFrame | None, endpoints: list[str], partial: Path) -> None:
    """Training-cohort risk cutoffs (median, maxstat) of every binary and survival model, per endpoint."""
    from engine.views.analysis import training_cutoffs
    from engine.common.predictions import survival_as_predictions

    tables = [training_cutoffs(predictions, endpoints)] if predictions is not None else []
    if risks is not None:
        tables += [
            training_cutoffs(survival_as_predictions(risks, e), [e], source="survival")
            for e in endpoints
            if e in set(risks["endpoint"])
        ]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    if len(table):
        table.to_csv(partial / "risk_cutoffs.csv", index=False)


def _read_text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


def _version(name: str) -> str:
    if name == "engine":
        import engine

        return engine.__version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def _radiomics_step(cohort, config, store, partial, frame, workers, scheduler, progress, timings):
    from engine.features.radiomics import extract_cohort

    target = partial / "radiomics.parquet"
    start = time.perf_counter()
    if target.exists():
        radiomics = pd.read_parquet(target)
    else:
        total, done = len(cohort.table), [0]

        def tick(count: int) -> None:
            done[0] += count
            progress("radiomics", done[0], total)

        radiomics, failures = extract_cohort(
            cohort,
            **config.radiomics.extraction_options(),
            cache=FeatureCache(store.feature_cache_dir),
            workers=workers,
            scheduler=scheduler,
            progress=tick,
        )
        if failures:
            shown = "; ".join(f"{pid}: {why}" for pid, why in list(failures.items())[:10])
            raise ValidationError(
                f"radiomics failed for {len(failures)} patient(s) ({shown}). The other patients' features are cached; "
                f"fix or drop these rows and run again."
            )
        radiomics.to_parquet(target, index=False)
    timings["radiomics"] = time.perf_counter() - start
    columns = [c for c in radiomics.columns if c != "patient_id"]
    return frame.merge(radiomics, on="patient_id", how="left"), columns


def _icc_step(cohort, config, store, partial, frame, columns, workers, scheduler, progress) -> list[str]:
    """Keep the radiomics features reproducible between readers: ICC between the two readers' features on the
    training patients (no outcome is used, so filtering before the grid leaks nothing)."""
    from engine.cohort.manifest import Cohort
    from engine.features.radiomics import extract_cohort
    from engine.selection import icc

    readers = {cohort.second_reader_column(phase) for phase in cohort.phases}
    if None in readers or len(readers) != 1:
        raise ValidationError(
            "radiomics.icc_threshold needs a second reader's mask (mask2, or mask2_<phase> for every phase) in the "
            "manifest."
        )
    target = partial / "icc.csv"
    if not target.exists():
        train = cohort.table[cohort.table["split"] == "train"]
        second, failures = extract_cohort(
            Cohort(cohort.root, train, cohort.phases, cohort.survival_endpoints, cohort.clinical),
            **config.radiomics.extraction_options(),
            mask_column=readers.pop(),
            cache=FeatureCache(store.feature_cache_dir),
            workers=workers,
            scheduler=scheduler,
            progress=lambda k: progress("second reader", k, len(train)),
        )
        if failures:
            raise ValidationError(f"second-reader radiomics failed for {len(failures)} patient(s): {failures}")
        first = frame.set_index("patient_id").loc[second["patient_id"], columns]
        values = icc(first.reset_index(drop=True), second[columns].reset_index(drop=True), config.radiomics.icc_kind)
        values.rename("icc").rename_axis("feature").reset_index().to_csv(target, index=False)
    table = pd.read_csv(target)
    kept = set(table.loc[table["icc"] >= config.radiomics.icc_threshold, "feature"])
    return [c for c in columns if c in kept]


def _in_background(function, *args) -> Future:
    """``function(*args)`` on a thread of its own; the thread ends when it returns."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(function, *args)
    pool.shutdown(wait=False)
    return future


def _deep_inputs(cohort, config):
    """The tumour crops, with the network's libraries imported first (torch, MONAI, torch's optimiser machinery:
    about 5 s on one core for the demo, crops 2 s more). Run on a thread while the worker processes extract
    radiomics, so that the deep step does not wait on one core.

    The first import makes some 500,000 objects that live as long as the process; the garbage collector walked
    them again at each of its full collections during the import and after (2 s of one core in the cold demo).
    So no collection runs during that import, and what it made is frozen after it (left out of collections)."""
    first = "torch" not in sys.modules
    collecting = gc.isenabled()
    gc.disable()
    try:
        import torch
        from monai.networks import nets  # noqa: F401 - imported for the network built later

        torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first optimiser built imports torch._dynamo
    finally:
        if collecting:
            gc.enable()
    if first:
        gc.freeze()
    return config.deep.crops(cohort)


def _deep_step(cohort, config, partial, frame, device, scheduler, progress, timings, crops: Future | None = None):
    target = partial / "deep.parquet"
    start = time.perf_counter()
    if target.exists():
        deep = pd.read_parquet(target)
    else:
        progress("deep features: crops", 0, 1)
        crops = crops.result() if crops is not None else config.deep.crops(cohort)
        progress("deep features: training", 0, 1)
        try:
            objective, labels = config.deep.training_target(
                cohort.table, config.survival_endpoints or list(cohort.survival_endpoints)
            )
        except ValueError as error:
            raise ValidationError(str(error)) from None
        settings = dict(
            backbone=config.deep.backbone,
            width=config.deep.width,
            epochs=config.deep.epochs,
            folds=config.deep.folds,
            seed=config.seed,
            weights=config.deep.weights,
            objective=objective,
        )
        arguments = (crops, labels, cohort.table["split"], settings, cohort.table["patient_id"])
        remote, trained = run_on_gpu_worker(scheduler, _train_deep, *arguments, config.device)
        deep, network_state, gallery, used = trained if remote else _train_deep(*arguments, device)
        (partial / "deep_device.txt").write_text(f"{used} on a Dask GPU worker" if remote else used)
        import torch

        torch.save(network_state, partial / "deep_network.pt")
        if gallery is not None:
            np.savez_compressed(partial / "gradcam.npz", **gallery)
        deep.to_parquet(target, index=False)
        progress("deep features", 1, 1)
    timings["deep"] = time.perf_counter() - start
    columns = [
        c for c in deep.columns if c.startswith("dl_")
    ]  # the fold blocks travel in the frame (engine.models.deep_folds)
    return frame.merge(deep, on="patient_id", how="left"), columns


def _train_deep(crops, labels, splits, settings, patient_ids, device):
    """Train the network (out-of-fold deep features) and draw the Grad-CAM gallery of up to 24 validation
    patients: (features, the network's state_dict on the CPU, the gallery arrays or None for 3-D crops, the
    device used). Runs here or on a Dask worker with a GPU; ``device`` is resolved where it runs."""
    from engine.features.deep import DeepFeatureSettings, deep_features, gradcam_for_or_against

    device = resolve_device(device)
    deep, network = deep_features(
        crops, labels, splits, DeepFeatureSettings(**settings, device=device), patient_ids, return_network=True
    )
    gallery = None
    shown = np.flatnonzero(splits.to_numpy() != "train")[:24]
    if crops.ndim == 4:  # the Grad-CAM gallery shows 2-D crops
        heatmaps, against = gradcam_for_or_against(network, crops[shown], device)
        gallery = {
            "patient_id": patient_ids.to_numpy()[shown].astype(str),
            "label": np.nan_to_num(labels if labels.ndim == 1 else labels[:, 1]).astype(int)[shown],
            "crop": crops[shown],
            "heatmap": heatmaps,
            "against": against,
        }
    state = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
    return deep, state, gallery, device


def run_config(settings: dict) -> StudyConfig:
    """A stored run's config, as the run was made: one made before ``radiomics.ring_shape`` existed (engine < 0.6.0)
    extracted the rings' shape features too, and its pipelines expect them."""
    from engine.config import parse_config

    config = parse_config(settings)
    if "ring_shape" not in (settings.get("radiomics") or {}):
        config.radiomics.ring_shape = True
    return config
