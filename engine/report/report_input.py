"""What a report is built from: a run's tables (or an upload's), the filters that restrict it, the comparisons."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from engine.common.predictions import filter_predictions
from engine.report.methods import STATISTICS_TEXT, methods_text, upload_methods_text
from engine.store import Run


@dataclasses.dataclass(frozen=True)
class ReportInput:
    """What a report is built from: the (filtered) predictions and whatever context the source has."""

    predictions: pd.DataFrame
    title: str
    subtitle: str
    methods: str
    selected: pd.DataFrame | None = None
    filters: dict[str, Any] | None = None
    cutoffs: dict[str, float] | None = None  # each model's training cutoff
    clinical_tables: tuple[pd.DataFrame, pd.DataFrame] | None = None  # univariable, multivariable (column endpoint)
    survival: pd.DataFrame | None = None  # survival models' risks and S(h | x) (engine.models.survival_grid)
    horizons: tuple[float, ...] = ()
    time_unit: str = ""
    provenance: dict[str, Any] | None = None  # a run's (its flowchart, the checklists' answers)
    config: dict[str, Any] | None = None  # a run's (the checklists' answers)
    comparisons: tuple[tuple[str, str], ...] | None = None  # DeLong pairs; None: engine's default_comparisons

    @classmethod
    def from_run(cls, run: Run, *, filters: dict[str, Any] | None = None) -> ReportInput:
        performance = run.performance()
        cutoffs = dict(zip(performance["model"], performance["cutoff"])) if performance is not None else None
        predictions = filter_predictions(run.predictions, filters or {})
        survival = run.survival_predictions()
        if survival is not None:
            survival = survival[survival["patient_id"].isin(predictions["patient_id"])]
        return cls(
            predictions,
            str(run.provenance.get("name", "Study")),
            f"Run {run.run_id}, created {run.provenance.get('created', '')}",
            methods_text(run.config, run.provenance),
            run.selected,
            filters,
            cutoffs,
            None if filters else run.clinical_tables(),
            survival,
            tuple(run.provenance.get("horizons", [])),
            str(run.provenance.get("time_unit", "")),
            run.provenance,
            run.config,
        )

    @classmethod
    def from_upload(
        cls, predictions: pd.DataFrame, source: str, *, filters: dict[str, Any] | None = None
    ) -> ReportInput:
        cutoffs = None
        if "label" in predictions and "train" in set(predictions["split"]):
            from engine.views.performance import learn_cutoffs

            learned = learn_cutoffs(predictions)
            cutoffs = dict(zip(learned["model"], learned["cutoff"]))
        return cls(
            filter_predictions(predictions, filters or {}),
            "Model comparison",
            f"Predictions from {source}",
            upload_methods_text(source) + STATISTICS_TEXT,
            None,
            filters,
            cutoffs,
        )
