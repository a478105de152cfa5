"""A run store with a realistic predictions table (7 models, 3 cohorts, survival endpoints) for the app tests."""

import numpy as np
import pandas as pd
import pytest

from engine.store import RunStore

MODELS = ["Clinical", "Rad", "DL", "Combined"]
HORIZONS = [12.0, 24.0]


def predictions_table(n: int = 240, seed: int = 0, models=MODELS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-(latent - 0.3)))).astype(int)
    hazard = np.exp(0.8 * latent)
    rfs = rng.exponential(24 / hazard)
    censor = rng.uniform(6, 60, n)
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:04d}" for i in range(n)],
            "split": np.select([np.arange(n) % 10 < 6, np.arange(n) % 10 < 8], ["train", "internal"], "external"),
            "label": label,
            "rfs_time": np.round(np.minimum(rfs, censor), 1),
            "rfs_event": (rfs <= censor).astype(int),
            "center": np.where(np.arange(n) % 10 < 8, "C1", "C3"),
            "sex": np.where(rng.random(n) < 0.8, "M", "F"),
            "age": np.round(rng.normal(56, 10, n)),
            "afp": np.round(np.exp(rng.normal(3, 1.5, n)), 1),
            "cirrhosis": np.where(rng.random(n) < 0.7, "yes", "no"),
        }
    )
    frames = []
    for index, model in enumerate(models):
        noise = rng.normal(scale=1.5 / (1 + 0.3 * index), size=n)
        frames.append(patients.assign(model=model, classifier="LR", prob=1 / (1 + np.exp(-(latent + noise - 0.3)))))
    return pd.concat(frames, ignore_index=True)


def with_reference(predictions: pd.DataFrame) -> pd.DataFrame:
    """The table plus a staging-like reference score (raw stage 0-3; its training logistic recalibration)."""
    from engine.models import LogisticModel

    patients = predictions[predictions["model"] == MODELS[0]].copy()
    stage = np.digitize(
        patients["prob"] + np.random.default_rng(5).normal(scale=0.3, size=len(patients)), [0.3, 0.5, 0.7]
    ).astype(float)
    train = (patients["split"] == "train").to_numpy()
    logistic = LogisticModel().fit(pd.DataFrame({"stage": stage[train]}), patients["label"].to_numpy()[train])
    reference = patients.assign(
        model="Stage (reference)",
        classifier="reference",
        prob=stage,
        recalibrated=logistic.predict_proba(pd.DataFrame({"stage": stage}))[:, 1],
    )
    return pd.concat([predictions, reference], ignore_index=True)


@pytest.fixture(scope="session")
def app_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("store")
    store = RunStore(root)
    predictions = with_reference(predictions_table())
    grid = pd.DataFrame(
        [
            {
                "model": m,
                "classifier": c,
                "cv_auc": 0.7,
                "train_auc": 0.8,
                "internal_auc": 0.72,
                "external_auc": 0.7,
                "params": "{}",
                "chosen": c == "LR",
                "overfit": False,
            }
            for m in MODELS
            for c in ("LR", "SVM")
        ]
    )
    selected = pd.DataFrame(
        [
            {"model": "Rad", "feature": "arterial_tumour_original_glcm_Contrast", "coefficient": 0.8},
            {"model": "Rad", "feature": "(intercept)", "coefficient": -0.4},
        ]
    )
    survival = predictions[predictions["model"].isin(["Rad", "Combined"])].rename(
        columns={"prob": "risk", "rfs_time": "time", "rfs_event": "event"}
    )
    survival = survival.assign(
        endpoint="rfs", method="LASSO-Cox", risk=np.log(survival["risk"] / (1 - survival["risk"]))
    ).drop(columns=["label", "classifier"])
    for horizon in HORIZONS:  # S(h | x) of an exponential model with hazard exp(risk) / 24 per month
        survival[f"survival_at_{horizon:g}"] = np.exp(-horizon / 24 * np.exp(survival["risk"]))
    survival.to_parquet(root / "survival_predictions.parquet", index=False)
    from engine.views.analysis import training_cutoffs

    training_cutoffs(predictions, ["rfs"]).to_csv(root / "risk_cutoffs.csv", index=False)
    from engine.views.performance import learn_cutoffs, performance_table

    performance = performance_table(predictions, learn_cutoffs(predictions))
    performance.to_csv(root / "performance.csv", index=False)
    from engine.views.analysis import regression_tables

    univariable, multivariable, _ = regression_tables(predictions, ["age", "sex", "cirrhosis", "afp"])
    univariable.assign(endpoint="label").to_csv(root / "clinical_univariable.csv", index=False)
    multivariable.assign(endpoint="label", chosen=True, reason="").to_csv(
        root / "clinical_multivariable.csv", index=False
    )
    store.write(
        "testrun0000000001",
        config={"name": "test"},
        predictions=predictions,
        grid=grid,
        selected=selected,
        metrics=pd.DataFrame({"model": MODELS}),
        provenance={
            "name": "App test run",
            "created": "now",
            "patients": 240,
            "models": MODELS,
            "time_unit": "months",
            "horizons": HORIZONS,
        },
        artifacts=[
            root / "survival_predictions.parquet",
            root / "risk_cutoffs.csv",
            root / "performance.csv",
            root / "clinical_univariable.csv",
            root / "clinical_multivariable.csv",
        ],
    )
    (root / "DEMO_RUN").write_text("testrun0000000001")
    return root
