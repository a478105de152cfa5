"""The packed argsort behind DeLong at millions of patients: exactly NumPy's stable argsort, on every path."""

import numpy as np
import pytest

from engine.stats import _sorting
from engine.stats._sorting import PACKED_FROM, sort_scores, sortable_keys
from engine.stats.roc import placements

N = PACKED_FROM + 1_234  # large enough for the packed path


def _cases() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    steps = rng.integers(0, 2**10, N)
    return {
        "normal": rng.normal(size=N),
        "probabilities": 1 / (1 + np.exp(-rng.normal(size=N))),
        "heavy ties": np.round(rng.random(N), 2),
        "integers": rng.integers(-5, 6, N).astype(float),
        # values one ulp apart share their high bits: the packed sort leaves them in index order, so this is
        # the path that mends runs
        "one run below the index bits": 1.0 + steps * np.finfo(float).eps,
        "signed zeros and extremes": rng.choice([-0.0, 0.0, 5e-324, -5e-324, 1e308, -1e308, 1.0], N),
        "mixed magnitudes": rng.normal(size=N) * 10.0 ** rng.integers(-300, 300, N),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_packed_sort_equals_numpys_stable_argsort(name):
    values = _cases()[name]
    order, sorted_values = sort_scores(values)
    np.testing.assert_array_equal(order, np.argsort(values, kind="stable"))
    np.testing.assert_array_equal(sorted_values, values[order])


@pytest.mark.parametrize("max_runs", [_sorting.MAX_RUNS_TO_MEND, 10_000])
def test_many_out_of_order_runs(monkeypatch, max_runs):
    # 2,000 values, each beside its next float up in index order: 2,000 runs out of order, more than are mended
    # one by one by default (NumPy sorts all), fewer than 10,000 (each run mended)
    low = np.repeat(np.linspace(-1.0, 1.0, 2_000), 2)
    values = np.tile(low, N // low.size + 1)[:N]
    values[::2] = np.nextafter(values[::2], np.inf)
    monkeypatch.setattr(_sorting, "MAX_RUNS_TO_MEND", max_runs)
    order, sorted_values = sort_scores(values)
    np.testing.assert_array_equal(order, np.argsort(values, kind="stable"))
    np.testing.assert_array_equal(sorted_values, values[order])


def test_small_input_is_numpys_argsort():
    values = np.array([3.0, -1.0, 3.0, 0.0])
    order, sorted_values = sort_scores(values)
    np.testing.assert_array_equal(order, [1, 3, 0, 2])
    np.testing.assert_array_equal(sorted_values, [-1.0, 0.0, 3.0, 3.0])


def test_keys_order_like_the_values():
    values = np.array([-np.inf, -1e308, -1.0, -5e-324, -0.0, 0.0, 5e-324, 1.0, 1e308, np.inf])
    keys = sortable_keys(values)
    assert (keys[1:] > keys[:-1]).sum() == values.size - 2  # strictly increasing but for -0.0 == +0.0
    assert keys[4] == keys[5]


def test_placements_equal_with_numpys_order():
    rng = np.random.default_rng(3)
    event = rng.random(N) < 0.3
    for score in (rng.normal(size=N) + event, np.round(rng.normal(size=N) + event, 1)):
        packed = placements(event, score)
        plain = placements(event, score, np.argsort(score))
        assert packed.auc == pytest.approx(plain.auc, abs=1e-15)
        np.testing.assert_array_equal(packed.cases, plain.cases)
        np.testing.assert_array_equal(packed.controls, plain.controls)
