"""Existing scores and staging systems (BCLC, ALBI, CNLC, a published nomogram's points) as comparators.

A reference score is a model that is neither trained nor selected: its raw score (numeric, or the position of an
ordered category: BCLC 0 < A < B < C < D; higher = higher risk) enters ROC/AUC/DeLong, C-index and risk groups
unchanged. Calibration, decision curves, NRI/IDI and nomograms need probabilities: for those it is mapped by a
univariable logistic regression fitted on the training cohort only (``recalibrated`` column; intercept and slope
stored with the run) and applied unchanged to every other cohort.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from engine.errors import ValidationError

REFERENCE_SUFFIX = " (reference)"


@dataclasses.dataclass(frozen=True)
class ReferenceScore:
    """``column`` of the cohort; ``order``: its categories from lowest to highest risk (None: numeric)."""

    name: str
    column: str
    order: tuple[str, ...] | None = None

    @property
    def model(self) -> str:
        return self.name + REFERENCE_SUFFIX

    def values(self, frame: pd.DataFrame) -> np.ndarray:
        """The raw score per patient (category position for an ordered score), or a clear error."""
        if self.column not in frame:
            raise ValidationError(
                f"reference score {self.name}: column {self.column!r} is not in the cohort; columns are "
                f"{[c for c in frame.columns if not c.startswith(('image_', 'mask'))][:15]}."
            )
        raw = frame[self.column]
        if raw.isna().any():
            raise ValidationError(
                f"reference score {self.name}: column {self.column!r} has {int(raw.isna().sum())} missing "
                "values; fill them in (or drop those patients) to compare it with the models."
            )
        if self.order is not None:
            text = raw.astype(str).str.strip()
            unknown = sorted(set(text) - set(self.order))
            if unknown:
                raise ValidationError(
                    f"reference score {self.name}: values {unknown} of {self.column!r} are not in its order "
                    f"{list(self.order)}; add them to reference_scores.{self.name}.order."
                )
            return text.map({level: float(k) for k, level in enumerate(self.order)}).to_numpy(float)
        values = pd.to_numeric(raw, errors="coerce")
        if values.isna().any():
            shown = raw[values.isna()].astype(str).unique()[:5].tolist()
            raise ValidationError(
                f"reference score {self.name}: column {self.column!r} is not numeric (e.g. {shown}); give "
                f"its categories from lowest to highest risk as reference_scores.{self.name}.order."
            )
        return values.to_numpy(float)


def training_logistic(score: np.ndarray, label: np.ndarray):
    """The univariable logistic regression of the training ``label`` on the training ``score``: the recalibration
    that maps a reference or raw score to a probability (engine.models.LogisticModel; predict on ``{"score": ...}``)."""
    from engine.models import LogisticModel

    return LogisticModel().fit(pd.DataFrame({"score": score}), label)


def reference_predictions(
    frame: pd.DataFrame,
    scores: Sequence[ReferenceScore],
    outcome_columns: Sequence[str],
    cohort_columns: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Long prediction rows of each reference score (``prob`` = the raw score, ``recalibrated`` = the training
    logistic's probability) and the recalibration table (model, column, intercept, slope, n_train)."""

    train = (frame["split"] == "train").to_numpy()
    rows, recalibrations = [], []
    for score in scores:
        raw = score.values(frame)
        if np.unique(raw[train]).size < 2:
            raise ValidationError(
                f"reference score {score.name} has a single value on the training cohort; it cannot be compared."
            )
        logistic = training_logistic(raw[train], frame["label"].to_numpy(int)[train])
        probability = logistic.predict_proba(pd.DataFrame({"score": raw}))[:, 1]
        part = frame[["patient_id", "split", *outcome_columns, *[c for c in cohort_columns if c in frame]]].copy()
        part.insert(2, "model", score.model)
        part.insert(3, "classifier", "reference")
        part.insert(4, "prob", raw)
        part["recalibrated"] = probability
        rows.append(part)
        recalibrations.append(
            {
                "model": score.model,
                "column": score.column,
                "order": "<".join(score.order or ()),
                "intercept": logistic.intercept_,
                "slope": float(logistic.coef_[0]),
                "n_train": int(train.sum()),
            }
        )
    return pd.concat(rows, ignore_index=True), pd.DataFrame(recalibrations)


def parse_reference_scores(config: Mapping[str, Mapping]) -> list[ReferenceScore]:
    return [
        ReferenceScore(name, spec["column"], tuple(str(v) for v in spec["order"]) if spec.get("order") else None)
        for name, spec in config.items()
    ]


RAW_SCORE = "raw score"  # the classifier of an uploaded model whose ``prob`` is a risk score, not a probability


def recalibrate_raw_scores(predictions: pd.DataFrame) -> pd.DataFrame:
    """An upload's raw-score models (classifier ``raw score``: a Cox linear predictor, points, a stage) with the
    ``recalibrated`` column: a univariable logistic regression of the label on the score, fitted on the training
    cohort only and applied unchanged to every cohort (as for reference scores). Without a training cohort with
    both classes it stays missing and the probability pages leave the model out, saying why."""

    marked = predictions["classifier"].eq(RAW_SCORE)
    if not marked.any() or "label" not in predictions:
        return predictions
    out = predictions.copy()
    if "recalibrated" not in out:
        out["recalibrated"] = np.nan
    for model in out.loc[marked, "model"].unique():
        rows = out["model"].eq(model)
        train = rows & out["split"].eq("train") & out["label"].notna()
        if out.loc[train, "label"].nunique() < 2 or out.loc[train, "prob"].nunique() < 2:
            continue
        try:
            logistic = training_logistic(out.loc[train, "prob"].to_numpy(float), out.loc[train, "label"].to_numpy(int))
        except ValidationError:  # separated on training: no finite recalibration, the model stays a raw score
            continue
        scores = pd.DataFrame({"score": out.loc[rows, "prob"].to_numpy(float)})
        out.loc[rows, "recalibrated"] = logistic.predict_proba(scores)[:, 1]
    return out


def without_probabilities(predictions: pd.DataFrame) -> dict[str, str]:
    """The models whose ``prob`` is not a probability (marked raw score, or values outside [0, 1]) and that have no
    training recalibration, each with the reason and the fix."""
    refused = {}
    recalibrated = (
        predictions["recalibrated"] if "recalibrated" in predictions else pd.Series(np.nan, predictions.index)
    )
    for model, rows in predictions.groupby("model", sort=False):
        values = pd.to_numeric(rows["prob"], errors="coerce")
        marked = "classifier" in rows and rows["classifier"].eq(RAW_SCORE).any()  # new patients' tables have none
        raw = marked or bool(((values < 0) | (values > 1)).any())
        if raw and recalibrated[rows.index].isna().all():
            refused[str(model)] = (
                f"{model} is a raw risk score (values {values.min():.3g} to {values.max():.3g}), not a probability: "
                "calibration, decision curves, NRI/IDI and nomograms need probabilities. Give the table a train "
                "split with labels (a logistic recalibration is then fitted on it and labelled as such) or upload "
                "the model's probabilities; ROC/AUC, DeLong, C-index and Kaplan-Meier use the score as it is."
            )
    return refused


def as_probabilities(predictions: pd.DataFrame, models: Sequence[str] | None = None) -> pd.DataFrame:
    """The predictions with each reference score's (and raw score's) value replaced by its training recalibration
    (for calibration, decision curves, NRI/IDI and nomograms, which need probabilities); ``models``: the models
    the caller will use, each checked to be a probability then (a clear error if not)."""
    if models is not None:
        refused = without_probabilities(predictions[predictions["model"].isin(list(models))])
        if refused:
            raise ValidationError(" ".join(refused.values()))
    if "recalibrated" not in predictions or predictions["recalibrated"].isna().all():
        return predictions
    replaced = predictions["recalibrated"].notna()
    out = predictions.copy()
    out.loc[replaced, "prob"] = out.loc[replaced, "recalibrated"]
    return out


def is_reference(model: str) -> bool:
    return str(model).endswith(REFERENCE_SUFFIX)
