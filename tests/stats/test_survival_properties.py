"""Survival statistics: invariants (hypothesis), brute-force oracles, decision curves and bad input."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.errors import ValidationError
from engine.models import CoxModel, LassoCoxModel
from engine.stats import (
    brier_scores,
    concordance_index,
    hazard_ratio,
    kaplan_meier,
    logrank_test,
    risk_cutoff,
    stratify,
    stratify_cohorts,
    survival_calibration,
    survival_decision_curve,
    time_dependent_auc,
)
from engine.stats.concordance import harrell_counts


def brute_force_harrell(t, e, risk):
    """survival::concordance's definition, O(n^2)."""
    concordant = discordant = tied = 0
    for i in range(t.size):
        if not e[i]:
            continue
        for j in range(t.size):
            if t[j] > t[i] or (t[j] == t[i] and not e[j]):
                if risk[i] > risk[j]:
                    concordant += 1
                elif risk[i] < risk[j]:
                    discordant += 1
                else:
                    tied += 1
    return concordant, discordant, tied


@st.composite
def survival_data(draw, max_size=40):
    n = draw(st.integers(4, max_size))
    t = np.array(draw(st.lists(st.integers(1, 12), min_size=n, max_size=n)), dtype=float)
    e = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    e[0] = True
    t[0] = min(t[0], t.max() - 1) if t.max() > 1 else t[0]
    risk = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), dtype=float)
    return t, e, risk


@settings(max_examples=200, deadline=None)
@given(survival_data())
def test_harrell_counts_match_brute_force(data):
    t, e, risk = data
    concordant, discordant, tied = brute_force_harrell(t, e, risk)
    if concordant + discordant + tied == 0:
        with pytest.raises(ValidationError):
            harrell_counts(t, e, risk)
        return
    fast = harrell_counts(t, e, risk)
    assert (fast["concordant"], fast["discordant"], fast["tied_risk"]) == (concordant, discordant, tied)


@settings(max_examples=100, deadline=None)
@given(survival_data())
def test_c_of_negated_risk_is_complement_and_km_is_non_increasing(data):
    t, e, risk = data
    try:
        c = concordance_index(t, e, risk).c_index
    except ValidationError:
        return
    assert concordance_index(t, e, -risk).c_index == pytest.approx(1 - c, abs=1e-12)
    km = kaplan_meier(t, e)
    assert (np.diff(km["survival"]) <= 1e-15).all()
    assert ((km["ci_low"] <= km["survival"] + 1e-12) & (km["survival"] <= km["ci_high"] + 1e-12)).all()


def test_kaplan_meier_by_hand():
    """Times 1, 2, 2+, 3, 4+ with events at 1, 2, 3: S = 4/5, 4/5 * 3/4, then * 1/2."""
    km = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0])
    np.testing.assert_allclose(km["survival"], [0.8, 0.6, 0.3, 0.3])
    np.testing.assert_array_equal(km["at_risk"], [5, 4, 2, 1])
    at = kaplan_meier([1, 2, 2, 3, 4], [1, 1, 0, 1, 0], times=[0.5, 2.5, 4])
    np.testing.assert_allclose(at["survival"], [1.0, 0.6, 0.3])
    np.testing.assert_array_equal(at["at_risk"], [5, 2, 1])
    np.testing.assert_array_equal(at["events"], [0, 2, 1])


def test_uno_equals_harrell_without_censoring():
    rng = np.random.default_rng(0)
    t = rng.exponential(size=200)
    risk = -t + rng.normal(size=200)
    e = np.ones(200, dtype=bool)
    harrell = concordance_index(t, e, risk).c_index
    uno = concordance_index(t, e, risk, method="uno", n_boot=10, seed=0).c_index
    assert uno == pytest.approx(harrell, abs=1e-9)


def hcc_like(n=300, seed=0):
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    event_time = rng.exponential(30 * np.exp(-0.8 * latent))
    censor = rng.uniform(10, 80, size=n)
    t = np.minimum(event_time, censor)
    e = event_time <= censor
    return t, e, latent + rng.normal(scale=0.5, size=n), latent


def test_stratify_applies_training_cutoff_unchanged():
    t, e, risk, _ = hcc_like()
    split = np.where(np.arange(t.size) < 200, "train", "internal")
    frame = pd.DataFrame({"time": t, "event": e, "risk": risk, "split": split})
    cutoff, results = stratify_cohorts(frame, time="time", event="event", risk="risk", method="median")
    assert cutoff.cutoff == pytest.approx(np.median(risk[:200]))
    internal = results["internal"]
    assert internal.cutoff == cutoff.cutoff
    assert internal.n_high == int((risk[200:] > cutoff.cutoff).sum())
    assert internal.hr > 1 and internal.logrank_p < 0.05
    direct = hazard_ratio(t[200:], e[200:], np.where(risk[200:] > cutoff.cutoff, "high", "low"), reference="low")
    assert internal.hr == pytest.approx(direct.hr)
    curves = internal.curves
    assert set(curves["group"]) == {"low", "high"} and (curves.groupby("group")["time"].min() == 0).all()
    assert set(internal.at_risk["group"]) == {"low", "high"}
    with pytest.raises(ValidationError, match="at least 2 patients in each risk group"):
        stratify(t, e, risk, cutoff=risk.max())


def test_permutation_adjusted_maxstat_is_larger_than_naive():
    t, e, risk, _ = hcc_like(n=150, seed=3)
    noise = np.random.default_rng(9).normal(size=150)
    result = risk_cutoff(t, e, noise, method="maxstat", adjustment="permutation", n_perm=200, seed=0)
    assert result.p_value_adjusted > result.p_value_unadjusted
    assert 0.1 * 150 <= result.n_low <= 0.9 * 150


def test_time_dependent_auc_and_brier_on_a_cox_model():
    t, e, risk, latent = hcc_like(n=400, seed=1)
    X = pd.DataFrame({"latent": latent, "noise": np.random.default_rng(2).normal(size=400)})
    model = CoxModel().fit(X, pd.DataFrame({"time": t, "event": e}))
    horizons = [10, 20, 30]
    auc = time_dependent_auc(t, e, model.predict(X), horizons, n_boot=50, seed=0)
    assert (auc["auc"] > 0.7).all() and (auc["ci_low"] < auc["auc"]).all()
    good = brier_scores(t, e, model.predict_survival(X, horizons), horizons)
    useless = brier_scores(t, e, np.full((400, 3), 0.5), horizons)
    assert good.attrs["integrated_brier"] < useless.attrs["integrated_brier"]
    calibration = survival_calibration(t, e, model.predict_survival(X, [20])[:, 0], 20, groups=4)
    assert calibration.attrs["mean_abs_error"] < 0.08
    assert calibration["predicted"].is_monotonic_increasing


def test_survival_decision_curve_by_hand():
    """No censoring before the horizon: net benefit reduces to the binary formula on status at the horizon."""
    t = np.array([1, 2, 3, 8, 9, 10, 11, 12, 13, 14], dtype=float)
    e = np.ones(10, dtype=bool)
    risk = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.1, 0.05, 0.4, 0.0])
    table = survival_decision_curve(t, e, {"m": risk}, 5, thresholds=[0.25, 0.5])
    at = table.set_index(["model", "threshold"])["net_benefit"]
    # treated at 0.25: patients 1, 2, 3, 4, 9 -> 3 events by t = 5, 2 not
    assert at[("m", 0.25)] == pytest.approx(3 / 10 - 2 / 10 * 0.25 / 0.75)
    assert at[("m", 0.5)] == pytest.approx(2 / 10 - 1 / 10 * 1)
    assert at[("all", 0.25)] == pytest.approx(0.3 - 0.7 / 3)
    assert (table.query("model == 'none'")["net_benefit"] == 0).all()


def test_lasso_cox_selects_the_signal():
    t, e, _, latent = hcc_like(n=300, seed=4)
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"signal": latent, **{f"noise{k}": rng.normal(size=300) for k in range(8)}})
    model = LassoCoxModel(cv=3).fit(X, pd.DataFrame({"time": t, "event": e}))
    assert "signal" in set(model.summary_["term"])
    assert model.summary_.set_index("term").loc["signal", "hazard_ratio"] > 1.5
    assert concordance_index(t, e, model.predict(X)).c_index > 0.65


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: kaplan_meier([1, -2, 3], [1, 0, 1]), ["time", ">= 0", "negative"]),
        (lambda: kaplan_meier([1, np.nan, 3], [1, 0, 1]), ["time", "finite"]),
        (lambda: kaplan_meier([1, 2, 3], [1, 2, 1]), ["event", "0/1", "subtract 1"]),
        (lambda: kaplan_meier([1, 2, 3], [1, 0, 1], times=[5]), ["within follow-up", "extend=True"]),
        (lambda: logrank_test([1, 2, 3, 4, 5], [1, 0, 1, 1, 0], ["a", "a", "b", "b", "c"]), ["single patient", "'c'"]),
        (lambda: logrank_test([1, 2, 3, 4], [0, 0, 0, 0], ["a", "a", "b", "b"]), ["at least 1 event"]),
        (lambda: concordance_index([1, 2, 3], [1, 0, 1], [0.1, 0.2]), ["risk", "one value per patient"]),
        (lambda: concordance_index([1, 2, 3], [1, 0, 1], [1, 2, 3], method="x"), ["'harrell' or 'uno'"]),
        (lambda: hazard_ratio([1, 2, 3, 4, 5, 6], [1, 0, 1, 1, 0, 1], ["a", "a", "b", "b", "c", "c"]), ["two-valued"]),
        (lambda: time_dependent_auc([1, 2, 3, 4], [1, 0, 1, 0], [1, 2, 3, 4], [10]), ["within follow-up"]),
        (lambda: risk_cutoff([1, 2, 3, 4], [1, 0, 1, 0], [1, 2, 3, 4], method="youden"), ["horizon"]),
        (lambda: risk_cutoff([1, 2, 3, 4], [1, 0, 1, 0], [1, 2, 3, 4], method="best"), ["method"]),
        (
            lambda: survival_calibration([1, 2, 3, 4], [1, 0, 1, 0], [0.5, 0.4, 0.3, 2.0], 2),
            ["predicted_survival", "[0, 1]"],
        ),
    ],
)
def test_survival_bad_input_is_explained(call, words):
    with pytest.raises(ValidationError) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"
