"""The synthetic cohort's documented split of information between feature families: the microvascular-invasion
wedge lies 6-10 mm outside the tumour, so radiomics of the tumour and a 5 mm ring (the demo's regions) cannot see
it, a 10 mm ring can, and the deep network's crop (tumour + 10 mm margin) does. Held-out checks against the
latent truth written beside the manifest, plus fusion on the binary endpoint."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from engine.cohort.manifest import assign_splits, load_manifest
from engine.cohort.synth import SynthSpec, synthesize_cohort
from engine.features.deep import DeepFeatureSettings, deep_features, tumour_crops
from engine.features.radiomics import extract_cohort, load_params
from engine.models.grid import FeatureTable, run_grid
from engine.stats import auc


@pytest.fixture(scope="module")
def arterial_study(tmp_path_factory):
    """140 patients, arterial phase only (the wedge is arterial), demo-sized volumes."""
    folder = tmp_path_factory.mktemp("fusion")
    manifest = synthesize_cohort(folder, SynthSpec(n=140, centers=1, phases=("arterial",), seed=5))
    cohort = assign_splits(load_manifest(manifest), train_fraction=0.7, seed=0)
    radiomics, failures = extract_cohort(cohort, load_params("ct_demo"), rings_mm={"ring5": 5, "ring10": 10}, workers=2)
    assert not failures
    truth = pd.read_csv(folder / "truth.csv")
    table = (
        cohort.table[["patient_id", "label", "split"]].merge(truth, on="patient_id").merge(radiomics, on="patient_id")
    )
    return cohort, table


def _cv_auc(values: np.ndarray, target: np.ndarray) -> float:
    """5-fold cross-validated AUC of a ridge-penalised logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000))
    prob = cross_val_predict(
        model,
        np.nan_to_num(values),
        target,
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
        method="predict_proba",
    )[:, 1]
    return auc(target, prob)


def test_the_wedge_is_beyond_the_5mm_ring_and_inside_the_10mm_ring(arterial_study):
    _, table = arterial_study
    mvi = table["latent_mvi"].to_numpy()
    near = table.filter(regex="^arterial_(tumour|ring5)_original_").to_numpy()
    wide = table.filter(regex="^arterial_ring10_original_firstorder").to_numpy()
    assert _cv_auc(near, mvi) < 0.7
    assert _cv_auc(wide, mvi) > 0.85
    heterogeneity = table["latent_heterogeneity"] > 0
    assert _cv_auc(near, heterogeneity.to_numpy(int)) > 0.75  # what the tumour radiomics does see


def test_deep_features_see_the_wedge_and_fusion_helps(arterial_study):
    cohort, table = arterial_study
    crops = tumour_crops(cohort, size=64)
    labels, split = cohort.table["label"].to_numpy(int), cohort.table["split"].to_numpy()
    deep = deep_features(
        crops,
        labels,
        split,
        DeepFeatureSettings(width=16, epochs=12, folds=3, seed=0, device="cpu"),
        cohort.table["patient_id"],
    )
    table = table.merge(deep, on="patient_id")
    train, internal = (table["split"] == "train").to_numpy(), (table["split"] == "internal").to_numpy()
    dl_columns = [c for c in table if c.startswith("dl_")]
    rad_columns = [c for c in table if c.startswith(("arterial_tumour_original_", "arterial_ring5_original_"))]
    mvi = table["latent_mvi"].to_numpy()
    for columns, expected in ((dl_columns, "high"), (rad_columns, "low")):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000)).fit(
            table.loc[train, columns], mvi[train]
        )
        value = auc(mvi[internal], model.predict_proba(table.loc[internal, columns])[:, 1])
        assert value > 0.75 if expected == "high" else value < 0.65, (expected, value)
    # the product's grid: Rad and DL models, and their late fusion (deep models cross-validated on the CNN's folds)
    frame = table.drop(columns=["latent_heterogeneity", "latent_invasiveness", "latent_mvi"])
    result = run_grid(
        FeatureTable(frame, {"radiomics": rad_columns, "deep": dl_columns}),
        models={"Rad": ["radiomics"], "DL": ["deep"]},
        classifiers=["LR"],
        n_iter=2,
        seed=0,
    )
    held = result.predictions[result.predictions["split"] == "internal"].pivot(
        index="patient_id", columns="model", values="prob"
    )
    latent = table.set_index("patient_id").loc[
        held.index, ["latent_heterogeneity", "latent_invasiveness", "latent_mvi"]
    ].to_numpy() @ [1.0, 1.0, 1.5]
    # judged against the latent risk behind the label (the label's own noise would swamp 42 held-out patients)
    agreement = {model: spearmanr(held[model], latent)[0] for model in held}
    # seen: Rad 0.83, DL 0.52 (a CNN trained on 65 patients per fold), Stacked 0.85; in the 300-patient demo the
    # fused models gain about 0.03-0.04 internal and external AUC over Rad
    assert agreement["Stacked(Rad+DL)"] > max(agreement["Rad"], agreement["DL"]), agreement
