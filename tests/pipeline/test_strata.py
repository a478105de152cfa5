"""A stratified study (strata: treatment): one complete run per stratum, nothing learned in one stratum used in
another; the parent run pools the strata's predictions."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.config import parse_config
from engine.errors import ValidationError
from engine.store import RunStore
from engine.pipeline.study import run_study


@pytest.fixture(scope="module")
def stratified(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :8].copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    n = len(frame)
    frame.insert(0, "patient_id", [f"P{i}" for i in range(n)])
    frame.insert(1, "label", 1 - data.target)
    frame["treatment"] = np.where(np.arange(n) % 3 == 0, "TACE", "hepatectomy")
    folder = tmp_path_factory.mktemp("strata")
    frame.to_csv(folder / "features.csv", index=False)
    config = parse_config(
        {
            "name": "per treatment",
            "cohort": {"feature_table": "features.csv"},
            "strata": "treatment",
            "grid": {
                "models": {"Rad": ["radiomics"]},
                "classifiers": ["LR"],
                "n_iter": 1,
                "stacking": False,
                "search": "random",
            },
            "device": "cpu",
        }
    )
    store = RunStore(folder / "store")
    return store, store.load(run_study(config, folder, store)), frame


def test_each_stratum_is_its_own_run(stratified):
    store, parent, frame = stratified
    assert set(parent.provenance["strata"]) == {"TACE", "hepatectomy"}
    for level, run_id in parent.provenance["strata"].items():
        run = store.load(run_id)
        members = set(frame.loc[frame["treatment"] == level, "patient_id"])
        assert set(run.predictions["patient_id"]) == members  # scored: only its own patients
        trained = run.features().query("split == 'train'")["patient_id"]
        assert set(trained) <= members  # learned from: only its own training patients
        pipeline = run.pipeline("Rad")
        assert pipeline.named_steps["prepare"].n_features_in_ == 8
        internal = run.predictions.query("split == 'internal'")
        rows = frame.set_index("patient_id").loc[internal["patient_id"], [c for c in frame if c.startswith("rad_")]]
        np.testing.assert_allclose(pipeline.predict_proba(rows)[:, 1], internal["prob"], rtol=1e-10)
        performance = run.performance()
        assert (performance["model"] == "Rad").all() and performance["cutoff"].nunique() == 1


def test_the_parent_pools_the_strata(stratified):
    store, parent, frame = stratified
    pooled = parent.predictions
    assert len(pooled) == len(frame) and set(pooled["stratum"]) == {"TACE", "hepatectomy"}
    for level, run_id in parent.provenance["strata"].items():
        own = store.load(run_id).predictions.set_index("patient_id")["prob"]
        mine = pooled[pooled["stratum"] == level].set_index("patient_id")["prob"]
        np.testing.assert_allclose(mine.loc[own.index], own, rtol=1e-12)
    cutoffs = parent.performance().groupby("stratum")["cutoff"].first()
    assert cutoffs["TACE"] != cutoffs["hepatectomy"]  # each stratum learned its own
    from engine.pipeline.new_patients import predict_new

    with pytest.raises(ValidationError, match="stratified by treatment"):
        predict_new(parent, Path("new_patients.csv"))


def test_a_stratum_column_must_exist():
    from engine.pipeline.strata import strata_levels

    with pytest.raises(ValidationError, match="strata: column 'arm' is not in the cohort"):
        strata_levels(pd.DataFrame({"treatment": ["a", "b"]}), "arm")
    with pytest.raises(ValidationError, match="single level"):
        strata_levels(pd.DataFrame({"treatment": ["a", "a"]}), "treatment")
