"""Time-to-event decision curves against the Python dcurves package (1.1.7, the port of R's dcurves) on its own
df_surv data (tests/reference/dcurves_surv.py): equal net benefits where the test-positive group is followed up to
the horizon, missing (never extrapolated) where its follow-up ends before it; the same rule for calibration."""

import numpy as np
import pandas as pd
import pytest

from engine.stats import survival_calibration, survival_decision_curve
from tests.reference import HERE, dataset


@pytest.mark.parametrize("horizon", [1.0, 1.5])
def test_survival_decision_curve_against_dcurves(horizon):
    """dcurves: dca(data=df_surv, outcome="cancer", modelnames=["cancerpredmarker"], time=horizon,
    time_to_outcome_col="ttcancer")."""
    data = dataset("df_surv")
    expected = pd.read_csv(HERE / "dcurves_surv.csv", float_precision="round_trip").query("time == @horizon")
    thresholds = np.round(np.arange(0, 1, 0.01), 2)
    ours = survival_decision_curve(
        data["ttcancer"],
        data["cancer"],
        {"cancerpredmarker": data["cancerpredmarker"]},
        horizon,
        thresholds=thresholds,
    )
    for model in ("all", "cancerpredmarker"):
        mine = ours[ours["model"] == model].set_index("threshold")["net_benefit"]
        theirs = expected[expected["model"] == model].set_index(
            np.round(expected.loc[expected["model"] == model, "threshold"], 2)
        )["net_benefit"]
        assert mine.isna().to_numpy().tolist() == theirs.loc[mine.index].isna().to_numpy().tolist(), model
        known = mine.notna()
        np.testing.assert_allclose(mine[known], theirs.loc[mine.index][known], rtol=1e-6, atol=1e-12, err_msg=model)
    missing = ours[(ours["model"] == "cancerpredmarker") & ours["net_benefit"].isna()]
    assert len(missing) > 10 and missing["note"].str.contains("not estimable").all()
    last = data.loc[data["cancerpredmarker"] >= missing["threshold"].min(), "ttcancer"].max()
    assert last < horizon  # the test-positive group's follow-up really ends before the horizon


def test_survival_calibration_does_not_extrapolate():
    """A risk group whose follow-up ends before the horizon has no observed survival there, with the reason; the
    others equal the Kaplan-Meier estimate of their members."""
    rng = np.random.default_rng(2)
    n = 200
    predicted = rng.uniform(0.2, 0.9, n)
    time = rng.exponential(3, n)
    low = predicted < np.quantile(predicted, 0.2)  # the lowest-survival fifth: followed for at most 0.5
    time[low] = np.minimum(time[low], 0.5)
    event = (rng.random(n) < 0.6).astype(int)
    event[low & (time == time[low].max())] = 1  # even when its last patient had the event
    table = survival_calibration(time, event, predicted, 1.0, groups=5)
    first = table.iloc[0]
    assert np.isnan(first["observed"]) and "not estimable" in first["note"]
    assert table.iloc[1:]["observed"].notna().all() and (table.iloc[1:]["note"] == "").all()
    from engine.stats import kaplan_meier

    members = predicted >= np.quantile(predicted, 0.8)
    km = kaplan_meier(time[members], event[members], times=[1.0])
    assert table.iloc[-1]["observed"] == pytest.approx(km["survival"].iloc[0], rel=1e-12)


def test_one_tie_rule_for_harrell_uno_and_time_dependent_auc():
    """Risks that differ by 1e-12 are different risks for every discrimination statistic (exact ties, as R)."""
    from engine.stats import concordance_index, time_dependent_auc

    rng = np.random.default_rng(4)
    n = 120
    time, event = rng.exponential(2, n), (rng.random(n) < 0.7).astype(int)
    risk = rng.integers(0, 3, n).astype(float)
    nudged = risk + rng.permutation(n) * 1e-12  # breaks every tie (within the old 1e-8 tolerance), keeps the order
    for method in ("harrell", "uno"):
        tied = concordance_index(time, event, risk, method=method, n_boot=2, seed=0).c_index
        broken = concordance_index(time, event, nudged, method=method, n_boot=2, seed=0).c_index
        assert tied != pytest.approx(broken, abs=1e-6), method
    tied = time_dependent_auc(time, event, risk, [1.0], n_boot=0)["auc"].iloc[0]
    broken = time_dependent_auc(time, event, nudged, [1.0], n_boot=0)["auc"].iloc[0]
    assert tied != pytest.approx(broken, abs=1e-6)


def test_time_dependent_roc_curve_area_is_the_time_dependent_auc():
    """The curve's trapezoidal area equals time_dependent_auc (scikit-survival's cumulative/dynamic AUC, within 0.01
    of riskRegression::Score) at each horizon, on survival::lung with a Cox risk score and with a tied risk."""
    from engine.stats import time_dependent_auc, time_dependent_roc

    lung = dataset("lung")
    for risk in (lung["risk"], lung["ecog"].astype(float)):
        for horizon in (180.0, 365.0, 540.0):
            curve = time_dependent_roc(lung["time"], lung["event"], risk, horizon)
            expected = time_dependent_auc(lung["time"], lung["event"], risk, [horizon], n_boot=0)["auc"].iloc[0]
            assert curve.attrs["auc"] == pytest.approx(expected, rel=1e-10)
            assert curve["fpr"].is_monotonic_increasing and curve["tpr"].is_monotonic_increasing
            assert curve.iloc[0][["fpr", "tpr"]].tolist() == [0, 0] and curve.iloc[-1][
                ["fpr", "tpr"]
            ].tolist() == pytest.approx([1, 1])
