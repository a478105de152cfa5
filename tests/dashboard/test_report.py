"""The report on an uploaded table and on a what-if sub-cohort: the numbers are those of the filtered patients."""

import html
import io
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.report import ReportInput, build_report, filters_text, report_zip
from engine.stats import auc
from tests.dashboard.conftest import predictions_table


def _auc_cell(page: str, cohort: str, model: str) -> float:
    """The AUC printed in the Discrimination table's row for (cohort, model)."""
    row = re.search(
        rf"<td>{cohort}</td>\s*<td>{model}</td>\s*<td>(\d+)</td>\s*<td>(\d+)</td>\s*<td>([0-9.]+)</td>", page
    )
    assert row, f"no row for {cohort} / {model}"
    return int(row.group(1)), float(row.group(3))


def test_report_of_an_upload_restricted_to_a_sub_cohort():
    predictions = predictions_table()
    filters = {"sex": ["M"], "age": (40.0, 70.0)}
    page, figures = build_report(
        ReportInput.from_upload(predictions, "mine.csv", filters=filters), static_figures=False
    )
    assert "mine.csv" in page and "developed outside this tool" in page and "PyRadiomics" not in page
    assert "sex in {M}; age between 40 and 70" in page
    kept = predictions.query("sex == 'M' and 40 <= age <= 70 and split == 'internal' and model == 'Rad'")
    n, value = _auc_cell(page, "internal", "Rad")
    assert n == len(kept) < (predictions.query("split == 'internal' and model == 'Rad'")).shape[0]
    assert value == pytest.approx(auc(kept["label"], kept["prob"]), abs=5e-4)
    assert "RFS: Harrell" in page and any(name.startswith("figures/km_rfs") for name in figures)
    assert "Patient characteristics by cohort (Table 1)" in page and "afp, median [Q1,Q3]" in page
    assert "Performance at each model" in page  # cutoffs learned on the upload's training cohort


@pytest.mark.chromium
def test_report_zip_of_an_upload_holds_the_page_figures_docx_and_pdf():
    """Tables and figures numbered in reading order with captions; the DOCX holds the same tables under the same
    captions; DeLong only against the best model (training AUC) and the clinical model; a PDF print beside."""
    import docx

    from engine.stats import delong_test

    predictions = predictions_table(n=120)
    archive = zipfile.ZipFile(io.BytesIO(report_zip(ReportInput.from_upload(predictions, "t.csv"))))
    names = archive.namelist()
    assert "report.html" in names and any(n.startswith("figures/roc_internal") for n in names)
    page = archive.read("report.html").decode()
    assert "restricted" not in page
    tables = re.findall(r"<b>(Table (\d+)\. [^<]*)</b>", page)
    figures = re.findall(r"<b>Figure (\d+)\. ", page)
    assert [int(n) for _, n in tables] == list(range(1, len(tables) + 1)) and len(tables) >= 6
    assert [int(n) for n in figures] == list(range(1, len(figures) + 1))
    assert "<b>Figure 1. Cohort flowchart" in page and "ROC curves, external cohort" in page
    assert "<th>AUC</th>" in page and "ci_low" not in page  # human labels, as on the pages

    word = docx.Document(io.BytesIO(archive.read("report_tables.docx")))
    captions = [p.text for p in word.paragraphs if p.text.startswith("Table ")]
    assert len(word.tables) == len(tables) and captions == [html.unescape(t) for t, _ in tables]
    discrimination = word.tables[[k for k, c in enumerate(captions) if "AUC of every model" in c][0]]
    header = [cell.text for cell in discrimination.rows[0].cells]
    rows = {(r.cells[0].text, r.cells[1].text): r.cells[header.index("AUC")].text for r in discrimination.rows[1:]}
    internal = predictions.query("split == 'internal' and model == 'Rad'")
    assert float(rows[("internal", "Rad")]) == pytest.approx(auc(internal["label"], internal["prob"]), abs=5e-4)

    train = predictions[predictions["split"] == "train"]
    best = max(
        ["Clinical", "Rad", "DL", "Combined"],
        key=lambda m: auc(*train.query("model == @m")[["label", "prob"]].T.values),
    )
    delong = word.tables[
        [
            k
            for k, c in enumerate(captions)
            if c.startswith(f"Table {k + 1}. Paired DeLong tests of AUC differences, internal")
        ][0]
    ]
    compared = {(r.cells[0].text, r.cells[1].text) for r in delong.rows[1:]}
    assert all(best in pair or "Clinical" in pair for pair in compared)
    assert len(compared) == (3 if best == "Clinical" else 5)
    a, b = sorted(compared)[0]
    wide = predictions.query("split == 'internal'").pivot(index="patient_id", columns="model", values="prob")
    labels = predictions.query("split == 'internal'").drop_duplicates("patient_id").set_index("patient_id")["label"]
    row = [r for r in delong.rows[1:] if (r.cells[0].text, r.cells[1].text) == (a, b)][0]
    expected = delong_test(labels[wide.index], wide[a], wide[b])
    assert float(row.cells[[c.text for c in delong.rows[0].cells].index("Difference")].text) == pytest.approx(
        expected.diff, abs=5e-4
    )

    assert archive.read("report.pdf")[:5] == b"%PDF-"
    assert [c.split(" checklist")[0].split(". ")[1] for c in captions if " checklist: " in c] == [
        "CLEAR",
        "METRICS",
        "TRIPOD+AI",
    ]
    assert len(word.tables[-1].rows) == 1 + 52  # TRIPOD+AI: header and its 52 items


def test_a_filter_that_leaves_nobody_is_a_clear_error():
    with pytest.raises(ValidationError, match="filters leave none"):
        build_report(ReportInput.from_upload(predictions_table(n=60), "t.csv", filters={"age": (500.0, 600.0)}))


def test_filters_text():
    assert filters_text({}) == ""
    assert (
        filters_text({"center": ["C1", "C2"]})
        == "All analyses are restricted to the sub-cohort with center in {C1, C2}."
    )


def test_reference_lines_are_drawn():
    """The simple_white template gives shapes zero line width; every marker line sets its own."""
    from engine import plots

    path = pd.DataFrame(
        {"log_lambda": [-3.0, -1.0, -3.0, -1.0], "feature": ["a", "a", "b", "b"], "coefficient": [1.0, 0.0, -0.5, 0.0]}
    )
    cv = pd.DataFrame({"log_lambda": [-3.0, -1.0], "cv_auc": [0.7, 0.5], "cv_auc_sd": [0.05, 0.0]})
    figures = [
        plots.lasso_path_figure(path, cv, -3.0),
        plots.decision_curve_figure(
            pd.DataFrame({"model": ["all", "none", "A"], "threshold": [0.1] * 3, "net_benefit": [0.1, 0.0, 0.2]}),
            threshold=0.2,
        ),
        plots.forest_figure(
            pd.DataFrame(
                {"subgroup": ["x"], "model": ["A"], "auc": [0.7], "ci_low": [0.6], "ci_high": [0.8], "n": [50]}
            )
        ),
    ]
    for figure in figures:
        shapes = figure.full_figure_for_development(warn=False).layout.shapes
        assert shapes and all(shape.line.width > 0 and shape.opacity == 1 for shape in shapes)


def test_series_past_the_palette_get_their_own_line_style():
    """8 models and 2 reference scores: the tenth ROC curve and decision curve share the first one's colour (the
    palette has 9), so they are dashed; the first nine are solid and all different."""
    from engine import plots

    names = [f"model {i}" for i in range(10)]
    curve = pd.DataFrame({"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.7, 1.0]})
    roc = plots.roc_figure({name: curve for name in names}, {})
    lines = [trace.line for trace in roc.data if trace.name in names]
    decision = plots.decision_curve_figure(
        pd.DataFrame({"model": names, "threshold": [0.2] * 10, "net_benefit": np.linspace(0, 0.1, 10)}),
        y="net_benefit",
    )
    lines_dca = [trace.line for trace in decision.data if trace.name in names]
    for drawn in (lines, lines_dca):
        assert len(drawn) == 10 and len({line.color for line in drawn[:9]}) == 9
        assert [line.dash for line in drawn] == ["solid"] * 9 + ["dash"]
        assert drawn[9].color == drawn[0].color


def test_table_one_against_hand_computation():
    """Table 1: columns train, internal, external; n (%) with chi-squared p; mean (SD) with one-way ANOVA p; a
    skewed variable as median [Q1,Q3] with Kruskal-Wallis p (scipy and pandas recomputed here)."""
    from scipy import stats

    from engine.views.analysis import table_one

    predictions = predictions_table()
    table = table_one(predictions, ["sex", "age", "afp"]).set_index(["variable", "level"])
    assert list(table.columns) == ["Overall", "train", "internal", "external", "P-Value"]
    patients = predictions.drop_duplicates("patient_id")
    groups = [patients[patients["split"] == s] for s in ("train", "internal", "external")]
    female = table.loc[("sex, n (%)", "F")]
    n_female = int((groups[0]["sex"] == "F").sum())
    assert female["train"] == f"{n_female} ({100 * n_female / len(groups[0]):.1f})"
    chi2 = stats.chi2_contingency(pd.crosstab(patients["split"], patients["sex"]), correction=False)
    assert float(female["P-Value"]) == pytest.approx(chi2.pvalue, abs=0.0006)
    age = table.loc[("age, mean (SD)", "")]
    assert age["internal"] == f"{groups[1]['age'].mean():.1f} ({groups[1]['age'].std():.1f})"
    assert float(age["P-Value"]) == pytest.approx(stats.f_oneway(*[g["age"] for g in groups]).pvalue, abs=0.0006)
    afp = table.loc[("afp, median [Q1,Q3]", "")]
    q1, median, q3 = groups[2]["afp"].quantile([0.25, 0.5, 0.75])
    assert afp["external"] == f"{median:.1f} [{q1:.1f},{q3:.1f}]"
    assert float(afp["P-Value"]) == pytest.approx(stats.kruskal(*[g["afp"] for g in groups]).pvalue, abs=0.0006)


def test_cohort_counts():
    from engine.views.analysis import cohort_counts

    predictions = predictions_table()
    counts = cohort_counts(predictions)
    patients = predictions.drop_duplicates("patient_id")
    assert list(counts.index) == ["train", "internal", "external"]
    internal = patients[patients["split"] == "internal"]
    row = counts.loc["internal"]
    assert row["patients"] == len(internal) and row["events"] == internal["label"].sum()
    assert row["event rate"] == round(internal["label"].mean(), 3) and row["rfs events"] == internal["rfs_event"].sum()


def test_nomogram_tick_labels_do_not_crowd():
    from engine.plots.survival import _spaced

    np.testing.assert_array_equal(
        _spaced(np.array([0.0, 1.0, 2.0, 5.0, 9.5, 30.0])), [True, False, False, True, True, True]
    )
    np.testing.assert_array_equal(_spaced(np.array([30.0, 3.0, 0.0])), [True, False, True])  # a decreasing axis


def test_delong_comparisons_the_user_picked():
    """Every model against the picked anchor only, Holm across those tests (the report's DeLong section)."""
    from engine.report import _binary_sections, anchored_comparisons
    from engine.report.document import Document

    predictions = predictions_table(n=120)
    pairs = anchored_comparisons(predictions, ("Rad",))
    assert pairs == (("Rad", "Clinical"), ("Rad", "DL"), ("Rad", "Combined"))
    assert anchored_comparisons(predictions, ()) is None
    document = Document()
    _binary_sections(document, predictions, ["Clinical", "Rad", "DL", "Combined"], ["internal"], ["internal"], pairs)
    caption, table, note = [t for t in document.tables if "Paired DeLong" in t[0]][0]
    assert list(zip(table["Model A"], table["Model B"])) == list(pairs)
    assert note.startswith("Comparisons: every model against Rad (chosen for this report); 3 tests")
