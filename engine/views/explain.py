"""SHAP explanations of a run's fitted model pipelines (the ``shap`` library).

What is explained is the classifier of a model's final pipeline, on the features that reach it (after imputation,
scaling, harmonisation and selection, all as fitted on the training cohort). The explainer follows the classifier:

- linear models (logistic regression): ``shap.LinearExplainer`` with the whole training cohort as background;
  the value of feature j is coef_j x (x_j - mean_j), on the log-odds scale;
- tree models (random forest, decision tree, gradient boosting, XGBoost, LightGBM): ``shap.TreeExplainer``
  (path-dependent, exact); log-odds for boosted trees, probability for forests and single trees;
- the rest (SVM, KNN, MLP, AdaBoost): ``shap.PermutationExplainer`` on the event probability, bounded: a
  background of at most 50 training patients and 2 p + 1 evaluations per patient (one antithetic permutation,
  exact for additive models), stated in the explanation's ``method`` text.

Every patient of every cohort is explained, with training patients only as background; outcomes are never used.
For fused models the contribution of a family (clinical, radiomics, deep) is the sum of its features' values
(:func:`family_contributions`). Explanations are computed on demand and cached in the run folder
(``explanations/<model>.npz``), outside the run's manifest, so they never make a run look damaged.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.models.reference import is_reference

BACKGROUND = 50  # patients in the model-agnostic explainer's background
FAMILY_NAMES = {"clinical": "Clinical", "radiomics": "Radiomics", "deep": "Deep learning"}
_LINEAR = ("LogisticRegression",)
_TREES = (
    "RandomForestClassifier",
    "ExtraTreesClassifier",
    "DecisionTreeClassifier",
    "GradientBoostingClassifier",
    "XGBClassifier",
    "LGBMClassifier",
)
_SKIPPED_STEPS = ("deep_folds", "clinical", "smote", "classifier")


@dataclasses.dataclass(frozen=True)
class Explanation:
    """SHAP values of one model: ``values[i, j]`` is feature j's contribution to patient i's output (``scale``);
    ``base_value`` + the row sum is the model's output for the patient."""

    model: str
    method: str  # which explainer, with its background and bounds, in words
    scale: str  # "log-odds" or "probability"
    patient_id: np.ndarray
    split: np.ndarray
    features: list[str]  # as the classifier sees them (after preprocessing and selection)
    families: list[str]  # clinical / radiomics / deep per feature
    values: np.ndarray  # patients x features
    data: np.ndarray  # the transformed feature values (standardised)
    base_value: float

    def output(self) -> np.ndarray:
        """The model's output per patient on ``scale`` (base value + contributions)."""
        return self.base_value + self.values.sum(axis=1)

    def frame(self, split: str | None = None) -> pd.DataFrame:
        """Long table: patient_id, split, feature, family, value (standardised), shap."""
        keep = np.ones(len(self.patient_id), bool) if split is None else self.split == split
        n, p = int(keep.sum()), len(self.features)
        return pd.DataFrame(
            {
                "patient_id": np.repeat(self.patient_id[keep], p),
                "split": np.repeat(self.split[keep], p),
                "feature": np.tile(self.features, n),
                "family": np.tile(self.families, n),
                "value": self.data[keep].ravel(),
                "shap": self.values[keep].ravel(),
            }
        )


def importance(explanation: Explanation, split: str | None = "train") -> pd.DataFrame:
    """Global importance: mean |SHAP| per feature on a cohort (default training), largest first."""
    keep = _rows(explanation, split)
    table = pd.DataFrame(
        {
            "feature": explanation.features,
            "family": explanation.families,
            "mean_abs_shap": np.abs(explanation.values[keep]).mean(axis=0),
        }
    )
    return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)


def family_contributions(explanation: Explanation) -> pd.DataFrame:
    """Per patient, the contribution of each feature family (sum of its features' SHAP values): patient_id, split,
    one column per family. The families of a row add up to the model's output minus the base value."""
    table = pd.DataFrame({"patient_id": explanation.patient_id, "split": explanation.split})
    families = np.asarray(explanation.families)
    for family in dict.fromkeys(explanation.families):
        table[family] = explanation.values[:, families == family].sum(axis=1)
    return table


def family_shares(explanation: Explanation, split: str | None = "train") -> pd.DataFrame:
    """Share of each family in the model's contributions on a cohort: mean |family contribution| per family and
    its share of the total of those means (1 in all)."""
    contributions = family_contributions(explanation)
    contributions = contributions[_rows(explanation, split)]
    families = [c for c in contributions if c not in ("patient_id", "split")]
    magnitude = contributions[families].abs().mean()
    return pd.DataFrame(
        {
            "family": families,
            "mean_abs_contribution": magnitude.to_numpy(),
            "share": (magnitude / magnitude.sum()).to_numpy() if magnitude.sum() > 0 else np.nan,
        }
    )


def _rows(explanation: Explanation, split: str | None) -> np.ndarray:
    if split is None:
        return np.ones(len(explanation.split), bool)
    keep = explanation.split == split
    if not keep.any():
        raise ValidationError(
            f"split must be one of the explained cohorts {sorted(set(explanation.split))}; got {split!r}."
        )
    return keep


def explainable_models(run) -> list[str]:
    """The run's models with a fitted pipeline of their own (not stacked fusions, not reference scores); [] for a
    run without pipelines or without its feature table."""
    from engine.store import _safe_name

    if not (run.path / "features.parquet").exists():
        return []
    return [
        m
        for m in run.provenance.get("models", [])
        if not m.startswith("Stacked")
        and not is_reference(m)
        and (run.path / "pipelines" / f"{_safe_name(m)}.skops").exists()
    ]


def default_model(models: list[str]) -> str:
    """The model the Explanations page opens on: the full fusion when the run has it, else the first."""
    return "Combined" if "Combined" in models else models[0]


def explain(run, model: str, *, seed: int = 0, cache: bool = True) -> Explanation:
    """SHAP values of ``model``'s final pipeline for every patient of the run (cached in the run folder)."""
    from engine.store import _safe_name

    if model not in explainable_models(run):
        raise ValidationError(
            f"model must be one of the run's models with a fitted pipeline {explainable_models(run)}; got {model!r} "
            "(stacked fusions and reference scores have no single pipeline to explain)."
        )
    path = run.path / "explanations" / f"{_safe_name(model)}.npz"
    if cache and path.exists():
        return _load(path)
    features = run.features()
    if features is None:
        raise ValidationError(f"run {run.run_id} stores no feature table; re-run it with this engine version.")
    explanation = explain_pipeline(
        run.pipeline(model),
        features,
        model=model,
        clinical=run.provenance.get("clinical", []),
        seed=seed,
    )
    if cache:
        try:
            _save(explanation, path)
        except OSError:  # a read-only store: the explanation is still shown, computed again next time
            pass
    return explanation


def explain_pipeline(
    pipeline, frame: pd.DataFrame, *, model: str, clinical: list[str] = (), seed: int = 0
) -> Explanation:
    """SHAP values of a fitted pipeline's classifier for every row of ``frame`` (patient_id, split, features);
    the background is the rows with split ``train``."""
    from engine.selection.clinical import input_columns

    if "split" not in frame or not (frame["split"] == "train").any():
        raise ValidationError("frame must have a split column with training patients (the explainer's background).")
    columns = input_columns(pipeline)
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValidationError(f"frame lacks columns the model {model} takes, e.g. {missing[:5]}.")
    transformed = np.asarray(pipeline[:-1].transform(frame[columns]), dtype=float)
    names = transformed_names(pipeline, transformed.shape[1])
    background = transformed[(frame["split"] == "train").to_numpy()]
    classifier = pipeline.named_steps["classifier"]
    values, base_value, scale, method = _shap_values(classifier, transformed, background, seed)
    return Explanation(
        model=model,
        method=method,
        scale=scale,
        patient_id=frame["patient_id"].astype(str).to_numpy(),
        split=frame["split"].astype(str).to_numpy(),
        features=names,
        families=[feature_family(name, clinical) for name in names],
        values=values,
        data=transformed,
        base_value=float(base_value),
    )


def transformed_names(pipeline, width: int) -> list[str]:
    """Names of the columns that reach the classifier (the preprocessing's and selectors' output names)."""
    names = None
    for name, step in pipeline.steps:
        if name in _SKIPPED_STEPS:
            continue
        names = step.get_feature_names_out() if names is None else step.get_feature_names_out(names)
    names = [str(n) for n in (names if names is not None else [f"x{i}" for i in range(width)])]
    if len(names) != width:
        raise ValidationError(f"the pipeline names {len(names)} features but passes {width} to its classifier.")
    return names


def feature_family(name: str, clinical: list[str]) -> str:
    """clinical (a clinical column, its one-hot level or the no-predictor placeholder), deep (dl_*) or radiomics."""
    from engine.selection.clinical import NO_CLINICAL

    if name == NO_CLINICAL or name in clinical or any(name.startswith(f"{c}_") for c in clinical):
        return "clinical"
    return "deep" if name.startswith("dl_") else "radiomics"


def _shap_values(classifier, data: np.ndarray, background: np.ndarray, seed: int) -> tuple[Any, float, str, str]:
    import shap

    kind = type(classifier).__name__
    if kind in _LINEAR:
        explainer = shap.LinearExplainer(classifier, shap.maskers.Independent(background, max_samples=len(background)))
        values = explainer.shap_values(data)
        return (
            np.asarray(values, float),
            float(np.ravel(explainer.expected_value)[-1]),
            "log-odds",
            f"LinearExplainer (exact), background: the {len(background)} training patients",
        )
    if kind in _TREES:
        explainer = shap.TreeExplainer(classifier)
        values = np.asarray(explainer.shap_values(data), float)
        expected = np.ravel(explainer.expected_value)
        if values.ndim == 3:  # one slice per class: the event class
            values = values[:, :, -1]
        scale = (
            "probability"
            if kind in ("RandomForestClassifier", "ExtraTreesClassifier", "DecisionTreeClassifier")
            else "log-odds"
        )
        return values, float(expected[-1]), scale, "TreeExplainer (exact, path-dependent on the training trees)"
    rng = np.random.default_rng(seed)
    sample = background[rng.choice(len(background), size=min(BACKGROUND, len(background)), replace=False)]
    explainer = shap.PermutationExplainer(
        lambda rows: classifier.predict_proba(rows)[:, 1],
        shap.maskers.Independent(sample, max_samples=len(sample)),
        seed=seed,
    )
    result = explainer(data, max_evals=2 * data.shape[1] + 1, silent=True)
    return (
        np.asarray(result.values, float),
        float(np.ravel(result.base_values)[0]),
        "probability",
        f"PermutationExplainer (model-agnostic, bounded): background of {len(sample)} training patients, "
        f"{2 * data.shape[1] + 1} evaluations per patient",
    )


def _save(explanation: Explanation, path: Path) -> None:
    """Atomic write (temporary file, then rename) so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {k: getattr(explanation, k) for k in ("model", "method", "scale", "base_value")}
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as out:
        np.savez(
            out,
            meta=np.array(json.dumps(meta)),
            patient_id=explanation.patient_id.astype(str),
            split=explanation.split.astype(str),
            features=np.array(explanation.features, dtype=str),
            families=np.array(explanation.families, dtype=str),
            values=explanation.values,
            data=explanation.data,
        )
    os.replace(temporary, path)


def _load(path: Path) -> Explanation:
    with np.load(path, allow_pickle=False) as stored:
        meta = json.loads(str(stored["meta"]))
        return Explanation(
            **meta,
            patient_id=stored["patient_id"],
            split=stored["split"],
            features=[str(f) for f in stored["features"]],
            families=[str(f) for f in stored["families"]],
            values=stored["values"],
            data=stored["data"],
        )
