"""Survival results as the papers report them: at fixed horizons (1, 3, 5 years) and as C-index comparisons.

Computed from a predictions table in the shape of ``engine.common.predictions.survival_as_predictions`` (``prob`` = the
risk score; survival models add ``survival_at_<h>`` = S(h | x)). Calibration and decision curves at a horizon need
S(h | x), which only survival models give; a binary model's probability is a risk score, ranked but not a risk by
the horizon. Every number comes from engine.stats.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.views.analysis import pairwise_table, rows_of, subgroup_table
from engine.errors import ValidationError
from engine.common.predictions import event_column, survival_column, time_column, wide
from engine.stats import (
    compare_c_index,
    concordance_index,
    survival_calibration,
    survival_decision_curve,
    time_dependent_auc,
    time_dependent_roc,
)


def _survival_at(rows: pd.DataFrame, model: str, horizon: float) -> pd.Series:
    column = survival_column(horizon)
    if column not in rows or rows[column].isna().all():
        raise ValidationError(
            f"model {model!r} has no predicted survival at {horizon:g}: calibration and net benefit at a horizon "
            "need a survival model (Cox, LASSO-Cox, RSF) fitted with that horizon (study config survival.horizons); "
            "a binary model's probability is a risk score only."
        )
    return rows[column]


def horizon_calibration(
    predictions: pd.DataFrame, endpoint: str, split: str, model: str, horizon: float, *, groups: int = 5
) -> pd.DataFrame:
    """Predicted S(horizon | x) against the Kaplan-Meier survival of each risk group
    (engine.stats.survival_calibration)."""
    rows = rows_of(predictions, split, model)
    return survival_calibration(
        rows[time_column(endpoint)],
        rows[event_column(endpoint)],
        _survival_at(rows, model, horizon),
        horizon,
        groups=groups,
    )


def horizon_decision_curves(
    predictions: pd.DataFrame, endpoint: str, split: str, models: Sequence[str], horizon: float, thresholds: np.ndarray
) -> pd.DataFrame:
    """Time-to-event net benefit at ``horizon`` of each model's risk by the horizon, 1 - S(horizon | x)."""
    risks, reference = {}, None
    for model in models:
        rows = rows_of(predictions, split, model).set_index("patient_id")
        reference = rows if reference is None else reference
        risks[model] = 1 - _survival_at(rows, model, horizon).reindex(reference.index)
    if reference is None:
        raise ValidationError("pick at least one survival model for the decision curve.")
    return survival_decision_curve(
        reference[time_column(endpoint)], reference[event_column(endpoint)], risks, horizon, thresholds=thresholds
    )


def horizon_roc_curves(
    predictions: pd.DataFrame, endpoint: str, split: str, models: Sequence[str], horizon: float, *, n_boot: int = 100
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Time-dependent ROC curve of each model's risk at ``horizon``; legend labels with the AUC (bootstrap 95% CI)."""
    curves, labels = {}, {}
    for model in models:
        rows = rows_of(predictions, split, model)
        t, e = rows[time_column(endpoint)], rows[event_column(endpoint)]
        curve = time_dependent_roc(t, e, rows["prob"], horizon)
        area = time_dependent_auc(t, e, rows["prob"], [horizon], n_boot=n_boot, seed=0).iloc[0]
        curves[model] = curve
        labels[model] = f"{model}: AUC {area['auc']:.3f} ({area['ci_low']:.3f}-{area['ci_high']:.3f})"
    return curves, labels


def c_index_pairs(
    predictions: pd.DataFrame, endpoint: str, split: str, models: Sequence[str], adjust: str = "holm"
) -> pd.DataFrame:
    """Every pair's paired Harrell C comparison (engine.stats.compare_c_index) on the patients both models scored,
    with Holm or Benjamini-Hochberg adjusted p-values."""
    table = wide(predictions, split)
    t, e = table[time_column(endpoint)], table[event_column(endpoint)]
    return pairwise_table(table, models, lambda a, b: compare_c_index(t, e, table[a], table[b]), adjust)


def subgroup_c_index(
    predictions: pd.DataFrame, endpoint: str, split: str, column: str, models: Sequence[str]
) -> pd.DataFrame:
    """Harrell's C (95% CI) of each model within each level of ``column`` (levels without a comparable pair left out);
    the columns of engine.views.analysis.subgroup_aucs, so the same forest plot draws it."""
    return subgroup_table(
        predictions,
        split,
        column,
        models,
        lambda part: concordance_index(part[time_column(endpoint)], part[event_column(endpoint)], part["prob"]),
        "c_index",
    )
