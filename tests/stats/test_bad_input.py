"""Bad input gets a ValidationError (a ValueError) naming the argument, the rule and the fix."""

import numpy as np
import pytest

from engine.errors import ValidationError
from engine.stats import (
    auc_ci,
    calibration_stats,
    compare_models,
    decision_curve,
    delong_test,
    hosmer_lemeshow,
    idi,
    nri,
    threshold_metrics,
)

Y = np.array([0, 1, 0, 1, 1, 0, 0, 1])
S = np.array([0.1, 0.8, 0.3, 0.6, 0.7, 0.2, 0.4, 0.9])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: auc_ci([0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4]), ["y", "both classes", "only 0", "n=4"]),
        (lambda: auc_ci([1, 0, 0, 0], [0.1, 0.2, 0.3, 0.4]), ["at least 2 events", "1 events"]),
        (lambda: auc_ci(Y, np.r_[S[:-1], np.nan]), ["score", "finite", "position"]),
        (lambda: auc_ci(Y, np.r_[S[:-1], np.inf]), ["score", "finite"]),
        (lambda: auc_ci(Y, S[:-1]), ["score", "one value per patient", "7 values for 8"]),
        (lambda: auc_ci(np.r_[Y[:-1], np.nan], S), ["y", "missing"]),
        (lambda: auc_ci([0, 1, 2, 1, 0, 2, 1, 0], S), ["two-valued", "3 distinct"]),
        (lambda: auc_ci(["a", "b", "a", "b", "b", "a", "a", "b"], S), ["0/1", "pos_label"]),
        (lambda: auc_ci(Y, S, pos_label=7), ["pos_label", "one of the values"]),
        (lambda: auc_ci(Y, ["x"] * 8), ["score", "numeric"]),
        (lambda: auc_ci(Y, S, method="exact"), ["method", "'delong' or 'bootstrap'"]),
        (lambda: auc_ci(Y, S, level=95), ["level", "between 0 and 1"]),
        (lambda: delong_test(Y, S, S[:5]), ["score_b", "one value per patient"]),
        (lambda: nri(Y, S * 2, S), ["prob_old", "[0, 1]", "logits"]),
        (lambda: nri(Y, S, S, cutoffs=[0.5, 0.2]), ["cutoffs", "increasing"]),
        (lambda: nri(Y, S, S, cutoffs=[0, 0.5]), ["cutoffs", "strictly between 0 and 1"]),
        (lambda: idi(Y, S, S - 0.5), ["prob_new", "[0, 1]"]),
        (lambda: hosmer_lemeshow(Y, S, groups=2), ["groups", ">= 3"]),
        (lambda: hosmer_lemeshow(Y, np.r_[[0.2] * 4, [0.7] * 4]), ["prob", "at least 3 risk groups"]),
        (lambda: calibration_stats(Y, S + 1), ["prob", "[0, 1]"]),
        (lambda: decision_curve(Y, {"m": S}, thresholds=[0.2, 1.0]), ["thresholds", "[0, 1)", "infinite at 1"]),
        (lambda: decision_curve(Y, {"all": S}), ["reserved", "'all'"]),
        (lambda: decision_curve(Y, {}), ["probs", "model names"]),
        (lambda: compare_models(Y, {"only": S}), ["at least two models"]),
        (lambda: threshold_metrics(Y, S, np.nan), ["threshold", "finite"]),
    ],
)
def test_bad_input_is_explained(call, words):
    with pytest.raises(ValidationError) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from: {message}"
    assert isinstance(info.value, ValueError)


def test_labels_with_pos_label_and_booleans_are_accepted():
    labels = np.where(Y == 1, "recurrence", "none")
    assert auc_ci(labels, S, pos_label="recurrence").auc == auc_ci(Y, S).auc == auc_ci(Y.astype(bool), S).auc


def test_probabilities_of_zero_and_one_are_announced_not_hidden():
    p = np.array([0.0, 1.0, 0.2, 0.7, 0.6, 0.3, 0.4, 0.9])
    result = calibration_stats(Y, p)
    assert result.n_excluded_from_logistic == 2
    assert "0 or 1" in result.notes[0]
