"""The performance table of a paper ("Table 3"): each model's cutoff learned on its training predictions (out-of-fold
for the grid's models) and applied unchanged to the internal and every external cohort.

A cutoff re-learned on a validation cohort makes that cohort's sensitivity and specificity optimistic; here the
validation cohorts are only ever scored. Positive means ``prob >= cutoff`` (as engine.stats.threshold_metrics).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.common.predictions import ordered_splits
from engine.stats import auc_ci, threshold_for_target, threshold_metrics, youden_threshold

CUTOFF_METHODS = ("youden", "sensitivity", "specificity")
PROPORTIONS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


def _cutoff(label: pd.Series, prob: pd.Series, method: str, target: float | None) -> float:
    if method == "youden":
        return youden_threshold(label, prob).threshold
    return threshold_for_target(label, prob, **{method: target}).threshold


def learn_cutoffs(
    predictions: pd.DataFrame, *, method: str = "youden", target: float | None = None, learned_on: str = "train"
) -> pd.DataFrame:
    """Each model's cutoff on the ``learned_on`` cohort (the training cohort: out-of-fold predictions for the
    grid's models): Youden's J, or the most specific cutoff reaching a target ``sensitivity``, or the most
    sensitive reaching a target ``specificity``. Columns: model, method, target, cutoff, learned_on, note."""
    if method not in CUTOFF_METHODS:
        raise ValidationError(f"cutoff method must be one of {list(CUTOFF_METHODS)}; got {method!r}.")
    if method != "youden" and (target is None or not 0 < target < 1):
        raise ValidationError(f"a {method} cutoff needs a target between 0 and 1 (e.g. 0.9); got {target!r}.")
    rows = predictions[predictions["split"] == learned_on]
    if rows.empty:
        raise ValidationError(
            f"no {learned_on!r} cohort to learn cutoffs on; cohorts are {ordered_splits(predictions)}."
        )
    out = []
    for model, group in rows.groupby("model", sort=False):
        row = {"model": model, "method": method, "target": target, "learned_on": learned_on}
        try:
            out.append({**row, "cutoff": _cutoff(group["label"], group["prob"], method, target), "note": ""})
        except ValidationError as error:
            out.append({**row, "cutoff": np.nan, "note": str(error)})
    return pd.DataFrame(out, columns=["model", "method", "target", "cutoff", "learned_on", "note"])


def performance_table(
    predictions: pd.DataFrame, cutoffs: Mapping[str, float] | pd.DataFrame, *, level: float = 0.95
) -> pd.DataFrame:
    """One row per model and cohort (cohorts in the order train, internal, external ...): the fixed ``cutoff``,
    n, events, AUC with DeLong CI, and accuracy, sensitivity, specificity, PPV, NPV (each with its Wilson CI) and
    F1 at that cutoff."""
    if isinstance(cutoffs, pd.DataFrame):
        cutoffs = dict(zip(cutoffs["model"], cutoffs["cutoff"]))
    rows = []
    splits = ordered_splits(predictions)
    for model in dict.fromkeys(predictions["model"]):
        for split in splits:
            group = predictions[(predictions["model"] == model) & (predictions["split"] == split)]
            if len(group):
                rows.append(_performance_row(group, model, split, float(cutoffs.get(model, np.nan)), level))
    columns = [
        "model",
        "split",
        "cutoff",
        "n",
        "events",
        "auc",
        "auc_ci_low",
        "auc_ci_high",
        *[f"{name}{suffix}" for name in PROPORTIONS for suffix in ("", "_ci_low", "_ci_high")],
        "f1",
        "note",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def _performance_row(group: pd.DataFrame, model: str, split: str, cutoff: float, level: float) -> dict:
    row = {
        "model": model,
        "split": split,
        "cutoff": cutoff,
        "n": len(group),
        "events": int(group["label"].sum()),
        "note": "",
    }
    notes = []
    try:
        area = auc_ci(group["label"], group["prob"], level=level)
        row.update(auc=area.auc, auc_ci_low=area.ci_low, auc_ci_high=area.ci_high)
    except ValidationError as error:
        notes.append(str(error))
    if np.isfinite(cutoff):
        try:
            metrics = threshold_metrics(group["label"], group["prob"], cutoff, level=level)
            for name in PROPORTIONS:
                row.update(
                    {
                        name: getattr(metrics, name),
                        f"{name}_ci_low": getattr(metrics, f"{name}_ci_low"),
                        f"{name}_ci_high": getattr(metrics, f"{name}_ci_high"),
                    }
                )
            row["f1"] = metrics.f1
            notes += list(metrics.notes)
        except ValidationError as error:
            notes.append(str(error))
    else:
        notes.append("no training cutoff for this model")
    row["note"] = "; ".join(notes)
    return row


def paper_table(
    performance: pd.DataFrame, metrics: tuple[str, ...] = ("auc", "accuracy", "sensitivity", "specificity")
) -> pd.DataFrame:
    """The performance table as papers print it: model rows, one column group per cohort, each cell
    "estimate (low-high)" with 3 decimals."""
    cells = performance.copy()
    for name in metrics:
        low, high = (f"{name}_ci_low", f"{name}_ci_high")
        cells[name] = [
            f"{v:.3f} ({lo:.3f}-{hi:.3f})" if np.isfinite(v) else "—"
            for v, lo, hi in zip(cells[name].astype(float), cells[low].astype(float), cells[high].astype(float))
        ]
    wide = cells.pivot(index="model", columns="split", values=list(metrics))
    wide = wide.reorder_levels([1, 0], axis=1)
    splits = ordered_splits(performance["split"])
    wide = wide.reindex(columns=pd.MultiIndex.from_product([splits, list(metrics)]))
    wide = wide.reindex(list(dict.fromkeys(performance["model"]))).rename_axis("Model")
    return wide.rename(columns=lambda name: LABELS.get(name, name), level=1)


def cohort_rows(
    performance: pd.DataFrame,
    metrics: tuple[str, ...] = ("auc", "accuracy", "sensitivity", "specificity", "ppv", "npv"),
) -> pd.DataFrame:
    """The performance table in print-friendly long form: one row per cohort and model (cohorts in reading order),
    the cutoff, and each metric as "estimate (low-high)"."""
    rows = []
    for split in ordered_splits(performance["split"]):
        for line in performance[performance["split"] == split].itertuples():
            row = {
                "Cohort": split,
                "Model": line.model,
                "Cutoff": f"{line.cutoff:.3g}" if np.isfinite(line.cutoff) else "—",
            }
            for name in metrics:
                value, low, high = (float(getattr(line, f"{name}{suffix}")) for suffix in ("", "_ci_low", "_ci_high"))
                row[LABELS[name]] = f"{value:.3f} ({low:.3f}-{high:.3f})" if np.isfinite(value) else "—"
            rows.append(row)
    return pd.DataFrame(rows)


LABELS = {
    "auc": "AUC (95% CI)",
    "accuracy": "Accuracy",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "f1": "F1",
}
