"""What a run stores besides its predictions: the metrics table, the cohort flowchart's counts, the clinical
predictors' regression tables, survival-only predictions, reference scores and the training cutoffs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from engine.common.transforms import log_name
from engine.config import StudyConfig
from engine.errors import ValidationError


def families_for_table(frame: pd.DataFrame, config: StudyConfig) -> dict[str, list[str]]:
    """The feature families of a feature table's columns: the clinical columns, dl_ columns (deep), every other
    numeric column (radiomics), and prefix:<p> families. Ids, outcomes, split, centre, the strata column, the
    reference scores' columns and ignored columns are in no family (a staging score is a comparator, not a feature)."""
    references = {spec.column for spec in config.reference_scores.values()}
    reserved = {"patient_id", "split", "center", config.endpoint, *config.cohort.ignore_columns, *references}
    reserved |= {c for c in frame if c.endswith(("_time", "_event"))} | ({config.strata} if config.strata else set())
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


def horizons_within_follow_up(frame: pd.DataFrame, endpoint: str, horizons: list[float]) -> list[float]:
    """The horizons before the end of the training cohort's follow-up (a survival estimate needs patients at risk)."""
    last = frame.loc[frame["split"] == "train", f"{endpoint}_time"].max()
    return [h for h in horizons if h < last]


def with_references(
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


def write_paper_tables(predictions, classifier_predictions, frame, families, survival, config, partial) -> None:
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


def chosen_clinical(pipelines: dict) -> dict[str, list[str]]:
    """The clinical predictors each model's final pipeline chose (models with a clinical selection step)."""
    return {
        name: list(p.named_steps["clinical"].chosen_) for name, p in pipelines.items() if "clinical" in p.named_steps
    }


def store_cutoffs(predictions: pd.DataFrame, risks: pd.DataFrame | None, endpoints: list[str], partial: Path) -> None:
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
