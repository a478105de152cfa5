"""Survival models for time-to-event endpoints: for each model (a combination of feature families) a plain Cox
model (families of at most ``MAX_COX_PREDICTORS`` columns, e.g. the clinical one), a LASSO-Cox (penalty by
cross-validated partial likelihood) and a random survival forest, chosen by out-of-fold Harrell's C on the
training split only. Training risks are out-of-fold; internal and external patients get the model refitted
on the whole training split. A higher risk means an earlier event.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline

from engine.common.cluster import Serial, again_if_lost
from engine.errors import ValidationError
from engine.models.deep_folds import FoldedDeepFeatures, deep_cv, fold_columns, has_deep_folds
from engine.features.harmonize import combat_step
from engine.models.grid import FeatureTable, preprocessor
from engine.common.names import SURVIVAL_METHODS
from engine.stats.regression_models import CoxModel, LassoCoxModel
from engine.common.predictions import held_out_splits, survival_column
from engine.selection import VarianceFilter
from engine.stats import concordance_index

MAX_COX_PREDICTORS = 15  # an unpenalised Cox fit on more columns than this is left to LASSO-Cox


class _RandomSurvivalForest(BaseEstimator):
    """scikit-survival's random survival forest taking (time, event) as a DataFrame like the other models."""

    def __init__(self, n_estimators: int = 200, min_samples_leaf: int = 10, seed: int = 0):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.seed = seed

    def fit(self, X: Any, y: pd.DataFrame) -> _RandomSurvivalForest:
        from sksurv.ensemble import RandomSurvivalForest
        from sksurv.util import Surv

        target = Surv.from_arrays(event=y["event"].to_numpy(bool), time=y["time"].to_numpy(float))
        self.forest_ = RandomSurvivalForest(
            n_estimators=self.n_estimators,
            min_samples_leaf=self.min_samples_leaf,
            max_features="sqrt",
            random_state=self.seed,
            n_jobs=1,
        ).fit(X, target)
        return self

    def predict(self, X: Any) -> np.ndarray:
        return self.forest_.predict(X)

    def predict_survival(self, X: Any, times: Sequence[float]) -> np.ndarray:
        """S(t | x) at ``times`` (the forest's step function; 1 before its first event time)."""
        curves = self.forest_.predict_survival_function(X, return_array=True)
        index = np.searchsorted(self.forest_.unique_times_, np.asarray(times, float), side="right") - 1
        return np.where(index >= 0, curves[:, np.maximum(index, 0)], 1.0)


class _ImputedCox(BaseEstimator):
    """The plain Cox model (engine.stats.regression_models.CoxModel) with training medians / modes for missing
    values."""

    def fit(self, X: pd.DataFrame, y: pd.DataFrame) -> _ImputedCox:
        self.fill_ = {c: (X[c].median() if pd.api.types.is_numeric_dtype(X[c]) else X[c].mode().iloc[0]) for c in X}
        self.cox_ = CoxModel(handle_unknown="ignore").fit(X.fillna(self.fill_), y)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.cox_.predict(X.fillna(self.fill_))

    def predict_survival(self, X: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        return self.cox_.predict_survival(X.fillna(self.fill_), times)


def survival_at_horizons(estimator: Any, X: Any, horizons: Sequence[float]) -> np.ndarray:
    """S(horizon | x), one row per patient and one column per horizon, from a fitted survival estimator (Cox,
    LASSO-Cox, random survival forest, or a Pipeline ending in one)."""
    if isinstance(estimator, Pipeline):
        return survival_at_horizons(estimator[-1], estimator[:-1].transform(X), horizons)
    return np.asarray(estimator.predict_survival(X, list(horizons)), dtype=float)


def survival_estimator(method: str, frame: pd.DataFrame, columns: Sequence[str], *, seed: int = 0) -> Any:
    if method == "Cox":
        return _ImputedCox()
    if method == "LASSO-Cox":
        return LassoCoxModel(
            cv=5, seed=seed, handle_unknown="ignore"
        )  # a rare level missing from a fold: the reference
    if method == "RSF":
        return Pipeline(
            [
                ("prepare", preprocessor(frame, columns)),
                ("variance", VarianceFilter()),
                ("forest", _RandomSurvivalForest(seed=seed)),
            ]
        )
    raise ValidationError(f"survival method must be one of {SURVIVAL_METHODS}; got {method!r}.")


@dataclasses.dataclass
class SurvivalGridResult:
    predictions: pd.DataFrame  # patient_id, split, endpoint, model, method, risk, time, event (+ cohort columns)
    grid: pd.DataFrame  # endpoint, model, method, cv_c_index, <cohort>_c_index per validation cohort, chosen
    models: dict[str, Any]


def run_survival_grid(
    table: FeatureTable,
    endpoint: str,
    *,
    models: Mapping[str, Sequence[str]],
    methods: Sequence[str] = SURVIVAL_METHODS,
    folds: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    horizons: Sequence[float] = (),
    harmonization: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
) -> SurvivalGridResult:
    """Fit every method for every model on the training split for ``endpoint`` (``<endpoint>_time/_event``).
    With ``horizons``, the predictions also hold S(horizon | x) per horizon (``survival_at_<h>``; out-of-fold for
    training patients, like the risks), which survival calibration and decision curves need. ``harmonization``:
    ComBat across centres first, built as in the classifier grid (engine.features.harmonize.combat_step). Every fit
    (method x fold) of the endpoint is a joblib task on ``n_jobs`` workers (on a Dask cluster with
    engine.common.cluster)."""
    frame = table.frame
    time_column, event_column = f"{endpoint}_time", f"{endpoint}_event"
    if time_column not in frame or event_column not in frame:
        raise ValidationError(
            f"the feature table has no {time_column}/{event_column} columns for endpoint {endpoint!r}."
        )
    train = (frame["split"] == "train").to_numpy()
    t, e = frame[time_column].to_numpy(float), frame[event_column].to_numpy(bool)
    if e[train].sum() < 10:
        raise ValidationError(
            f"the training split has {int(e[train].sum())} {endpoint} events; at least 10 are needed to fit "
            "survival models."
        )
    target = pd.DataFrame({"time": t, "event": e})
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    train_rows = np.flatnonzero(train)
    rows, frames, fitted = [], [], {}
    extra = [c for c in ("center", *table.families.get("clinical", [])) if c in frame]
    tasks = []  # (model, method, unfitted estimator, X, splits): every fit of the endpoint, run as joblib tasks
    for model_name, families in models.items():
        columns = table.columns(families)
        folded = has_deep_folds(frame) and any(c in table.families.get("deep", ()) for c in columns)
        harmonize = combat_step(frame, table.families, families, harmonization)
        X = frame[columns + (["center"] if harmonize is not None else []) + (fold_columns(frame) if folded else [])]
        splits = list((deep_cv(frame, train) if folded else splitter).split(train_rows, e[train_rows]))
        steps = [
            *([("deep_folds", FoldedDeepFeatures())] if folded else []),
            *([("harmonize", harmonize)] if harmonize is not None else []),
        ]
        for method in methods:
            if method == "Cox" and len(columns) > MAX_COX_PREDICTORS:
                continue
            estimator = survival_estimator(method, frame, columns, seed=seed)
            tasks.append(
                (model_name, method, Pipeline([*steps, ("model", estimator)]) if steps else estimator, X, splits)
            )
    if progress:
        progress(f"{endpoint}: {len(tasks)} fits of {len(models)} models")
    split = frame["split"].to_numpy()
    outcomes = again_if_lost(
        lambda: Parallel(n_jobs=n_jobs)(
            delayed(Serial(_evaluate_or_error))(estimator, X, target, train_rows, splits, split, t, e, horizons)
            for _, _, estimator, X, splits in tasks
        )
    )
    best = {}
    for (model_name, method, *_), outcome in zip(tasks, outcomes):
        if isinstance(outcome, Exception):  # one method failing never loses the others
            rows.append(
                {
                    "endpoint": endpoint,
                    "model": model_name,
                    "method": method,
                    "cv_c_index": np.nan,
                    "note": f"not fitted: {outcome}",
                }
            )
            continue
        row, estimator, risk, survival = outcome
        row = {"endpoint": endpoint, "model": model_name, "method": method, **row, "note": ""}
        rows.append(row)
        if model_name not in best or row["cv_c_index"] > best[model_name][0]["cv_c_index"]:
            best[model_name] = (row, estimator, risk, survival)
    for model_name, (row, estimator, risk, survival) in best.items():  # a model with no fit (plain Cox only, too
        fitted[model_name] = estimator  # many columns, or every method failed) is left out
        at_horizons = {survival_column(h): survival[:, k] for k, h in enumerate(horizons)}
        frames.append(
            frame[["patient_id", "split", *extra]].assign(
                endpoint=endpoint,
                model=model_name,
                method=row["method"],
                risk=risk,
                time=t,
                event=e.astype(int),
                **at_horizons,
            )
        )
    grid = pd.DataFrame(rows)
    if not frames:
        raise ValidationError(
            f"no survival model could be fitted for {endpoint!r}: "
            + "; ".join(grid.get("note", pd.Series(dtype=str)).dropna())
        )
    grid["chosen"] = grid.groupby("model")["cv_c_index"].transform("max") == grid["cv_c_index"]
    return SurvivalGridResult(pd.concat(frames, ignore_index=True), grid, fitted)


def _evaluate_or_error(template, X, target, train_rows, splits, split, t, e, horizons):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _evaluate(template, X, target, train_rows, splits, split, t, e, horizons)
        except (ValidationError, ValueError, np.linalg.LinAlgError) as error:
            return error


def _evaluate(template, X, target, train_rows, splits, split, t, e, horizons=()):
    """Out-of-fold training risks (and S(horizon | x)), the refit on all training patients, and the C-indexes of
    one method (``template``: its unfitted estimator)."""
    out_of_fold = np.zeros(train_rows.size)
    survival_oof = np.zeros((train_rows.size, len(horizons)))
    for inner, held in splits:
        estimator = clone(template).fit(X.iloc[train_rows[inner]], target.iloc[train_rows[inner]])
        out_of_fold[held] = estimator.predict(X.iloc[train_rows[held]])
        if len(horizons):
            survival_oof[held] = survival_at_horizons(estimator, X.iloc[train_rows[held]], horizons)
    estimator = clone(template).fit(X.iloc[train_rows], target.iloc[train_rows])
    risk = estimator.predict(X).astype(float)
    risk[train_rows] = out_of_fold
    survival = survival_at_horizons(estimator, X, horizons) if len(horizons) else np.zeros((len(X), 0))
    survival[train_rows] = survival_oof
    if not np.isfinite(risk).all():
        raise ValidationError(
            "the fit gave non-finite risks (it diverged; a heavy-tailed predictor such as raw AFP can do this: "
            "log-transform it)"
        )
    train = np.zeros(len(split), bool)
    train[train_rows] = True
    row = {"cv_c_index": concordance_index(t[train], e[train], out_of_fold).c_index}
    for name in held_out_splits(split):
        mask = split == name
        row[f"{name}_c_index"] = (
            concordance_index(t[mask], e[mask], risk[mask]).c_index if mask.any() and e[mask].any() else np.nan
        )
    return row, estimator, risk, survival
