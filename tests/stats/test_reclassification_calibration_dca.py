"""NRI/IDI properties, decision curves by hand, calibration curves and the bootstrap optimism correction."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from engine.stats import (
    calibration_bootstrap,
    calibration_curve,
    compare_models,
    decision_curve,
    hosmer_lemeshow,
    idi,
    nri,
)


@st.composite
def two_models(draw):
    n = draw(st.integers(6, 50))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    y[:2], y[2:4] = True, False
    probs = st.lists(st.floats(0, 1, allow_nan=False), min_size=n, max_size=n)
    return y, np.array(draw(probs)), np.array(draw(probs))


@settings(max_examples=150, deadline=None)
@given(two_models(), st.sampled_from([None, [0.2], [0.1, 0.4, 0.7]]))
def test_nri_is_antisymmetric(data, cutoffs):
    y, old, new = data
    forward, backward = nri(y, old, new, cutoffs=cutoffs), nri(y, new, old, cutoffs=cutoffs)
    assert backward.nri == pytest.approx(-forward.nri, abs=1e-12)
    assert backward.se == pytest.approx(forward.se, abs=1e-12)
    assert idi(y, new, old).idi == pytest.approx(-idi(y, old, new).idi, abs=1e-12)


def test_categorical_nri_by_hand():
    """Cutoff 0.5. Events: up 2 (0.4->0.6 twice), down 1; non-events: down 1, up 0 (n1 = 4, n0 = 3)."""
    y = [1, 1, 1, 1, 0, 0, 0]
    old = [0.4, 0.45, 0.7, 0.8, 0.6, 0.2, 0.3]
    new = [0.6, 0.55, 0.3, 0.9, 0.4, 0.1, 0.35]
    result = nri(y, old, new, cutoffs=[0.5])
    assert (result.up_events, result.down_events, result.up_nonevents, result.down_nonevents) == (2, 1, 0, 1)
    assert result.nri_events == pytest.approx(1 / 4) and result.nri_nonevents == pytest.approx(1 / 3)
    var = (3 / 16 - 1 / 64) + (1 / 9 - 1 / 27)
    assert result.se == pytest.approx(np.sqrt(var))
    cell = result.table.query("outcome == 'event' and old == '[0, 0.5)' and new == '[0.5, 1]'")
    assert int(cell["n"].iloc[0]) == 2


def test_decision_curve_by_hand():
    """n = 10, 4 events. Model treats prob >= 0.3: TP 3, FP 2 -> NB = 3/10 - 2/10 * 0.3/0.7."""
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.3, 0.1, 0.35, 0.3, 0.2, 0.1, 0.05, 0.0])
    table = decision_curve(y, {"model": p}, thresholds=[0.0, 0.3, 0.5])
    at = table.set_index(["model", "threshold"])
    assert at.loc[("model", 0.3), "net_benefit"] == pytest.approx(0.3 - 0.2 * 0.3 / 0.7)
    assert at.loc[("model", 0.5), "net_benefit"] == pytest.approx(0.2)
    assert at.loc[("all", 0.3), "net_benefit"] == pytest.approx(0.4 - 0.6 * 0.3 / 0.7)
    assert at.loc[("all", 0.0), "net_benefit"] == pytest.approx(0.4)
    assert at.loc[("model", 0.0), "net_benefit"] == pytest.approx(0.4)
    assert (at.xs("none", level="model")["net_benefit"] == 0).all()
    nia = (0.3 - 0.2 * 0.3 / 0.7 - (0.4 - 0.6 * 0.3 / 0.7)) / (0.3 / 0.7)
    assert at.loc[("model", 0.3), "net_interventions_avoided"] == pytest.approx(nia)
    assert np.isnan(at.loc[("model", 0.0), "net_interventions_avoided"])
    assert set(table.columns) >= {"model", "threshold", "net_benefit", "net_interventions_avoided"}


@settings(max_examples=50, deadline=None)
@given(two_models())
def test_decision_curve_default_grid_has_no_infinite_values(data):
    y, p, _ = data
    table = decision_curve(y, {"m": p})
    assert table["threshold"].max() == pytest.approx(0.99) and table["threshold"].min() == 0
    assert np.isfinite(table["net_benefit"]).all()
    assert (table.loc[table.model == "none", "net_benefit"] == 0).all()


def test_decision_curve_bootstrap_bands_cover_estimate():
    rng = np.random.default_rng(0)
    y = rng.random(300) < 0.3
    p = np.clip(0.3 + 0.3 * (y - 0.3) + rng.normal(scale=0.15, size=300), 0, 1)
    table = decision_curve(y, {"m": p}, thresholds=np.arange(0.05, 0.6, 0.05), n_boot=200, seed=1)
    inside = (table["ci_low"] <= table["net_benefit"] + 1e-12) & (table["net_benefit"] <= table["ci_high"] + 1e-12)
    assert inside.mean() > 0.9


def test_calibration_curve_bins_match_hosmer_lemeshow_groups():
    rng = np.random.default_rng(4)
    p = rng.random(500)
    y = rng.random(500) < p
    curve = calibration_curve(y, p, bins=10)
    hl = hosmer_lemeshow(y, p)
    np.testing.assert_array_equal(curve["n"], hl.table["n"])
    np.testing.assert_allclose(curve["observed"], hl.table["observed_events"] / hl.table["n"])
    assert (curve["ci_low"] <= curve["observed"]).all() and (curve["observed"] <= curve["ci_high"]).all()
    smooth = calibration_curve(y, p, method="lowess")
    assert smooth["predicted"].is_monotonic_increasing
    assert np.abs(smooth["observed"] - smooth["predicted"]).mean() < 0.1


def test_bootstrap_calibration_corrects_an_overfitted_model():
    """40 noise features, 120 patients: the apparent curve is too steep (overfit); the optimism-corrected curve
    is flatter and its slope is below the apparent one, as rms::calibrate shows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 40))
    y = (rng.random(120) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    result = calibration_bootstrap(LogisticRegression(C=10.0, max_iter=2000), X, y, n_boot=40, seed=0)
    curve = result.curve.dropna()
    apparent_slope = np.polyfit(curve["predicted"], curve["apparent"], 1)[0]
    corrected_slope = np.polyfit(curve["predicted"], curve["bias_corrected"], 1)[0]
    assert corrected_slope < apparent_slope - 0.2
    assert (curve["ideal"] == curve["predicted"]).all()
    assert result.mean_abs_error > 0.05


def test_compare_models_table():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.4
    latent = rng.normal(size=300) + 1.5 * y
    probs = {
        "Clinical": 1 / (1 + np.exp(-(latent + rng.normal(scale=2, size=300)))),
        "Rad": 1 / (1 + np.exp(-(latent + rng.normal(scale=1, size=300)))),
        "Combined": 1 / (1 + np.exp(-latent)),
    }
    result = compare_models(y, probs)
    assert list(result.models["model"]) == ["Clinical", "Rad", "Combined"]
    assert len(result.pairs) == 3
    pairs = result.pairs.set_index(["model_a", "model_b"])
    assert pairs.loc[("Clinical", "Combined"), "auc_diff"] < 0
    assert pairs.loc[("Clinical", "Combined"), "nri"] < 0
    for column in ("delong_p", "nri_p", "idi_p"):
        assert (result.pairs[f"{column}_holm"] >= result.pairs[column] - 1e-15).all()
        assert (result.pairs[f"{column}_bh"] <= result.pairs[f"{column}_holm"] + 1e-15).all()
    smallest = result.pairs["delong_p"].min()
    assert result.pairs["delong_p_holm"].min() == pytest.approx(min(1, 3 * smallest))
    frame = result.to_frame()
    assert "auc_a_ci" in frame and isinstance(frame, pd.DataFrame)
