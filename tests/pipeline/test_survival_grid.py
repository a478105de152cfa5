"""Survival models in the grid on real public data: scikit-survival's GBSG2 (German Breast Cancer Study Group 2)."""

import numpy as np
import pytest

from engine.models.grid import FeatureTable
from engine.models.survival_grid import run_survival_grid
from engine.stats import concordance_index


@pytest.fixture(scope="module")
def gbsg2_result():
    from sksurv.datasets import load_gbsg2

    X, y = load_gbsg2()
    frame = X.copy()
    for column in frame.select_dtypes("category"):
        frame[column] = frame[column].astype(str)
    frame.insert(0, "patient_id", [f"G{i}" for i in range(len(frame))])
    frame["rfs_time"], frame["rfs_event"] = y["time"], y["cens"].astype(int)
    rng = np.random.default_rng(0)
    frame["split"] = np.where(rng.random(len(frame)) < 0.7, "train", "internal")
    clinical = list(X.columns)
    frame.attrs["clinical"] = clinical
    return frame, run_survival_grid(
        FeatureTable(frame, {"clinical": clinical}), "rfs", models={"Clinical": ["clinical"]}
    )


def test_gbsg2_c_index_held_out(gbsg2_result):
    """Held-out Harrell's C >= 0.65 for the chosen survival model, recomputed from the stored risks."""
    frame, result = gbsg2_result
    internal = result.predictions.query("split == 'internal'")
    c = concordance_index(internal["time"], internal["event"], internal["risk"]).c_index
    assert c >= 0.65
    chosen = result.grid[result.grid["chosen"]].iloc[0]
    assert chosen["internal_c_index"] == pytest.approx(c)
    assert set(result.grid["method"]) == {"Cox", "LASSO-Cox", "RSF"}


def test_training_risks_are_out_of_fold(gbsg2_result):
    """Training risks come from models that did not see the patient: their C-index equals the grid's CV C."""
    frame, result = gbsg2_result
    train = result.predictions.query("split == 'train'")
    chosen = result.grid[result.grid["chosen"]].iloc[0]
    assert concordance_index(train["time"], train["event"], train["risk"]).c_index == pytest.approx(
        chosen["cv_c_index"]
    )
    assert len(train) == (frame["split"] == "train").sum()


def test_plain_cox_is_the_unpenalised_cox_fit_on_training(gbsg2_result):
    """Method "Cox": internal risks equal the linear predictor of engine's CoxModel (checked against R's coxph)
    fitted on the training patients; a family wider than MAX_COX_PREDICTORS is left to LASSO-Cox."""
    from engine.stats.regression_models import CoxModel
    from engine.models.survival_grid import MAX_COX_PREDICTORS

    frame, _ = gbsg2_result
    clinical = frame.attrs["clinical"]
    result = run_survival_grid(
        FeatureTable(frame, {"clinical": clinical}), "rfs", models={"Clinical": ["clinical"]}, methods=["Cox"]
    )
    train = frame[frame["split"] == "train"]
    cox = CoxModel().fit(train[clinical], train[["rfs_time", "rfs_event"]].set_axis(["time", "event"], axis=1))
    internal = frame[frame["split"] == "internal"]
    stored = result.predictions.query("split == 'internal'")
    np.testing.assert_allclose(stored["risk"].to_numpy(), cox.predict(internal[clinical]), rtol=1e-9)
    wide = frame.assign(
        **{f"noise{i}": np.random.default_rng(i).normal(size=len(frame)) for i in range(MAX_COX_PREDICTORS)}
    )
    noise = [f"noise{i}" for i in range(MAX_COX_PREDICTORS)]
    result = run_survival_grid(
        FeatureTable(wide, {"clinical": clinical, "noise": noise}),
        "rfs",
        models={"Clinical": ["clinical"], "Wide": ["clinical", "noise"]},
        methods=["Cox", "LASSO-Cox"],
    )
    assert set(result.grid.query("model == 'Wide'")["method"]) == {"LASSO-Cox"}
    assert set(result.grid.query("model == 'Clinical'")["method"]) == {"Cox", "LASSO-Cox"}


def test_a_diverging_cox_fit_is_a_clear_error_and_the_grid_goes_on(gbsg2_result):
    """A predictor with one extreme value at the earliest event has no finite maximum-likelihood coefficient:
    CoxModel says so and names it; the survival grid records the failure and keeps the other methods."""
    from engine.errors import ValidationError
    from engine.stats.regression_models import CoxModel

    frame, _ = gbsg2_result
    clinical = frame.attrs["clinical"]
    frame = frame.copy()
    first = frame.loc[frame["split"] == "train", "rfs_time"].idxmin()
    frame["marker"] = 1.0 + np.random.default_rng(0).random(len(frame))
    frame.loc[first, ["marker", "rfs_event"]] = [1e6, 1]
    train = frame[frame["split"] == "train"]
    with pytest.raises(ValidationError, match="did not converge.*heavy-tailed here: marker"):
        CoxModel().fit(
            train[["marker", *clinical]], train[["rfs_time", "rfs_event"]].set_axis(["time", "event"], axis=1)
        )
    result = run_survival_grid(
        FeatureTable(frame, {"clinical": [*clinical, "marker"]}),
        "rfs",
        models={"Clinical": ["clinical"]},
        methods=["Cox", "RSF"],
    )
    cox = result.grid.query("method == 'Cox'").iloc[0]
    assert np.isnan(cox["cv_c_index"]) and "did not converge" in cox["note"] and not cox["chosen"]
    assert set(result.predictions["method"]) == {"RSF"}


@pytest.mark.parametrize("method", ["Cox", "LASSO-Cox", "RSF"])
def test_survival_at_horizons_from_each_method(gbsg2_result, method):
    """S(h | x) at 1 and 3 years: held-out patients get the final model's survival (Cox: S0(h)^exp(lp) as
    CoxModel.predict_survival, checked against survfit; RSF: its own step function), training patients out-of-fold
    values; probabilities lie in [0, 1], fall with the horizon, and order patients as their risks do (Cox types)."""
    from engine.common.predictions import survival_column

    frame, _ = gbsg2_result
    clinical = frame.attrs["clinical"]
    horizons = [365.0, 1095.0]
    result = run_survival_grid(
        FeatureTable(frame, {"clinical": clinical}),
        "rfs",
        models={"Clinical": ["clinical"]},
        methods=[method],
        horizons=horizons,
    )
    rows = result.predictions
    one, three = rows[survival_column(365.0)], rows[survival_column(1095.0)]
    assert one.between(0, 1).all() and three.between(0, 1).all() and (three <= one + 1e-12).all()
    internal = rows["split"] == "internal"
    fitted = result.models["Clinical"]
    X = frame.loc[frame["split"] == "internal", clinical]
    if method == "Cox":
        expected = fitted.cox_.predict_survival(X, horizons)
    elif method == "LASSO-Cox":
        expected = fitted.predict_survival(X, horizons)
        order = np.argsort(rows.loc[internal, "risk"].to_numpy())
        assert (np.diff(one[internal].to_numpy()[order]) <= 1e-12).all()  # one baseline: survival falls as risk rises
    else:
        curves = fitted.named_steps["forest"].forest_.predict_survival_function(fitted[:-1].transform(X))
        expected = np.array([[curve(h) for h in horizons] for curve in curves])
    np.testing.assert_allclose(
        rows.loc[internal, [survival_column(h) for h in horizons]].to_numpy(), expected, rtol=1e-10
    )
