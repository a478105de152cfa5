"""What leaves the product is safe to open in a spreadsheet; what comes in is read the way it was written."""

from engine.views.uploads import read_predictions
import io

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.common.exports import spreadsheet_safe
from engine.report import ReportInput, build_report
from tests.dashboard.conftest import predictions_table


def test_formula_cells_are_neutralised_and_numbers_left_alone():
    table = pd.DataFrame(
        {
            "patient_id": ['=HYPERLINK("http://x","a")', "+1-2", "-cmd", "@SUM(A1)", "HCC0001"],
            "note": ["fine", "\tTAB", "a=b", None, "=1+1"],
            "value": [-1.5, 2.0, -3.0, 0.0, 1.0],
        }
    )
    safe = spreadsheet_safe(table)
    assert safe["patient_id"].tolist() == ['\'=HYPERLINK("http://x","a")', "'+1-2", "'-cmd", "'@SUM(A1)", "HCC0001"]
    assert safe["note"].tolist()[:3] == ["fine", "'\tTAB", "a=b"] and safe["note"].iloc[4] == "'=1+1"
    assert safe["value"].tolist() == [-1.5, 2.0, -3.0, 0.0, 1.0]  # numbers, negative ones too, stay numbers
    assert table["patient_id"].iloc[0].startswith("=")  # the caller's table is untouched
    buffer = io.BytesIO()
    safe.to_excel(buffer, index=False)
    back = pd.read_excel(io.BytesIO(buffer.getvalue()))
    assert not back.astype(str).apply(lambda c: c.str.startswith("=")).any().any()


def test_the_report_neutralises_formula_cells():
    predictions = predictions_table(n=120)
    predictions["sex"] = np.where(predictions["sex"] == "M", '=HYPERLINK("http://evil")', "F")
    page, _ = build_report(ReportInput.from_upload(predictions, "t.csv"), static_figures=False)
    assert "'=HYPERLINK" in page and ">=HYPERLINK" not in page


def test_european_excel_csv_is_read_with_its_delimiter_and_decimal_comma():
    wide = (
        predictions_table(n=120)
        .query("model == 'Rad'")[["patient_id", "split", "label", "prob"]]
        .rename(columns={"prob": "Rad"})
    )
    text = wide.to_csv(index=False, sep=";", decimal=",")
    assert ";" in text and "0," in text
    long = read_predictions(text.encode(), "export.csv")
    np.testing.assert_allclose(
        long.sort_values("patient_id")["prob"], wide.sort_values("patient_id")["Rad"], rtol=1e-12
    )
    tabbed = read_predictions(wide.to_csv(index=False, sep="\t").encode(), "tabbed.csv")
    assert len(tabbed) == len(wide)


def test_a_csv_without_patient_id_says_how_it_was_read():
    with pytest.raises(
        ValidationError,
        match=r"read with delimiter ';' and decimal mark ','.*columns found are \['id', 'label', 'Rad'\]",
    ):
        read_predictions(b"id;label;Rad\nP1;0;0,2\nP2;1;0,7\n", "export.csv")


def test_the_overview_sentence_says_what_the_study_is():
    from engine.views.summary import study_sentence
    from tests.dashboard.conftest import with_reference

    predictions = with_reference(predictions_table(n=120))
    sentence = study_sentence(
        predictions, {"name": "Demo", "created": "2026-12-02T12:54:01+00:00", "phases": ["arterial", "portal"]}
    )
    splits = predictions.drop_duplicates("patient_id")["split"].value_counts()
    assert sentence == (
        f"Demo: 120 patients (train {splits['train']}, internal {splits['internal']}, external {splits['external']}); "
        "image phases arterial and portal; endpoints: binary label and RFS; 4 models and 1 reference score; "
        "built 2026-12-02 12:54 UTC."
    )
    assert study_sentence(predictions_table(n=60), source="upload t.csv").startswith("upload t.csv: 60 patients (")


def test_tables_read_like_a_paper():
    from engine.common.labels import readable

    table = pd.DataFrame(
        {
            "model": ["Rad", "DL"],
            "hl_p": [0.0004, 0.51234],
            "spiegelhalter_z": [1.23456, -0.5],
            "ci_low": [0.61234, np.nan],
            "hl_dof": [8, 8],
            "rfs_c_index": [0.7, 0.6],
        }
    )
    shown = readable(table)
    assert list(shown.columns) == [
        "Model",
        "Hosmer–Lemeshow p",
        "Spiegelhalter z",
        "95% CI low",
        "Hosmer–Lemeshow df",
        "rfs c index",
    ]
    assert shown["Hosmer–Lemeshow p"].tolist() == ["< 0.001", "0.512"]
    assert shown["Spiegelhalter z"].tolist() == [1.235, -0.5] and shown["Hosmer–Lemeshow df"].tolist() == [8, 8]
    assert list(table.columns)[0] == "model"  # the caller's table (and the downloads) keep the code names
