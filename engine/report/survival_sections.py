"""The report's survival sections: Kaplan-Meier risk groups with log-rank tests, C-index, and the results at each
horizon (time-dependent AUC, survival calibration and decision curves)."""

from __future__ import annotations


import numpy as np
import pandas as pd

from engine import plots
from engine.views import analysis
from engine.errors import ValidationError
from engine.common.labels import cohort_words
from engine.report.document import Document

from engine.report.report_input import ReportInput


def _survival_sections(document: Document, predictions: pd.DataFrame, models: list[str], validation: list[str]) -> None:
    endpoints = [
        c[: -len("_time")] for c in predictions.columns if c.endswith("_time") and f"{c[:-5]}_event" in predictions
    ]
    for endpoint in endpoints:
        name = endpoint.upper()
        document.heading(f"{name}: discrimination and risk groups")
        document.table(
            analysis.concordance_table(predictions, endpoint, models),
            f"{name}: Harrell's C of every model in every cohort with its 95% CI.",
        )
        model = "Combined" if "Combined" in models else models[0]
        for split in validation:
            words = cohort_words(split)
            try:
                _, result = analysis.survival_stratification(predictions, model, endpoint, split)
                document.figure(
                    f"km_{endpoint}_{split}",
                    plots.km_figure(
                        result.curves,
                        result.at_risk,
                        title=f"{name} by {model} risk group, {words}",
                        annotation=f"log-rank p = {result.logrank_p:.3g}<br>HR {result.hr:.2f} "
                        f"({result.hr_ci_low:.2f}-{result.hr_ci_high:.2f})",
                    ),
                    f"Kaplan-Meier curves of {name} by {model} risk group (training cutoff), {words}, with the "
                    "log-rank test and the hazard ratio.",
                )
            except ValidationError as error:
                document.paragraph(f"Risk groups for {name} ({words}) not shown: {error}")


def _horizon_sections(document: Document, report: ReportInput, validation: list[str]) -> None:
    """Per survival endpoint: the survival models' time-dependent AUC at each horizon in every validation cohort; at
    each horizon, calibration (by risk group) and net benefit in the first validation cohort."""
    from engine.views import horizons as at_horizons
    from engine.common.predictions import survival_as_predictions
    from engine.stats import time_dependent_auc

    unit = f" {report.time_unit}" if report.time_unit else ""
    for endpoint in dict.fromkeys(report.survival["endpoint"]):
        name = endpoint.upper()
        predictions = survival_as_predictions(report.survival, endpoint)
        models = list(dict.fromkeys(predictions["model"]))
        rows = []
        for split in validation:
            for model in models:
                part = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
                try:
                    table = time_dependent_auc(
                        part[f"{endpoint}_time"],
                        part[f"{endpoint}_event"],
                        part["prob"],
                        list(report.horizons),
                        n_boot=100,
                        seed=0,
                    )
                except ValidationError:
                    continue
                rows.append(table.assign(cohort=split, model=model))
        if rows:
            table = pd.concat(rows, ignore_index=True)[
                ["cohort", "model", "time", "auc", "ci_low", "ci_high", "n_cases", "n_controls"]
            ]
            document.heading(f"{name}: time-dependent AUC of the survival models (horizons in{unit or ' time units'})")
            document.table(
                table.rename(columns={"time": f"horizon{unit}"}),
                f"{name}: cumulative/dynamic time-dependent AUC (inverse probability of censoring weights, Uno) at "
                "each horizon with bootstrap 95% CIs.",
            )
        first = validation[0]
        words = cohort_words(first)
        for horizon in report.horizons:
            label = f"{horizon:g}{unit}"
            try:
                calibration = pd.concat(
                    [
                        at_horizons.horizon_calibration(predictions, endpoint, first, m, horizon).assign(model=m)
                        for m in models
                    ],
                    ignore_index=True,
                )
                document.heading(f"{name} at {label}: calibration by risk group ({first} cohort)")
                document.table(
                    calibration[
                        ["model", "group", "n", "events", "predicted", "observed", "ci_low", "ci_high", "note"]
                    ],
                    f"{name} at {label}: predicted against observed (Kaplan-Meier) survival by risk group, {words}.",
                )
                featured = models[-1]
                document.figure(
                    f"survival_calibration_{endpoint}_{horizon:g}_{first}",
                    plots.calibration_figure(
                        {featured: calibration[calibration["model"] == featured]},
                        title=f"{name} at {label}, {words}",
                        x_title=f"Predicted survival at {label}",
                        y_title="Observed survival (Kaplan-Meier)",
                    ),
                    f"Calibration of {featured} for {name} at {label}, {words}.",
                )
                curves = at_horizons.horizon_decision_curves(
                    predictions, endpoint, first, models, horizon, np.round(np.arange(0, 0.96, 0.01), 2)
                )
                document.figure(
                    f"survival_dca_{endpoint}_{horizon:g}_{first}",
                    plots.decision_curve_figure(curves, title=f"{name}: net benefit at {label}, {words}"),
                    f"Decision curves of the survival models for {name} at {label}, {words}.",
                )
            except ValidationError as error:
                document.paragraph(f"{name} at {label} not shown: {error}")
