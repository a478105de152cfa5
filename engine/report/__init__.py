"""A self-contained HTML report (figures, tables and a methods paragraph), zipped with the figure files (PNG at
300 dpi and SVG when Chromium is available, else interactive HTML figures).

The report is built from a long predictions table: a run's (with its config, provenance and selected features)
or an uploaded one; what-if filters, when given, restrict every analysis and are stated in the report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import io
import zipfile
from typing import Any

import numpy as np
import pandas as pd

from engine import plots
from engine.views import analysis
from engine.errors import ValidationError
from engine.common.predictions import cohort_columns, filter_predictions, ordered_splits
from engine.common.labels import cohort_words
from engine.report.methods import (  # noqa: F401 - re-exported: the report's public texts
    SELECTION_WORDS,
    STATISTICS_TEXT,
    clinical_selection_text,
    cutoff_text,
    deep_objective_text,
    external_text,
    filters_text,
    harmonization_text,
    methods_text,
    reference_text,
    selection_text,
    tuning_text,
    upload_methods_text,
)
from engine.report.document import Document, docx_bytes, pdf_bytes
from engine.store import Run


def _table(frame: pd.DataFrame) -> str:
    from engine.common.exports import spreadsheet_safe

    return spreadsheet_safe(frame).to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, classes="table")


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


def build_report(
    source: Run | ReportInput, *, splits: list[str] | None = None, static_figures: bool = True
) -> tuple[str, dict[str, bytes]]:
    """(HTML text, {figure file name: bytes}) for a run or a :class:`ReportInput`; ``static_figures=False`` writes
    the figure files as interactive HTML instead of PNG and SVG (quick, no Chromium)."""
    page, files, _ = _build(source, splits=splits, static_figures=static_figures)
    return page, files


def _build(
    source: Run | ReportInput, *, splits: list[str] | None = None, static_figures: bool = True
) -> tuple[str, dict[str, bytes], Document]:
    report = ReportInput.from_run(source) if isinstance(source, Run) else source
    predictions = report.predictions
    if predictions.empty:
        raise ValidationError(
            "the report needs at least one patient; the what-if filters leave none. Widen the filters."
        )
    models = list(dict.fromkeys(predictions["model"]))
    splits = splits or ordered_splits(predictions)
    validation = [s for s in splits if s != "train"] or splits[-1:]  # internal and each external cohort on its own
    document = Document()
    restriction = filters_text(report.filters)
    document.heading("Methods")
    document.paragraph(report.methods + (" " + restriction if restriction else ""))
    document.heading("Patients")
    from engine.plots.flowchart import flowchart_figure
    from engine.views.summary import flowchart

    flow = flowchart(predictions, None if restriction else report.provenance)  # a sub-cohort: its own patients
    document.figure(
        "flowchart",
        flowchart_figure(flow),
        "Cohort flowchart: patients in the manifest, those excluded with the reason, and each cohort.",
    )
    document.table(analysis.cohort_counts(predictions).reset_index(), "Patients and events per cohort.")
    cohort = cohort_columns(predictions)
    if cohort and predictions["split"].nunique() > 1:
        document.table(
            analysis.table_one(predictions, cohort).reset_index(drop=True),
            "Patient characteristics by cohort (Table 1): mean (SD), median [Q1,Q3] or n (%), with the test across "
            "cohorts.",
        )
    if report.clinical_tables is not None:
        _clinical_sections(document, *report.clinical_tables)
    if "label" in predictions and report.cutoffs:
        _performance_section(document, predictions, report.cutoffs)
    if "label" in predictions:
        _binary_sections(document, predictions, models, splits, validation, report.comparisons)
    _survival_sections(document, predictions, models, validation)
    if report.survival is not None and len(report.survival) and report.horizons:
        _horizon_sections(document, report, validation)
    if report.selected is not None and len(report.selected):
        document.heading("Selected features")
        document.table(report.selected, "Features kept by each model's LASSO step and their coefficients.")
    _checklist_sections(document, report)
    return _page(report, document), _figure_files(document.figures, static_figures), document


def _checklist_sections(document: Document, report: ReportInput) -> None:
    from engine.report.checklists import CHECKLISTS, checklist_table, run_facts

    facts = run_facts(report.config or {}, report.provenance or {}, report.predictions)
    document.heading("Reporting checklists")
    document.paragraph(
        "CLEAR (Kocak et al., Insights Imaging 2023), METRICS (Kocak et al., Insights Imaging 2024) and TRIPOD+AI "
        "(Collins et al., BMJ 2024) with their official item numbers; topics paraphrased (see the official "
        "checklists for the full wording). Items this run can answer are filled in from it; the rest are for the "
        "author."
    )
    for name in CHECKLISTS:
        table = checklist_table(name, facts)
        answered = int((table["source"] == "this run").sum())
        document.table(
            table, f"{name} checklist: {answered} of {len(table)} items answered by this run, the rest for the author."
        )


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


def _page(report: ReportInput, document: Document) -> str:
    import plotly.offline

    script = f"<script>{plotly.offline.get_plotlyjs()}</script>"
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Study report</title>"
        "<style>body{font-family:Arial,sans-serif;max-width:1100px;margin:auto;padding:20px}"
        ".table{border-collapse:collapse;font-size:13px;margin-bottom:6px}.table td,.table "
        "th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:left}.caption{margin:14px 0 4px}"
        ".note{font-size:12px;color:#444}.figure{page-break-inside:avoid;margin:10px 0 18px}"
        "@media print{.modebar-container{display:none}}</style>"
        f"{script}</head><body><h1>{html.escape(report.title)}</h1>"
        f"<p>{html.escape(report.subtitle)}; report {created}.</p>" + document.html() + "</body></html>"
    )


def _figure_files(figures: dict[str, Any], static: bool = True) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if not static or not plots.chromium_path():
        return {
            f"figures/{name}.html": figure.to_html(include_plotlyjs="cdn").encode() for name, figure in figures.items()
        }
    with plots.export_session():
        for name, figure in figures.items():
            files[f"figures/{name}.png"] = plots.export_figure(figure, "png")
            files[f"figures/{name}.svg"] = plots.export_figure(figure, "svg")
    return files


def report_zip(source: Run | ReportInput, *, pdf: bool = True) -> bytes:
    """report.html, report_tables.docx (every table, numbered as in the report), report.pdf (Chromium's print,
    when Chromium is there and ``pdf``) and the figure files in one zip."""
    report = ReportInput.from_run(source) if isinstance(source, Run) else source
    page, files, document = _build(report)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("report.html", page)
        archive.writestr("report_tables.docx", docx_bytes(report.title, report.subtitle, document.tables))
        printed = pdf_bytes(page) if pdf else None
        if printed is not None:
            archive.writestr("report.pdf", printed)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
