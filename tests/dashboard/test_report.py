"""The report on an uploaded table and on a what-if sub-cohort: the numbers are those of the filtered patients."""

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
    page, figures = build_report(ReportInput.from_upload(predictions, "mine.csv", filters=filters))
    assert "mine.csv" in page and "developed outside this tool" in page and "PyRadiomics" not in page
    assert "sex in {M}; age between 40 and 70" in page
    kept = predictions.query("sex == 'M' and 40 <= age <= 70 and split == 'internal' and model == 'Rad'")
    n, value = _auc_cell(page, "internal", "Rad")
    assert n == len(kept) < (predictions.query("split == 'internal' and model == 'Rad'")).shape[0]
    assert value == pytest.approx(auc(kept["label"], kept["prob"]), abs=5e-4)
    assert "RFS: Harrell" in page and any(name.startswith("figures/km_rfs") for name in figures)
    assert "Table 1 by cohort" in page and "afp, median [Q1,Q3]" in page
    assert "Performance at each model" in page  # cutoffs learned on the upload's training cohort


@pytest.mark.chromium
def test_report_zip_of_an_upload_holds_the_page_and_figures():
    archive = zipfile.ZipFile(io.BytesIO(report_zip(ReportInput.from_upload(predictions_table(n=120), "t.csv"))))
    names = archive.namelist()
    assert "report.html" in names and any(n.startswith("figures/roc_internal") for n in names)
    assert "restricted" not in archive.read("report.html").decode()


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


def test_table_one_against_hand_computation():
    """Table 1: columns train, internal, external; n (%) with chi-squared p; mean (SD) with one-way ANOVA p; a
    skewed variable as median [Q1,Q3] with Kruskal-Wallis p (scipy and pandas recomputed here)."""
    from scipy import stats

    from engine.analysis import table_one

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
    from engine.analysis import cohort_counts

    predictions = predictions_table()
    counts = cohort_counts(predictions)
    patients = predictions.drop_duplicates("patient_id")
    assert list(counts.index) == ["train", "internal", "external"]
    internal = patients[patients["split"] == "internal"]
    row = counts.loc["internal"]
    assert row["patients"] == len(internal) and row["events"] == internal["label"].sum()
    assert row["event rate"] == round(internal["label"].mean(), 3) and row["rfs events"] == internal["rfs_event"].sum()


def test_nomogram_tick_labels_do_not_crowd():
    from engine.plots import _spaced

    np.testing.assert_array_equal(
        _spaced(np.array([0.0, 1.0, 2.0, 5.0, 9.5, 30.0])), [True, False, False, True, True, True]
    )
    np.testing.assert_array_equal(_spaced(np.array([30.0, 3.0, 0.0])), [True, False, True])  # a decreasing axis
