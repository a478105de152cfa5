"""Paired comparison of two Harrell C-indexes against R survival::concordance(fit1, fit2) with the contrast
c(1, -1), on survival::lung with three Cox models' linear predictors (one with heavily tied risks);
tests/reference/compare_c_index.R."""

import numpy as np
import pytest

from engine.errors import ValidationError
from engine.stats import compare_c_index, concordance_index
from tests.reference import dataset, reference

RTOL = 1e-6
PAIRS = [("age", "full"), ("ecog", "full"), ("ecog", "age")]


@pytest.mark.parametrize("a, b", PAIRS)
def test_compare_c_index_against_R(a, b):
    """R: both <- concordance(fit_a, fit_b); diff = c(1, -1) %*% coef(both); se = sqrt(c %*% vcov(both) %*% c)."""
    data = dataset("lung_models")
    result = compare_c_index(data["time"], data["event"], data[a], data[b])
    expected = {stat: value for (ds, stat), value in reference("compare_c_index").items() if ds == f"{a}_vs_{b}"}
    for stat in ("c_a", "c_b", "se_a", "se_b", "diff", "se", "z", "p_value", "ci_low", "ci_high"):
        assert getattr(result, stat) == pytest.approx(expected[stat], rel=RTOL), stat


def test_compare_c_index_properties():
    data = dataset("lung_models")
    same = compare_c_index(data["time"], data["event"], data["full"], data["full"])
    assert same.diff == 0 and same.se == 0 and same.p_value == 1.0
    swapped = compare_c_index(data["time"], data["event"], data["full"], data["age"])
    forward = compare_c_index(data["time"], data["event"], data["age"], data["full"])
    assert swapped.diff == pytest.approx(-forward.diff) and swapped.p_value == pytest.approx(forward.p_value)
    single = concordance_index(data["time"], data["event"], data["age"])
    assert forward.c_a == pytest.approx(single.c_index) and forward.se_a == pytest.approx(single.se)
    # a monotone transform leaves both C and the comparison unchanged
    again = compare_c_index(data["time"], data["event"], np.exp(data["age"]), data["full"] * 3 + 1)
    assert again.p_value == pytest.approx(forward.p_value, rel=1e-12)


def test_compare_c_index_needs_equal_lengths():
    data = dataset("lung_models")
    with pytest.raises(ValidationError, match="risk_b"):
        compare_c_index(data["time"], data["event"], data["age"], data["full"][:-1])
