"""What the ROC page shows at one threshold, built in one piece (dashboard.cached.operating_point shares it across
sessions, so that a threshold move that another analyst made before costs one cache lookup): the threshold, the
curves figure with each model's operating point, the metric table with 95% CIs as text, the confusion counts and the
radar figure. The statistics are engine.views.analysis's; this module only arranges them for the page."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import pandas as pd

from engine import plots
from engine.common.labels import readable
from engine.views import analysis

SHOWN = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1")  # the metrics in the table and the radar


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    threshold: float | dict[str, float]
    described: str
    figure: object  # the ROC curves with the operating points (plotly)
    notes: tuple[str, ...]  # models whose curve could not be drawn, and why
    cutoffs: str  # each model's stored cutoff as text (training mode)
    table: pd.DataFrame  # tidy metrics (model, metric, estimate, CI): the download
    shown: pd.DataFrame  # model x metric, "estimate (low-high)"
    counts: pd.DataFrame  # model, TP, FN, FP, TN
    radar: object  # plotly


def operating_point(
    predictions: pd.DataFrame,
    split: str,
    models: Sequence[str],
    mode: str,
    value: float | None,
    reference: str | None,
    stored: Mapping[str, float] | Sequence[tuple[str, float]],
    curves: tuple | None = None,
) -> OperatingPoint:
    """The page's content at the threshold ``mode`` gives: each model's stored training cutoff (``training``), one
    probability (``fixed``, ``value``), or a cutoff found on ``reference`` in this cohort (youden, sensitivity or
    specificity with the target ``value``). ``curves``: analysis.roc_curves' result when the caller has it (it does
    not depend on the threshold). Raises engine.errors.ValidationError as the views do."""
    models, stored = list(models), dict(stored)
    if mode == "training":
        threshold: float | dict[str, float] = {m: stored.get(m, float("nan")) for m in models}
    else:
        threshold = analysis.choose_threshold(predictions, split, reference, mode, value)
    curves, labels, metrics = curves or analysis.roc_curves(predictions, split, models)
    table, matrices, points = analysis.metrics_at_threshold(predictions, split, list(curves), threshold)
    described = "each model's training cutoff" if mode == "training" else f"threshold {threshold:.3f}"
    cutoffs = ""
    if mode == "training":
        cutoffs = ", ".join(  # a staging system's cutoff is a stage (a whole number); a probability has 3 decimals
            f"{m}: {threshold[m]:.0f}" if float(threshold[m]).is_integer() else f"{m}: {threshold[m]:.3f}"
            for m in curves
        )
    text = table["estimate"].map("{:.3f}".format)
    with_ci = text + " (" + table["ci_low"].map("{:.3f}".format) + "-" + table["ci_high"].map("{:.3f}".format) + ")"
    cells = table.assign(value=text.where(table["ci_low"].isna(), with_ci))
    shown = cells.pivot(index="model", columns="metric", values="value")[list(SHOWN)].reindex(list(matrices))
    counts = pd.DataFrame(
        [
            {
                "Model": model,
                "Events predicted (TP)": matrix.iat[0, 0],
                "Events missed (FN)": matrix.iat[0, 1],
                "False alarms (FP)": matrix.iat[1, 0],
                "No event, predicted none (TN)": matrix.iat[1, 1],
            }
            for model, matrix in matrices.items()
        ]
    )
    return OperatingPoint(
        threshold=threshold,
        described=described,
        figure=plots.roc_figure(curves, labels, points=points, title=f"{split} cohort, {described}"),
        notes=tuple(metrics.loc[metrics["note"] != "", "note"]),
        cutoffs=cutoffs,
        table=table,
        shown=readable(shown.reset_index()),
        counts=counts,
        radar=plots.radar_figure(table[table["metric"].isin(SHOWN)]),
    )
