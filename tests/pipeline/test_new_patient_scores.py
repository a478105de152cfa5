"""New patients scored by a stored run (engine.pipeline.new_patients.score_new_patients): each model's call at the
cutoff the run learned on training, and the run's default nomogram for each patient, checked against statsmodels
(a logistic GLM on the same training data: its prediction and Wald interval) and against a cutoff recomputed from
the training predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from engine.config import parse_config
from engine.pipeline.new_patients import score_new_patients
from engine.pipeline.study import run_study
from engine.stats import youden_threshold
from engine.store import RunStore
from tests.system.test_table_checks import BASE_CONFIG, breast_table


def table(n: int = 120) -> pd.DataFrame:
    frame = breast_table(n)
    rng = np.random.default_rng(3)
    frame["cirrhosis"] = (rng.random(n) < 0.4).astype(int)
    for column in [c for c in frame if c.startswith("rad_")]:  # noisier features: no perfect separation
        frame[column] = frame[column] + rng.normal(0, frame[column].std() * 1.5, n)
    return frame


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    table().to_csv(folder / "features.csv", index=False)
    config = {**BASE_CONFIG, "cohort": {**BASE_CONFIG["cohort"], "clinical": ["age", "sex", "cirrhosis"]}}
    store = RunStore(folder / "store")
    run = store.load(run_study(parse_config(config), folder, store))
    new = table(160).iloc[120:].drop(columns=["label", "rfs_time", "rfs_event", "center"])
    new.to_csv(folder / "new.csv", index=False)
    return run, score_new_patients(run, folder / "new.csv"), new.set_index("patient_id")


def test_each_call_is_at_the_cutoff_learned_on_training(scored):
    run, scores, _ = scored
    predictions = scores.predictions
    train = run.predictions[run.predictions["split"] == "train"]
    for model, rows in predictions.groupby("model"):
        own = train[train["model"] == model]
        cutoff = youden_threshold(own["label"], own["prob"]).threshold  # the run's rule (youden) recomputed
        assert rows["cutoff"].unique() == pytest.approx([cutoff])
        assert (rows["label_call"] == np.where(rows["prob"] >= cutoff, "positive", "negative")).all()
    assert set(predictions["label_call"]) == {"positive", "negative"}


def test_the_nomogram_of_each_new_patient_equals_a_logistic_glm_fitted_on_training(scored):
    run, scores, new = scored
    nomogram = scores.nomogram
    assert scores.nomogram_terms == ("cirrhosis", "Rad-score") and len(nomogram) == 40
    assert nomogram["note"].eq("").all()
    assert np.allclose(nomogram["total_points"], nomogram["cirrhosis points"] + nomogram["Rad-score points"])
    assert nomogram[["cirrhosis points", "Rad-score points"]].min().min() >= 0
    assert nomogram[["cirrhosis points", "Rad-score points"]].max().max() <= 100

    def logit(p):
        p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))

    train = run.predictions[(run.predictions["split"] == "train") & (run.predictions["model"] == "Rad")]
    design = sm.add_constant(pd.DataFrame({"cirrhosis": train["cirrhosis"].to_numpy(), "rad": logit(train["prob"])}))
    glm = sm.GLM(train["label"].to_numpy(), design, family=sm.families.Binomial()).fit()
    rad = scores.predictions[scores.predictions["model"] == "Rad"].set_index("patient_id")["prob"]
    patients = nomogram["patient_id"]
    exog = sm.add_constant(
        pd.DataFrame({"cirrhosis": new.loc[patients, "cirrhosis"].to_numpy(), "rad": logit(rad.loc[patients])}),
        has_constant="add",
    )
    expected = glm.get_prediction(exog).summary_frame(alpha=0.05)
    assert np.allclose(nomogram["probability"], expected["mean"], rtol=1e-5, atol=1e-8)
    assert np.allclose(nomogram["ci_low"], expected["mean_ci_lower"], rtol=1e-4, atol=1e-8)
    assert np.allclose(nomogram["ci_high"], expected["mean_ci_upper"], rtol=1e-4, atol=1e-8)
