"""Deep features learned per fold: the grid's cross-validation scores each fold with the network that did not
see it. Oracle: a 'network' that memorises the labels of the patients it was trained on."""

import numpy as np
import pandas as pd
import pytest

from engine.models.deep_folds import FOLD_COLUMN, FoldedDeepFeatures
from engine.models.grid import FeatureTable, run_grid


def _memorising_network_features(n: int = 240, folds: int = 3, width: int = 4, seed: int = 0) -> pd.DataFrame:
    """Features that equal the label (plus noise) for patients the network trained on, and pure noise otherwise."""
    rng = np.random.default_rng(seed)
    split = np.where(np.arange(n) < 160, "train", "internal")
    label = rng.integers(0, 2, n)
    train = split == "train"
    fold = np.where(train, np.arange(n) % folds, -1)
    frame = pd.DataFrame({"patient_id": [f"P{i}" for i in range(n)], "split": split, "label": label})

    def block(seen: np.ndarray) -> np.ndarray:
        memorised = label[:, None] + rng.normal(scale=0.3, size=(n, width))
        return np.where(seen[:, None], memorised, rng.normal(size=(n, width)))

    final = block(train)
    for j in range(width):
        frame[f"dl_{j:03d}"] = final[:, j]
    for k in range(folds):
        values = block(train & (fold != k))
        values[~train] = np.nan
        for j in range(width):
            frame[f"dlfold{k}_{j:03d}"] = values[:, j]
    frame[FOLD_COLUMN] = fold
    return frame


def test_the_grid_scores_each_fold_with_a_network_that_did_not_see_it():
    frame = _memorising_network_features()
    table = FeatureTable(frame, {"deep": [f"dl_{j:03d}" for j in range(4)]})
    result = run_grid(table, models={"DL": ["deep"]}, classifiers=["LR"], n_iter=2, seed=0, stacking=False)
    row = result.grid.iloc[0]
    assert abs(row["cv_auc"] - 0.5) < 0.15, row["cv_auc"]  # a pipeline fitted on the final network's features: ~1.0
    oof = result.predictions.query("split == 'train'")
    from engine.stats import auc

    assert abs(auc(oof["label"], oof["prob"]) - 0.5) < 0.15
    assert row["train_auc"] > 0.95 and row["overfit"]  # apparent fit on memorised features, flagged


def test_without_the_fold_blocks_the_same_features_would_leak():
    """The control: the final network's (in-sample) features alone give a near-perfect, meaningless CV AUC."""
    frame = _memorising_network_features().filter(regex="^(patient_id|split|label|dl_)")
    table = FeatureTable(frame, {"deep": [f"dl_{j:03d}" for j in range(4)]})
    result = run_grid(table, models={"DL": ["deep"]}, classifiers=["LR"], n_iter=2, seed=0, stacking=False)
    assert result.grid.iloc[0]["cv_auc"] > 0.95


@pytest.mark.parametrize("present, block", [({0, 1}, 2), ({0, 2}, 1), ({0, 1, 2}, None)])
def test_folded_features_pick_the_block_of_the_missing_fold(present, block):
    frame = _memorising_network_features()
    rows = frame[frame[FOLD_COLUMN].isin(present)]
    step = FoldedDeepFeatures().fit(rows)
    assert step.block_ == block
    out = step.transform(frame.iloc[:5])
    assert [c for c in out if c.startswith(("dl", FOLD_COLUMN))] == [f"dl_{j:03d}" for j in range(4)]
    source = f"dlfold{block}_000" if block is not None else "dl_000"
    np.testing.assert_array_equal(out["dl_000"], frame.iloc[:5][source])
    new_patients = frame.iloc[:5][[f"dl_{j:03d}" for j in range(4)]]  # prediction on new patients: final network only
    assert list(FoldedDeepFeatures().fit(frame).transform(new_patients).columns) == list(new_patients.columns)
