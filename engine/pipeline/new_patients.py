"""Scoring new patients with a stored run: the same features, the frozen pipelines, the run's training cutoffs.

A run trained on images takes a manifest of the new patients (radiomics and deep features are extracted as in
training); a run trained on a feature table takes a table of the same columns. Either way the patients' table is
checked against what the run's pipelines need (engine.validation.new_patients) before anything is scored: every
missing column, text in a numeric column and level training never saw is listed in one message.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from engine.cohort.manifest import load_manifest
from engine.common.transforms import log_transform
from engine.features.radiomics import extraction_options
from engine.features.deep import study_crops
from engine.errors import ValidationError
from engine.models.reference import is_reference
from engine.pipeline.inputs import run_config
from engine.pipeline.study import Progress, _noop
from engine.validation import read_table_file
from engine.validation.new_patients import check_new_patients, new_patient_roles
from engine.validation.study_tables import announce


@dataclasses.dataclass(frozen=True)
class NewPatientScores:
    """What a run says about new patients. ``predictions``: one row per patient and model (probability, the
    positive/negative call at the model's stored cutoff, the risk groups at the training median); ``nomogram``: one
    row per patient (each predictor's points, the total, the probability with its 95% CI) of the run's default
    nomogram refitted on its training cohort, or None (no training cohort, no binary endpoint, no predictor);
    ``nomogram_terms``: its predictors and model scores."""

    predictions: pd.DataFrame
    nomogram: pd.DataFrame | None
    nomogram_terms: tuple[str, ...] = ()


def predict_new(run, patients: Path, *, workers: int = 1, progress: Progress = _noop) -> pd.DataFrame:
    """Predictions of a stored run's frozen pipelines for new patients: a manifest (a run trained on images) or a
    feature table (a run trained on one), in long form with each model's call at its stored cutoff and risk group at
    the run's training median. Raises one ValidationError listing every column, type or level the run's pipelines
    cannot take."""
    return score_new_patients(run, patients, workers=workers, progress=progress, nomogram=False).predictions


def score_new_patients(
    run, patients: Path, *, workers: int = 1, progress: Progress = _noop, nomogram: bool = True
) -> NewPatientScores:
    """``predict_new``'s predictions and, with ``nomogram``, the run's default nomogram for each new patient."""
    from engine.models.inputs import pipeline_inputs

    config = run_config(run.config)
    if run.provenance.get("strata"):
        raise ValidationError(
            f"run {run.run_id} is stratified by {run.provenance.get('strata_column')}: predict with the run of the "
            f"patients' stratum, one of {run.provenance['strata']}."
        )
    pipelines = {
        model: run.pipeline(model)
        for model in run.provenance.get("models", [])
        if not model.startswith("Stacked") and not is_reference(model)
    }
    if config.cohort.manifest:
        frame = _image_features(run, config, Path(patients), workers, progress)
    else:
        frame = read_table_file(patients, what="new patients", parquet=True)
        if config.cohort.log_transform:
            present = [c for c in config.cohort.log_transform if c in frame]
            frame, _ = log_transform(frame, present)
    references = {spec.column: tuple(spec.order) if spec.order else None for spec in config.reference_scores.values()}
    checked = check_new_patients(
        frame,
        {model: pipeline_inputs(pipeline) for model, pipeline in pipelines.items()},
        endpoint=config.endpoint,
        outcome_codes=config.cohort.outcome_codes,
        references=references,
    ).raise_problems(f"new patients {Path(patients).name}")
    announce(checked.notices)
    frame = checked.table
    rows = []
    for model, pipeline in pipelines.items():
        columns = list(pipeline_inputs(pipeline))
        rows.append(
            pd.DataFrame(
                {
                    "patient_id": frame["patient_id"],
                    "model": model,
                    "prob": pipeline.predict_proba(frame[columns])[:, 1],
                }
            )
        )
    rows += _reference_rows(config, frame, run.reference_scores())
    predictions = _calls(pd.concat(rows, ignore_index=True), run.performance(), config.endpoint)
    predictions = _risk_groups(predictions, run.risk_cutoffs())
    if not nomogram:
        return NewPatientScores(predictions, None)
    return NewPatientScores(predictions, *_nomogram_points(run, frame, predictions))


def _image_features(run, config, manifest: Path, workers: int, progress: Progress) -> pd.DataFrame:
    """The new patients' table with the radiomics and deep features the run was trained on."""
    import torch

    from engine.features.deep import build_backbone, embed
    from engine.features.radiomics import extract_cohort

    cohort = load_manifest(  # images and masks checked here; the columns as new patients (check_new_patients)
        manifest,
        roi=(run.config.get("cohort") or {}).get("roi"),
        roles=lambda table: new_patient_roles(table, config.endpoint),
    )
    trained = set(run.provenance.get("phases", []))
    absent_phases = sorted(trained - set(cohort.phases))
    if absent_phases:
        raise ValidationError(
            f"the new manifest lacks the phases {absent_phases} the run was trained on (image_<phase> columns)."
        )
    frame = cohort.table.copy()
    if config.cohort.log_transform:
        frame, _ = log_transform(frame, config.cohort.log_transform)
    needed = set(run.provenance.get("clinical", []))
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise ValidationError(f"the new manifest lacks the clinical columns {missing} the run's models use; add them.")
    if config.radiomics.enabled:
        radiomics, failures = extract_cohort(
            cohort,
            **extraction_options(config.radiomics),
            workers=workers,
            progress=lambda k: progress("radiomics", k, len(frame)),
        )
        if failures:
            raise ValidationError(f"radiomics failed for {len(failures)} new patient(s): {failures}")
        frame = frame.merge(radiomics, on="patient_id", how="left")
    network_file = run.path / "deep_network.pt"
    if config.deep.enabled:
        if not network_file.exists():
            raise ValidationError(
                "this run has no stored deep network; re-run it with this engine version to predict new patients."
            )
        progress("deep features", 0, 1)
        crops = study_crops(config.deep, cohort)
        network = build_backbone(
            config.deep.backbone, crops.shape[1], spatial_dims=crops.ndim - 2, width=config.deep.width
        )
        network.load_state_dict(torch.load(network_file, map_location="cpu", weights_only=True))
        values = embed(network.eval(), crops)
        deep = pd.DataFrame(values, columns=[f"dl_{k:03d}" for k in range(values.shape[1])]).assign(
            patient_id=cohort.table["patient_id"].to_numpy()
        )
        frame = frame.merge(deep, on="patient_id", how="left")
        progress("deep features", 1, 1)
    return frame


def _reference_rows(config, frame: pd.DataFrame, recalibrations: pd.DataFrame | None) -> list[pd.DataFrame]:
    """The reference scores of new patients: raw score and the stored training recalibration (no refitting)."""
    from engine.models.reference import parse_reference_scores

    if not config.reference_scores or recalibrations is None:
        return []
    stored = recalibrations.set_index("model")
    rows = []
    for score in parse_reference_scores({name: spec.model_dump() for name, spec in config.reference_scores.items()}):
        raw = score.values(frame)
        line = stored.loc[score.model]
        recalibrated = 1 / (1 + np.exp(-(line["intercept"] + line["slope"] * raw)))
        rows.append(
            pd.DataFrame(
                {"patient_id": frame["patient_id"], "model": score.model, "prob": raw, "recalibrated": recalibrated}
            )
        )
    return rows


def _calls(predictions: pd.DataFrame, performance: pd.DataFrame | None, endpoint: str) -> pd.DataFrame:
    """``cutoff`` (each model's cutoff as learned on training and stored in the run's performance table) and
    ``<endpoint>_call``: positive when prob >= cutoff (as the performance table counts), else negative."""
    if performance is None or "cutoff" not in performance:
        return predictions
    learned = performance[performance["split"] == "train"].drop_duplicates("model").set_index("model")["cutoff"]
    cutoff = predictions["model"].map(learned)
    predictions["cutoff"] = cutoff
    predictions[f"{endpoint}_call"] = np.where(
        cutoff.isna(), None, np.where(predictions["prob"] >= cutoff, "positive", "negative")
    )
    return predictions


def _nomogram_points(run, frame: pd.DataFrame, predictions: pd.DataFrame) -> tuple[pd.DataFrame | None, tuple]:
    """The run's default nomogram (the Nomogram page's: engine.views.case.default_nomogram_terms), refitted on its
    training cohort, applied to each new patient: points per predictor, total, probability and 95% CI."""
    from engine.common.predictions import filterable_columns
    from engine.views.analysis import fit_nomogram
    from engine.views.case import default_nomogram_terms, nomogram_values

    stored = run.predictions
    if "train" not in set(stored["split"]) or "label" not in stored or stored["label"].isna().all():
        return None, ()
    columns = [c for c in filterable_columns(stored) if c not in ("split", "center")]
    predictors, scores = default_nomogram_terms(columns, list(dict.fromkeys(stored["model"])))
    predictors = [c for c in predictors if c in frame]
    if not predictors and not scores:
        return None, ()
    _, fitted, _ = fit_nomogram(stored, predictors, scores)
    with_predictors = predictions.join(
        frame.drop_duplicates("patient_id").set_index("patient_id")[predictors], on="patient_id"
    )
    rows = []
    for patient_id in dict.fromkeys(predictions["patient_id"]):
        row: dict = {"patient_id": patient_id}
        values = nomogram_values(with_predictors, patient_id, predictors, scores)  # as the case viewer's calculator
        try:
            scored = fitted.score(values)
            interval = fitted.interval(values).iloc[0]
        except ValidationError as error:  # e.g. a level the training cohort never had
            rows.append({**row, "note": str(error)})
            continue
        row.update({f"{name} points": points for name, points in scored["points"].items()})
        row.update(
            total_points=scored["total_points"],
            probability=interval["estimate"],
            ci_low=interval["ci_low"],
            ci_high=interval["ci_high"],
            note="",
        )
        rows.append(row)
    return pd.DataFrame(rows), (*predictors, *(f"{model}-score" for model in scores))


def _risk_groups(predictions: pd.DataFrame, cutoffs: pd.DataFrame | None) -> pd.DataFrame:
    """``<endpoint>_risk_group`` (high / low) of each prediction by the run's training median cutoff."""
    if cutoffs is None:
        return predictions
    medians = cutoffs[(cutoffs["source"] == "binary") & (cutoffs["method"] == "median")]
    for endpoint, rows in medians.groupby("endpoint", sort=False):
        cutoff = predictions["model"].map(dict(zip(rows["model"], rows["cutoff"])))
        predictions[f"{endpoint}_risk_group"] = np.where(
            cutoff.isna(), None, np.where(predictions["prob"] > cutoff, "high", "low")
        )
    return predictions
