"""ROC/DeLong invariants (hypothesis) and the brute-force O(n^2) oracle beside the fast placements."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.stats import auc_ci, delong_test, roc_curve, threshold_metrics, youden_threshold
from engine.stats.roc import bootstrap_aucs, placements


def brute_force_placements(event, score):
    """psi(x, y) = 1 if x > y, 1/2 if tied: the definition, O(n^2)."""
    cases, controls = score[event], score[~event]
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    return psi.mean(axis=1), psi.mean(axis=0), psi.mean()


@st.composite
def labelled_scores(draw, min_size=4, max_size=60, tie_levels=None):
    n = draw(st.integers(min_size, max_size))
    y = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    y[:2], y[2:4] = True, False
    if tie_levels:
        score = np.array(draw(st.lists(st.integers(0, tie_levels), min_size=n, max_size=n)), dtype=float)
    else:
        score = np.array(draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n)))
    return y, score


@settings(max_examples=150, deadline=None)
@given(labelled_scores(tie_levels=4))
def test_placements_match_brute_force_with_ties(data):
    y, score = data
    fast = placements(y, score)
    cases, controls, auc = brute_force_placements(y, score)
    np.testing.assert_allclose(fast.cases, cases, rtol=1e-12)
    np.testing.assert_allclose(fast.controls, controls, rtol=1e-12)
    assert fast.auc == pytest.approx(auc, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(labelled_scores())
def test_placements_match_brute_force_continuous(data):
    y, score = data
    cases, controls, auc = brute_force_placements(y, score)
    fast = placements(y, score)
    np.testing.assert_allclose(fast.cases, cases, rtol=1e-12)
    assert fast.auc == pytest.approx(auc, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(labelled_scores(tie_levels=6))
def test_auc_of_negated_score_is_complement(data):
    y, score = data
    assert auc_ci(y, -score).auc == pytest.approx(1 - auc_ci(y, score).auc, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(labelled_scores(tie_levels=6), st.randoms(use_true_random=False))
def test_auc_invariant_to_monotone_transform_and_row_order(data, random):
    y, score = data
    base = auc_ci(y, score)
    transformed = auc_ci(y, np.exp(score / 3) * 5 + 1)
    order = list(range(y.size))
    random.shuffle(order)
    shuffled = auc_ci(y[order], score[order])
    for other in (transformed, shuffled):
        assert other.auc == pytest.approx(base.auc, abs=1e-12)
        assert other.se == pytest.approx(base.se, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(labelled_scores(tie_levels=5), st.lists(st.integers(0, 5), min_size=60, max_size=60))
def test_delong_symmetry(data, other):
    y, a = data
    b = np.asarray(other[: y.size], dtype=float)
    same = delong_test(y, a, a)
    assert same.z == 0 and same.p_value == 1 and same.diff == 0
    ab, ba = delong_test(y, a, b), delong_test(y, b, a)
    assert ba.z == pytest.approx(-ab.z, abs=1e-9)
    assert ba.p_value == pytest.approx(ab.p_value, abs=1e-12)
    assert ba.ci_low == pytest.approx(-ab.ci_high, abs=1e-12)


def test_delong_oracle_on_tiny_case():
    """Hand-computed: cases 0.9, 0.6; controls 0.5, 0.6, 0.1 -> case placements (1, 5/6), control placements
    (1, 3/4, 1), AUC 11/12."""
    y = np.array([1, 1, 0, 0, 0])
    score = np.array([0.9, 0.6, 0.5, 0.6, 0.1])
    parts = placements(y.astype(bool), score)
    np.testing.assert_allclose(parts.cases, [1.0, 2.5 / 3])
    np.testing.assert_allclose(parts.controls, [1.0, 0.75, 1.0])
    assert parts.auc == pytest.approx(11 / 12)
    se = np.sqrt(np.var([1, 2.5 / 3], ddof=1) / 2 + np.var([1, 0.75, 1], ddof=1) / 3)
    assert auc_ci(y, score).se == pytest.approx(se)


def test_constant_scores_give_auc_one_half():
    y = np.array([0, 1, 0, 1, 1, 0])
    result = auc_ci(y, np.full(6, 0.3))
    assert result.auc == 0.5 and result.se == 0


def test_bootstrap_auc_distribution_is_centred_and_counts_ties():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    score = np.round(rng.normal(size=400) + y, 1)
    boot = bootstrap_aucs(y, score, n_boot=3000, seed=1)
    full = placements(y, score)
    assert boot.mean() == pytest.approx(full.auc, abs=0.003)
    delong_se = auc_ci(y, score).se
    assert boot.std(ddof=1) == pytest.approx(delong_se, rel=0.1)


def test_bootstrap_resample_auc_equals_direct_auc_of_resample():
    """The counting shortcut gives exactly the AUC of the resampled patients (same generator draws)."""
    rng = np.random.default_rng(5)
    y = rng.random(50) < 0.5
    score = np.round(rng.normal(size=50), 1)
    boot = bootstrap_aucs(y, score, n_boot=1, seed=11, chunk=1)
    order = np.argsort(score)
    sorted_event = y[order]
    draw = np.random.default_rng(11)
    cases = np.sort(score)[sorted_event][draw.integers(0, sorted_event.sum(), size=(1, sorted_event.sum()))][0]
    controls = np.sort(score)[~sorted_event][draw.integers(0, (~sorted_event).sum(), size=(1, (~sorted_event).sum()))][
        0
    ]
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    assert boot[0] == pytest.approx(psi.mean(), rel=1e-12)


def test_roc_curve_runs_from_origin_to_one_and_matches_threshold_metrics():
    rng = np.random.default_rng(2)
    y = rng.random(80) < 0.3
    score = np.round(rng.normal(size=80) + y, 1)
    curve = roc_curve(y, score)
    assert (curve.iloc[0].fpr, curve.iloc[0].tpr) == (0, 0)
    assert (curve.iloc[-1].fpr, curve.iloc[-1].tpr) == (1, 1)
    assert curve["tpr"].is_monotonic_increasing and curve["fpr"].is_monotonic_increasing
    area = np.trapezoid(curve["tpr"], curve["fpr"])
    assert area == pytest.approx(auc_ci(y, score).auc, abs=1e-12)
    row = curve.iloc[7]
    metrics = threshold_metrics(y, score, row.threshold)
    assert metrics.sensitivity == pytest.approx(row.sensitivity)
    assert metrics.specificity == pytest.approx(row.specificity)


def test_threshold_metrics_by_hand():
    """10 patients: scores >= 0.5 positive -> TP 3, FP 1, TN 4, FN 2."""
    y = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.5, 0.7, 0.4, 0.2, 0.3, 0.1, 0.49, 0.0]
    m = threshold_metrics(y, s, 0.5)
    assert (m.tp, m.fp, m.tn, m.fn) == (3, 1, 4, 2)
    assert m.sensitivity == pytest.approx(0.6) and m.specificity == pytest.approx(0.8)
    assert m.ppv == pytest.approx(0.75) and m.npv == pytest.approx(4 / 6) and m.accuracy == pytest.approx(0.7)
    assert m.f1 == pytest.approx(6 / 9) and m.youden == pytest.approx(0.4)
    # Wilson interval for 3/5 (z = 1.959964): centre (p + z^2/2n) / (1 + z^2/n)
    z = 1.959963984540054
    centre = (0.6 + z**2 / 10) / (1 + z**2 / 5)
    half = z * np.sqrt(0.6 * 0.4 / 5 + z**2 / 100) / (1 + z**2 / 5)
    assert (m.sensitivity_ci_low, m.sensitivity_ci_high) == pytest.approx((centre - half, centre + half))
    assert list(m.to_frame()["metric"]) == ["sensitivity", "specificity", "ppv", "npv", "accuracy", "f1", "youden"]


def test_threshold_metrics_undefined_ppv_is_explained():
    m = threshold_metrics([0, 1, 0, 1], [0.1, 0.2, 0.3, 0.4], 0.9)
    assert np.isnan(m.ppv) and m.tp == 0 and m.fp == 0
    assert any("PPV" in note for note in m.notes)


def test_youden_threshold_maximises_j():
    rng = np.random.default_rng(9)
    y = rng.random(200) < 0.35
    score = rng.normal(size=200) + 1.2 * y
    best = youden_threshold(y, score)
    js = [threshold_metrics(y, score, t).youden for t in np.unique(score)]
    assert best.youden == pytest.approx(max(js))
    assert threshold_metrics(y, score, best.threshold).youden == pytest.approx(best.youden)
