"""A self-contained HTML report (figures, tables and a methods paragraph), zipped with the figure files (PNG at
300 dpi and SVG when Chromium is available, else interactive HTML figures).

The report is built from a long predictions table: a run's (with its config, provenance and selected features)
or an uploaded one; what-if filters, when given, restrict every analysis and are stated in the report."""

from __future__ import annotations

import datetime as dt
import html
import io
import zipfile
from typing import Any

import pandas as pd

from engine import plots
from engine.views import analysis
from engine.errors import ValidationError
from engine.common.predictions import cohort_columns, ordered_splits
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
from engine.report.binary_sections import (  # noqa: F401 - the report's public helpers
    _binary_sections,
    _clinical_sections,
    _performance_section,
    anchored_comparisons,
    comparisons_note,
    default_comparisons,
    featured_models,
)
from engine.report.survival_sections import _horizon_sections, _survival_sections
from engine.report.report_input import ReportInput
from engine.report.document import Document, docx_bytes, pdf_bytes
from engine.store import Run


def _table(frame: pd.DataFrame) -> str:
    from engine.common.exports import spreadsheet_safe

    return spreadsheet_safe(frame).to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0, classes="table")


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
