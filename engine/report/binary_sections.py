"""The report's sections on binary models: the clinical predictors' regression tables, performance at the
training cutoffs, ROC with AUC CIs, DeLong comparisons (which pairs, and why), calibration and decision curves."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from engine import plots
from engine.views import analysis
from engine.errors import ValidationError
from engine.common.labels import cohort_words
from engine.report.document import Document

if TYPE_CHECKING:
    pass


def _clinical_sections(document: Document, univariable: pd.DataFrame, multivariable: pd.DataFrame) -> None:
    from engine.common.tables import regression_paper_table

    for endpoint in dict.fromkeys(univariable["endpoint"]):
        title = "binary endpoint, odds ratios" if endpoint == "label" else f"{str(endpoint).upper()}, hazard ratios"
        paper = regression_paper_table(
            univariable[univariable["endpoint"] == endpoint], multivariable[multivariable["endpoint"] == endpoint]
        )
        document.heading(f"Clinical factors ({title}; training cohort)")
        document.table(
            paper,
            f"Univariable and multivariable analysis of the clinical factors ({title}), training cohort.",
        )


def _performance_section(document: Document, predictions: pd.DataFrame, cutoffs: dict[str, float]) -> None:
    from engine.views.performance import cohort_rows, performance_table

    document.heading("Performance at each model's training cutoff")
    document.table(
        cohort_rows(performance_table(predictions, cutoffs)),
        "Performance of the models in every cohort at each model's training cutoff.",
        "Each model's cutoff was learned on its training predictions (out-of-fold) and applied unchanged to every "
        "validation cohort; 95% CIs: DeLong (AUC), Wilson (proportions).",
    )


def featured_models(models: list[str]) -> list[str]:
    """The models a figure with several curves shows: engine.common.predictions.headline_models and the reference
    scores."""
    from engine.models.reference import is_reference
    from engine.common.predictions import headline_models

    return headline_models([m for m in models if not is_reference(m)]) + [m for m in models if is_reference(m)]


def _binary_sections(
    document: Document,
    predictions: pd.DataFrame,
    models: list[str],
    splits: list[str],
    validation: list[str],
    comparisons: tuple[tuple[str, str], ...] | None,
) -> None:
    metrics = pd.concat(
        [analysis.model_metrics(predictions, split, models).assign(cohort=split) for split in splits], ignore_index=True
    )
    document.heading("Discrimination")
    document.table(
        metrics[["cohort", "model", "n", "events", "auc", "ci_low", "ci_high"]],
        "AUC of every model in every cohort with its 95% CI (DeLong).",
    )
    for split in splits:
        curves, labels, _ = analysis.roc_curves(predictions, split, models)
        document.figure(
            f"roc_{split}",
            plots.roc_figure(curves, labels, title=f"ROC curves, {cohort_words(split)}"),
            f"ROC curves of the models, {cohort_words(split)} (legend: AUC with 95% CI).",
        )
    featured = featured_models(models)
    pairs = comparisons or default_comparisons(predictions, models)
    for split in validation:
        words = cohort_words(split)
        try:
            _, _, table = analysis.pairwise_delong(predictions, split, models, "holm", pairs=pairs)
            document.heading(f"DeLong tests, {words}")
            document.table(
                table[["model_a", "model_b", "auc_a", "auc_b", "diff", "ci_low", "ci_high", "p_value", "p_adjusted"]],
                f"Paired DeLong tests of AUC differences, {words}.",
                comparisons_note(pairs, comparisons is None),
            )
        except ValidationError as error:
            document.paragraph(f"DeLong tests ({words}) not computed: {error}")
        try:
            curves, table, values = analysis.calibration(predictions, split, featured)
            document.heading(f"Calibration and clinical usefulness, {words}")
            document.figure(
                f"calibration_{split}",
                plots.calibration_figure(curves, values, title=f"Calibration, {words}"),
                f"Calibration curves (deciles of predicted probability), {words}.",
            )
            document.table(
                table[["model", "intercept", "slope", "brier", "hl_statistic", "hl_p", "eavg", "emax"]],
                f"Calibration statistics, {words}.",
            )
            dca = analysis.decision_curves(predictions, split, featured, np.round(np.arange(0, 0.81, 0.01), 2))
            document.figure(
                f"decision_curve_{split}",
                plots.decision_curve_figure(dca, title=f"Decision curves, {words}"),
                f"Decision curves (net benefit against threshold probability), {words}.",
            )
        except ValidationError as error:
            document.paragraph(f"Calibration and decision curves ({words}) not computed: {error}")


def default_comparisons(predictions: pd.DataFrame, models: list[str]) -> tuple[tuple[str, str], ...]:
    """The DeLong comparisons a paper reports: every model against the best one (highest AUC on the training cohort,
    where models are chosen) and against the clinical model; every pair when there is neither."""
    from engine.stats import auc

    train = predictions[(predictions["split"] == "train") & predictions["model"].isin(models)]
    scores = {m: auc(g["label"], g["prob"]) for m, g in train.groupby("model") if g["label"].nunique() == 2}
    anchors = [max(scores, key=scores.get)] if scores else []
    anchors += ["Clinical"] if "Clinical" in models and "Clinical" not in anchors else []
    if not anchors:
        return tuple((a, b) for k, a in enumerate(models) for b in models[k + 1 :])
    pairs: list[tuple[str, str]] = []
    for anchor in anchors:
        for model in models:
            if model != anchor and (model, anchor) not in pairs and (anchor, model) not in pairs:
                pairs.append((anchor, model))
    return tuple(pairs)


def anchored_comparisons(predictions: pd.DataFrame, anchors: tuple[str, ...]) -> tuple[tuple[str, str], ...] | None:
    """Every model of the table against each of ``anchors`` (the user's pick); None (engine's default) for none."""
    if not anchors:
        return None
    models = list(dict.fromkeys(predictions["model"]))
    pairs: list[tuple[str, str]] = []
    for anchor in anchors:
        pairs += [(anchor, m) for m in models if m != anchor and (m, anchor) not in pairs]
    return tuple(pairs)


def comparisons_note(pairs, chosen_by_default: bool) -> str:
    anchors = list(dict.fromkeys(a for a, _ in pairs))
    how = (
        "every model against " + " and against ".join(anchors) + " (the best model by training AUC and the clinical "
        "model)"
        if chosen_by_default
        else "every model against " + " and against ".join(anchors) + " (chosen for this report)"
    )
    return f"Comparisons: {how}; {len(pairs)} tests, p-values Holm-adjusted across them."
