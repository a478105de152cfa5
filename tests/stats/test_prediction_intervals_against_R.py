"""The nomogram calculator's intervals against R (tests/reference/prediction_intervals.R on survival::pbc):
LogisticModel.predict_interval = predict(glm, type = "link", se.fit = TRUE) with a Wald CI on the logit scale;
CoxModel.survival_interval = survfit(coxph(ties = "efron"), newdata, conf.type = "log")."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.stats.regression_models import CoxModel, LogisticModel

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
NEW = pd.DataFrame(
    {"age": [45, 60, 72], "log_bili": [0.2, 1.5, 2.8], "albumin": [3.9, 3.2, 2.7], "edema": ["0", "0.5", "1"]}
)


@pytest.fixture(scope="module")
def pbc():
    data = pd.read_csv(REFERENCE / "data" / "pbc.csv")
    data = data.dropna(subset=["time", "event", "dead_5y", "age", "log_bili", "albumin", "edema"])
    data["edema"] = data["edema"].map(lambda v: f"{v:g}")
    reference = pd.read_csv(REFERENCE / "prediction_intervals.csv")
    return data, reference


def test_logistic_probability_interval_against_R(pbc):
    data, reference = pbc
    model = LogisticModel().fit(data[NEW.columns], data["dead_5y"].to_numpy())
    shown = model.predict_interval(NEW)
    for stat in ("lp", "se", "prob", "ci_low", "ci_high"):
        expected = reference.query("model == 'logistic' and stat == @stat").sort_values("patient")["value"]
        np.testing.assert_allclose(shown[stat], expected, rtol=1e-7, err_msg=stat)
    assert (shown["ci_low"] < shown["prob"]).all() and (shown["prob"] < shown["ci_high"]).all()


def test_cox_survival_band_against_R(pbc):
    data, reference = pbc
    model = CoxModel().fit(data[NEW.columns], data[["time", "event"]])
    shown = model.survival_interval(NEW, [400, 1000, 2000, 3000])
    expected = reference.query("model == 'cox'").pivot_table(index=["patient", "time"], columns="stat", values="value")
    np.testing.assert_allclose(shown["survival"], expected["surv"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(shown["ci_low"], expected["lower"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(shown["ci_high"], expected["upper"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(
        shown["se"] * shown["survival"], expected["std_err"], rtol=1e-6, atol=1e-10
    )  # R: se of S
    np.testing.assert_allclose(shown["survival"], model.predict_survival(NEW, [400, 1000, 2000, 3000]).ravel())
    before = model.survival_interval(NEW.iloc[:1], [0.5])
    assert before[["survival", "ci_low", "ci_high"]].to_numpy().tolist() == [[1.0, 1.0, 1.0]]  # before any event
