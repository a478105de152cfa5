"""ComBat across centres: the same numbers as R's sva::ComBat, hand-computed standardisation, an injected centre
shift removed on training and internal data, unseen centres by the configured rule, and fitted inside the folds
(pure noise stays at chance)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.features.harmonize import ComBat
from engine.models.grid import FeatureTable, run_grid

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
FEATURES = [f"f{k}" for k in range(1, 7)]


def test_combat_against_R():
    """sva 3.46 ``ComBat(dat, batch = center, mod = NULL, par.prior = TRUE)``: tests/reference/combat.R."""
    data = pd.read_csv(REFERENCE / "data" / "combat_input.csv")
    expected = pd.read_csv(REFERENCE / "combat.csv")
    adjusted = ComBat(FEATURES).fit(data[["center", *FEATURES]]).transform(data[["center", *FEATURES]])
    np.testing.assert_allclose(adjusted[FEATURES].to_numpy(), expected[FEATURES].to_numpy(), rtol=1e-6, atol=1e-8)
    two = data[data["center"] != "C3"]
    expected = pd.read_csv(REFERENCE / "combat_two_centres.csv")
    adjusted = ComBat(FEATURES).fit_transform(two[["center", *FEATURES]])
    np.testing.assert_allclose(adjusted[FEATURES].to_numpy(), expected[FEATURES].to_numpy(), rtol=1e-6, atol=1e-8)


def test_standardisation_by_hand():
    """Centres A (1, 2, 3) and B (7, 9): centre means 2 and 8; grand mean (3*2 + 2*8) / 5 = 4.4; pooled variance
    ((1+0+1) + (1+1)) / 5 = 0.8 (residuals from each centre's own mean, divided by n as sva does)."""
    table = pd.DataFrame({"center": ["A", "A", "A", "B", "B"], "x": [1.0, 2, 3, 7, 9], "y": [5.0, 5, 5, 5, 5]})
    fitted = ComBat(["x", "y"]).fit(table)
    assert fitted.grand_mean_[0] == pytest.approx(4.4) and fitted.pooled_var_[0] == pytest.approx(0.8)
    out = fitted.transform(table)
    assert list(out.columns) == ["x", "y"]  # the centre column is dropped, the order kept
    assert out["y"].tolist() == [5.0] * 5  # no spread: passed through unchanged
    z = (table["x"] - 4.4) / np.sqrt(0.8)
    gamma_hat = z.groupby(table["center"]).mean()
    assert gamma_hat["A"] == pytest.approx((2 - 4.4) / np.sqrt(0.8)) and gamma_hat["B"] == pytest.approx(
        (8 - 4.4) / np.sqrt(0.8)
    )


def _shifted(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """Three centres; centre C2 adds +3 and scales by 1.8, C3 (external) adds -2 and scales by 0.6."""
    rng = np.random.default_rng(seed)
    centre = np.array(["C1", "C2", "C3"])[np.arange(n) % 3]
    values = rng.normal(size=(n, 20))
    offset = np.select([centre == "C2", centre == "C3"], [3.0, -2.0], 0.0)[:, None]
    scale = np.select([centre == "C2", centre == "C3"], [1.8, 0.6], 1.0)[:, None]
    frame = pd.DataFrame(values * scale + offset, columns=[f"r{k}" for k in range(20)])
    frame.insert(0, "center", centre)
    split = np.where(centre == "C3", "external_C3", np.where(np.arange(n) % 4 == 0, "internal", "train"))
    frame.insert(0, "split", split)
    return frame


def test_injected_centre_shift_is_removed_on_training_internal_and_unseen_data():
    frame = _shifted()
    columns = [f"r{k}" for k in range(20)]
    train = frame["split"] == "train"
    fitted = ComBat(columns).fit(frame.loc[train, ["center", *columns]])
    before = frame.groupby("center")[columns].mean().mean(axis=1)
    assert before["C2"] - before["C1"] == pytest.approx(3.0, abs=0.3)
    for rows in (train, frame["split"] == "internal"):
        out = fitted.transform(frame.loc[rows, ["center", *columns]]).assign(center=frame.loc[rows, "center"])
        means = out.groupby("center")[columns].mean().mean(axis=1)
        spread = out.groupby("center")[columns].std().mean(axis=1)
        assert abs(means["C2"] - means["C1"]) < 0.2  # was 3
        assert spread["C2"] / spread["C1"] == pytest.approx(1.0, abs=0.15)  # was 1.8
    external = frame.loc[frame["split"] == "external_C3", ["center", *columns]]
    own = ComBat(columns, unseen="own").fit(frame.loc[train, ["center", *columns]]).transform(external)
    reference = fitted.transform(frame.loc[train, ["center", *columns]])
    assert abs(own[columns].to_numpy().mean() - reference[columns].to_numpy().mean()) < 0.2  # was 2 below C1/C2
    assert own[columns].to_numpy().std() == pytest.approx(reference[columns].to_numpy().std(), rel=0.15)
    untouched = ComBat(columns, unseen="none").fit(frame.loc[train, ["center", *columns]]).transform(external)
    np.testing.assert_array_equal(untouched[columns].to_numpy(), external[columns].to_numpy())


def test_unseen_single_patient_and_missing_centre_are_clear_errors():
    frame = _shifted()
    columns = [f"r{k}" for k in range(20)]
    fitted = ComBat(columns).fit(frame.loc[frame["split"] == "train", ["center", *columns]])
    one = frame.loc[frame["split"] == "external_C3", ["center", *columns]].head(1)
    with pytest.raises(ValidationError, match=r"centre 'C3' was not in the training data .*unseen: none"):
        fitted.transform(one)
    with pytest.raises(ValidationError, match="needs the 'center' column"):
        fitted.transform(one.drop(columns="center"))


def test_combat_is_fitted_inside_the_folds_on_pure_noise():
    """200 noise features from two shifted centres: with ComBat and selection inside every fold, CV and held-out
    AUCs stay near 0.5 (ComBat knows no outcome, but anything learned must be learned on the training fold)."""
    rng = np.random.default_rng(4)
    n, p = 200, 200
    centre = np.where(np.arange(n) % 2 == 0, "C1", "C2")
    values = rng.normal(size=(n, p)) + np.where(centre == "C2", 2.0, 0.0)[:, None]
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(p)])
    frame.insert(0, "patient_id", [str(i) for i in range(n)])
    frame.insert(1, "split", np.where(np.arange(n) < 140, "train", "internal"))
    frame.insert(2, "label", (rng.random(n) < 0.5).astype(int))
    frame.insert(3, "center", centre)
    result = run_grid(
        FeatureTable(frame, {"radiomics": [f"f{i}" for i in range(p)]}),
        models={"Rad": ["radiomics"]},
        classifiers=["LR"],
        n_iter=2,
        stacking=False,
        harmonization={"families": ["radiomics"], "unseen": "own"},
    )
    pipeline = result.pipelines["Rad"]
    combat = pipeline.named_steps["prepare"].named_transformers_["harmonized"][0]
    assert isinstance(combat, ComBat) and combat.batches_ == ["C1", "C2"]
    assert len(combat.columns_) == p  # every radiomics column, fitted on the training patients only
    from engine.selection.clinical import input_columns

    assert "center" in input_columns(pipeline)  # new patients are scored with their centre
    row = result.grid.iloc[0]
    assert abs(row["cv_auc"] - 0.5) < 0.15 and abs(row["internal_auc"] - 0.5) < 0.17


def test_survival_models_harmonise_inside_their_folds_too():
    """The survival grid puts the same ComBat step first (fitted on each training fold) for harmonised families."""
    from engine.models.survival_grid import run_survival_grid

    rng = np.random.default_rng(5)
    n = 160
    centre = np.where(np.arange(n) % 2 == 0, "C1", "C2")
    latent = rng.normal(size=n)
    values = rng.normal(size=(n, 6)) + np.where(centre == "C2", 3.0, 0.0)[:, None]
    values[:, 0] += latent
    frame = pd.DataFrame(values, columns=[f"f{k}" for k in range(6)])
    time = rng.exponential(20 / np.exp(latent))
    frame = frame.assign(
        patient_id=[str(i) for i in range(n)],
        split=np.where(np.arange(n) < 110, "train", "internal"),
        center=centre,
        rfs_time=np.minimum(time, 30),
        rfs_event=(time < 30).astype(int),
    )
    result = run_survival_grid(
        FeatureTable(frame, {"radiomics": [f"f{k}" for k in range(6)]}),
        "rfs",
        models={"Rad": ["radiomics"]},
        methods=["RSF"],
        harmonization={"families": ["radiomics"]},
    )
    assert list(result.models["Rad"].named_steps)[0] == "harmonize"
    assert result.grid.iloc[0]["cv_c_index"] > 0.6
