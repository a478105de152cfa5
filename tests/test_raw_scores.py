"""Uploaded raw risk scores (a Cox linear predictor, points, a stage): kept as models, marked, used as they are for
ROC/AUC, recalibrated on the training cohort for the probability statistics, refused with the fix without one."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from engine.views import analysis
from engine.errors import ValidationError
from engine.models.reference import RAW_SCORE, without_probabilities
from engine.stats import auc_ci
from engine.views.uploads import read_predictions, upload_roles


def _upload(n: int = 200, seed: int = 1, splits=("train", "internal")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    label = (rng.random(n) < 1 / (1 + np.exp(-1.5 * latent))).astype(int)
    return pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "split": np.where(np.arange(n) % 2 == 0, *splits) if len(splits) == 2 else splits[0],
            "label": label,
            "Rad": np.round(1 / (1 + np.exp(-(latent + rng.normal(size=n)))), 4),
            "Cox LP (score)": np.round(0.8 * latent + rng.normal(scale=0.5, size=n), 4),
            "nomogram_points": np.round(100 + 30 * latent + rng.normal(scale=20, size=n), 1),
            "stage": np.digitize(latent, [-0.5, 0.5, 1.2]),
            "age": np.round(rng.normal(58, 9, n)),
        }
    )


def _read(table: pd.DataFrame, **kwargs) -> pd.DataFrame:
    return read_predictions(table.to_csv(index=False).encode(), "scores.csv", **kwargs)


def test_roles_of_every_column_are_listed():
    long = _read(_upload(), score_columns=["stage"])
    roles = upload_roles(long)
    assert roles["probability models"] == ["Rad"]
    assert roles["raw risk scores, recalibrated on the training cohort"] == ["Cox LP (score)", "stage"]
    assert roles["outcomes"] == ["label"] and roles["cohorts (split)"] == ["train", "internal"]
    assert set(roles["cohort columns"]) == {"nomogram_points", "age"}  # numeric, not probabilities: not silently models
    assert set(long.loc[long["model"] == "stage", "classifier"]) == {RAW_SCORE}
    assert set(long.loc[long["model"] == "Rad", "classifier"]) == {""}


def test_raw_score_auc_is_the_score_itself_and_recalibration_is_the_training_logistic():
    table = _upload()
    long = _read(table)
    rows = long[long["model"] == "Cox LP (score)"]
    internal = rows[rows["split"] == "internal"]
    assert internal["prob"].to_numpy() == pytest.approx(table.loc[table["split"] == "internal", "Cox LP (score)"])
    metrics = analysis.model_metrics(long, "internal", ["Cox LP (score)"]).iloc[0]
    assert metrics["auc"] == pytest.approx(auc_ci(internal["label"], internal["prob"]).auc, rel=1e-12)
    train = table[table["split"] == "train"]
    oracle = LogisticRegression(C=np.inf, tol=1e-10, max_iter=1000).fit(train[["Cox LP (score)"]], train["label"])
    expected = oracle.predict_proba(table[["Cox LP (score)"]])[:, 1]
    assert rows["recalibrated"].to_numpy() == pytest.approx(expected, abs=1e-6)
    curves, stats, _ = analysis.calibration(long, "internal", ["Cox LP (score)", "Rad"])
    assert stats.set_index("model").loc["Cox LP (score)", "brier"] == pytest.approx(
        np.mean((internal["label"].to_numpy() - expected[table["split"].eq("internal").to_numpy()]) ** 2), rel=1e-9
    )


def test_a_probability_like_column_with_values_outside_0_1_becomes_a_marked_raw_score():
    table = _upload()
    table.loc[3, "Rad"] = 1.7
    long = _read(table)
    assert set(long.loc[long["model"] == "Rad", "classifier"]) == {RAW_SCORE}
    assert "Rad" in upload_roles(long)["raw risk scores, recalibrated on the training cohort"]


def test_without_a_training_cohort_the_probability_statistics_say_what_they_need():
    long = _read(_upload(splits=("internal",)))
    refused = without_probabilities(long)
    assert list(refused) == ["Cox LP (score)"] and "train split with labels" in refused["Cox LP (score)"]
    assert upload_roles(long)["raw risk scores, not recalibrated (no training cohort with both classes)"] == [
        "Cox LP (score)"
    ]
    for call in (
        lambda: analysis.calibration(long, "internal", ["Rad", "Cox LP (score)"]),
        lambda: analysis.decision_curves(long, "internal", ["Cox LP (score)"], np.array([0.1, 0.2])),
        lambda: analysis.reclassification(long, "internal", "Rad", "Cox LP (score)", None),
    ):
        with pytest.raises(ValidationError, match=r"Cox LP \(score\) is a raw risk score .*need probabilities"):
            call()
    assert analysis.model_metrics(long, "internal", ["Cox LP (score)"]).iloc[0]["auc"] > 0.6  # ROC takes it as is
    _, stats, _ = analysis.calibration(long, "internal", ["Rad"])  # the probability model is unaffected
    assert len(stats) == 1


def test_unknown_score_column_is_a_clear_error():
    with pytest.raises(ValidationError, match=r"score_columns \['grade'\] are not cohort columns"):
        _read(_upload(), score_columns=["grade"])
