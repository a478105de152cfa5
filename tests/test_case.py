"""engine.views.case without images: a patient's predictions, risk groups and nomogram values from the tables."""

import numpy as np
import pandas as pd
import pytest

from engine.views.case import case_predictions, case_risk_groups
from tests.dashboard.conftest import predictions_table, with_reference


def test_a_patients_nomogram_values_are_the_rows_the_nomogram_was_fitted_on():
    """engine.views.case.nomogram_values: a training patient's values equal the nomogram's own design row (predictors
    as in the table, scores as the logit of the probability), so the case viewer's points are the nomogram's."""
    from engine.views.analysis import fit_nomogram
    from engine.views.analysis import wide
    from engine.views.case import nomogram_values

    predictions = predictions_table(n=160)
    _, nomogram, data = fit_nomogram(predictions, ["age", "sex"], ["Rad", "DL"])
    patients = wide(predictions, "train")["patient_id"].tolist()
    for index in (0, 7, 33):
        values = nomogram_values(predictions, patients[index], ["age", "sex"], ["Rad", "DL"])
        expected = data.iloc[index].to_dict()
        assert values["sex"] == expected["sex"] and values["age"] == pytest.approx(expected["age"])
        assert values["Rad-score"] == pytest.approx(expected["Rad-score"], rel=1e-12)
        assert nomogram.score(values)["total_points"] == pytest.approx(nomogram.score(expected)["total_points"])


def test_an_uploads_case_uses_the_training_cutoffs_and_marks_raw_scores():
    predictions = with_reference(predictions_table(n=120))
    cutoffs = {"Rad": 0.4, "Clinical": 0.9}
    shown = case_predictions(predictions, cutoffs, "P0005").set_index("model")
    stored = predictions[predictions["patient_id"] == "P0005"].set_index("model")
    np.testing.assert_array_equal(shown["prob"], stored.loc[shown.index, "prob"])
    assert shown.loc["Rad", "prediction"] == ("high risk" if stored.loc["Rad", "prob"] >= 0.4 else "low risk")
    assert shown.loc["DL", "prediction"] == "" and np.isnan(shown.loc["DL", "cutoff"])  # no cutoff: no call
    assert shown.loc["Stage (reference)", "scale"] == "raw score"
    cutoffs = pd.DataFrame(
        {"endpoint": ["rfs"], "source": ["binary"], "model": ["Rad"], "method": ["median"], "cutoff": [0.5]}
    )
    groups = case_risk_groups(cutoffs, predictions, None, "P0005")
    assert groups.to_dict("records") == [
        {
            "endpoint": "rfs",
            "model": "Rad",
            "source": "binary",
            "method": "median",
            "score": stored.loc["Rad", "prob"],
            "cutoff": 0.5,
            "group": "high risk" if stored.loc["Rad", "prob"] > 0.5 else "low risk",
        }
    ]
