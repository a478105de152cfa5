"""Nomograms and the regression models behind them against R's rms 6.5 and survival (nomogram.R)."""

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.models import CoxModel, LogisticModel
from engine.stats import nomogram
from engine.stats.nomogram import pretty_ticks
from tests.reference import HERE, dataset


@pytest.fixture(scope="module")
def lung():
    d = dataset("lung").copy()
    d["ecog"] = d["ecog"].astype(int).astype(str)
    return d


def read(name):
    return pd.read_csv(HERE / name, float_precision="round_trip")


def test_logistic_coefficients_against_R(lung):
    """R: glm(event ~ age + sex + ecog, binomial) with ecog a factor (same coefficients as rms::lrm).
    Standard errors at rtol 1e-4: glm stops IRLS on a relative deviance change of 1e-8 and reports the
    information matrix of its last iterate."""
    model = LogisticModel().fit(lung[["age", "sex", "ecog"]], lung["event"])
    expected = read("logistic_coefficients.csv")
    np.testing.assert_allclose(model.summary_["coef"], expected["coef"], rtol=1e-6)
    np.testing.assert_allclose(model.summary_["se"], expected["se"], rtol=1e-4)
    assert list(model.summary_["term"]) == ["(Intercept)", "age", "sex=M", "ecog=1", "ecog=2"]


def test_cox_coefficients_and_survival_against_R(lung):
    """R: coxph(Surv(time, event) ~ age + sex + ecog) and summary(survfit(fit, newdata), times=c(180, 365))."""
    model = CoxModel().fit(lung[["age", "sex", "ecog"]], lung[["time", "event"]])
    expected = read("cox_coefficients.csv")
    np.testing.assert_allclose(model.summary_["coef"], expected["coef"], rtol=1e-6)
    np.testing.assert_allclose(model.summary_["se"], expected["se"], rtol=1e-6)
    np.testing.assert_allclose(model.summary_["p_value"], expected["p"], rtol=1e-5)
    survival = read("cox_predictions.csv")
    ours = model.predict_survival(lung[["age", "sex", "ecog"]].iloc[:5], [180, 365])
    np.testing.assert_allclose(ours.ravel(), survival["survival"], rtol=1e-6)


@pytest.mark.parametrize("kind", ["lrm", "cph"])
def test_nomogram_points_against_rms(lung, kind):
    """R: nomogram(lrm(event ~ age + sex + ecog)) and nomogram(cph(Surv(time, event) ~ ...)) with datadist:
    points at rms's own axis ticks (rtol 1e-5: rms's cph stops at eps = 1e-4 on the log-likelihood)."""
    X = lung[["age", "sex", "ecog"]]
    model = LogisticModel().fit(X, lung["event"]) if kind == "lrm" else CoxModel().fit(X, lung[["time", "event"]])
    nom = nomogram(model, X, horizons=() if kind == "lrm" else (180, 365))
    expected = read("nomogram.csv").query("model == @kind")
    for row in expected.itertuples():
        value = float(row.value) if row.variable == "age" else row.value
        assert nom.points_of(row.variable, value) == pytest.approx(float(row.points), rel=1e-5, abs=1e-9), row
    age_axis = nom.axes.query("variable == 'age'")["value"].astype(float)
    np.testing.assert_allclose(age_axis, expected.query("variable == 'age'")["value"].astype(float))
    assert nom.axes["points"].max() == pytest.approx(100)


def test_total_points_reproduce_predictions(lung):
    """Total points converted back to the linear predictor reproduce predict() for every patient."""
    X = lung[["age", "sex", "ecog"]]
    logistic = LogisticModel().fit(X, lung["event"])
    cox = CoxModel().fit(X, lung[["time", "event"]])
    nom_l = nomogram(logistic, X)
    nom_c = nomogram(cox, X, horizons=(180, 365), horizon_labels=("6-month survival", "1-year survival"))
    for index in range(0, len(X), 17):
        patient = X.iloc[index].to_dict()
        scored = nom_l.score(patient)
        assert scored["probability"] == pytest.approx(logistic.predict_proba(X.iloc[[index]])[0, 1], rel=1e-10)
        assert scored["total_points"] == pytest.approx(sum(scored["points"].values()))
        scored = nom_c.score(patient)
        assert scored["linear_predictor"] == pytest.approx(cox.predict(X.iloc[[index]])[0], rel=1e-10)
        np.testing.assert_allclose(
            [scored["6-month survival"], scored["1-year survival"]],
            cox.predict_survival(X.iloc[[index]], [180, 365])[0],
            rtol=1e-10,
        )
    axis = nom_c.total_axis
    assert (
        axis["1-year survival"].is_monotonic_decreasing and (axis["6-month survival"] >= axis["1-year survival"]).all()
    )


def test_pretty_ticks_match_R():
    """R: pretty(c(lo, hi), 10)."""
    assert pretty_ticks(39, 82).tolist() == [35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85]
    np.testing.assert_allclose(pretty_ticks(0.013, 0.97), np.arange(11) / 10)
    assert pretty_ticks(-3.2, 5.1).tolist() == list(range(-4, 7))
    assert pretty_ticks(100, 10000).tolist() == list(range(0, 10001, 1000))


def test_nomogram_bad_input(lung):
    X = lung[["age", "sex", "ecog"]]
    cox = CoxModel().fit(X, lung[["time", "event"]])
    with pytest.raises(ValidationError, match="horizons"):
        nomogram(cox, X)
    with pytest.raises(ValidationError, match="fitted"):
        nomogram(CoxModel(), X)
    nom = nomogram(cox, X, horizons=(365,))
    with pytest.raises(ValidationError, match="levels"):
        nom.points_of("ecog", "7")
    with pytest.raises(ValidationError, match="missing"):
        nom.score({"age": 60})


@pytest.mark.parametrize("kind", ["lrm", "cph"])
def test_calculator_marks_the_patient_and_gives_intervals(lung, kind):
    """The calculator: the patient's points per predictor add up to the total, the interval's estimate is the
    nomogram's prediction, the figure's marks sit at the patient's points; a log10_ predictor is entered and labelled
    in original units."""
    from engine import plots
    from engine.stats.nomogram import patient_points

    X = lung[["age", "sex", "ecog"]].assign(log10_wt=np.log10(lung["age"] * 1.3 + 10))
    model = LogisticModel().fit(X, lung["event"]) if kind == "lrm" else CoxModel().fit(X, lung[["time", "event"]])
    nom = nomogram(model, X, horizons=() if kind == "lrm" else (180, 365))
    patient = {"age": 63.0, "sex": "M", "ecog": "1", "log10_wt": np.log10(100.0)}
    scored = nom.score(patient)
    interval = nom.interval(patient)
    assert list(interval["outcome"]) == list(nom.outcome_labels)
    np.testing.assert_allclose(interval["estimate"], [scored[o] for o in nom.outcome_labels], rtol=1e-9)
    assert ((interval["ci_low"] < interval["estimate"]) & (interval["estimate"] < interval["ci_high"])).all()
    if kind == "lrm":
        np.testing.assert_allclose(interval["estimate"], model.predict_proba(pd.DataFrame([patient]))[:, 1])
    else:
        curve = nom.survival_curve(patient, [0, 180, 365])
        np.testing.assert_allclose(curve["survival"].iloc[1:], interval["estimate"], rtol=1e-9)
    points = patient_points(nom, patient)
    assert points["points"].iloc[-1] == pytest.approx(points["points"].iloc[:-1].sum())
    assert points.set_index("predictor").loc["wt", "value"] == "100"  # original units, original name
    figure = plots.nomogram_figure(nom, patient)
    marks = [t for t in figure.data if t.name == "this patient"][0]
    np.testing.assert_allclose(marks.x[:4], [scored["points"][v] for v in ("age", "sex", "ecog", "log10_wt")])
    labels = [t for t in figure.data if t.text is not None and any(str(x) == "100" for x in t.text)]
    assert labels and "wt (log scale)" in figure.layout.yaxis.ticktext
