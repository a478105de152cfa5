"""SHAP explanations (engine.views.explain) of fitted model pipelines, against what SHAP values must be."""

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import SVC

from engine.errors import ValidationError
from engine.views.explain import explain_pipeline, family_contributions, family_shares, importance
from engine.models.grid import Selection, model_pipeline
from xgboost import XGBClassifier

CLINICAL = ["age", "afp", "sex"]


def fused_frame(n: int = 160, seed: int = 1) -> pd.DataFrame:
    """Clinical (one categorical), radiomics-like and deep-like columns; the outcome depends on one of each."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "split": np.where(np.arange(n) < 110, "train", np.where(np.arange(n) < 135, "internal", "external_C3")),
            "age": rng.normal(56, 10, n),
            "afp": rng.normal(2, 1, n),
            "sex": np.where(rng.random(n) < 0.7, "M", "F"),
            "arterial_tumour_firstorder_Mean": rng.normal(size=n),
            "portal_ring5_glcm_Contrast": rng.normal(size=n),
            "dl_000": rng.normal(size=n),
            "dl_001": rng.normal(size=n),
        }
    )
    frame.loc[3, "afp"] = np.nan  # imputed by the pipeline
    latent = 0.05 * (frame["age"] - 56) + frame["arterial_tumour_firstorder_Mean"] + frame["dl_000"]
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-latent))).astype(int)
    return frame


COLUMNS = [*CLINICAL, "arterial_tumour_firstorder_Mean", "portal_ring5_glcm_Contrast", "dl_000", "dl_001"]


def fitted(frame: pd.DataFrame, classifier) -> object:
    train = frame[frame["split"] == "train"]
    pipeline = model_pipeline(frame, COLUMNS, classifier, selection=Selection(steps=["variance"]))
    return pipeline.fit(train[COLUMNS], train["label"])


def test_linear_shap_is_coefficient_times_distance_from_the_training_mean():
    frame = fused_frame()
    pipeline = fitted(frame, LogisticRegression(C=0.7, max_iter=5000))
    explanation = explain_pipeline(pipeline, frame, model="Combined", clinical=CLINICAL)
    transformed = pipeline[:-1].transform(frame[COLUMNS])
    training_mean = transformed[(frame["split"] == "train").to_numpy()].mean(axis=0)
    coefficients = pipeline.named_steps["classifier"].coef_.ravel()
    np.testing.assert_allclose(explanation.values, coefficients * (transformed - training_mean), atol=1e-10)
    np.testing.assert_allclose(explanation.output(), pipeline.decision_function(frame[COLUMNS]), atol=1e-10)
    assert explanation.scale == "log-odds" and "LinearExplainer" in explanation.method
    assert explanation.features == ["age", "afp", *COLUMNS[3:], "sex_M"]  # one-hot level of a clinical column
    families = dict(zip(explanation.features, explanation.families))
    assert families["age"] == "clinical" and families["sex_M"] == "clinical"
    assert families["arterial_tumour_firstorder_Mean"] == "radiomics" and families["dl_001"] == "deep"


@pytest.mark.parametrize(
    "classifier, scale",
    [
        (RandomForestClassifier(n_estimators=40, max_depth=3, random_state=0), "probability"),
        (XGBClassifier(n_estimators=30, max_depth=2, n_jobs=1, verbosity=0), "log-odds"),
        (SVC(probability=True, random_state=0), "probability"),
    ],
    ids=["tree, probability", "boosted trees, log-odds", "model-agnostic"],
)
def test_family_contributions_add_up_to_the_model_output(classifier, scale):
    frame = fused_frame()
    pipeline = fitted(frame, classifier)
    explanation = explain_pipeline(pipeline, frame, model="Combined", clinical=CLINICAL)
    probability = pipeline.predict_proba(frame[COLUMNS])[:, 1]
    expected = probability if scale == "probability" else np.log(probability / (1 - probability))
    assert explanation.scale == scale
    np.testing.assert_allclose(explanation.output(), expected, atol=1e-5)
    contributions = family_contributions(explanation)
    assert list(contributions.columns[2:]) == ["clinical", "radiomics", "deep"]
    np.testing.assert_allclose(
        contributions[["clinical", "radiomics", "deep"]].sum(axis=1), expected - explanation.base_value, atol=1e-5
    )
    shares = family_shares(explanation)
    assert shares["share"].sum() == pytest.approx(1.0)
    assert shares.set_index("family").loc["clinical", "share"] < 0.8  # the outcome depends on all three families


def test_model_agnostic_background_is_training_only_and_bounded():
    frame = fused_frame()
    pipeline = fitted(frame, SVC(probability=True, random_state=0))
    explanation = explain_pipeline(pipeline, frame, model="Combined", clinical=CLINICAL)
    assert "background of 50 training patients" in explanation.method
    training = pipeline.predict_proba(frame.loc[frame["split"] == "train", COLUMNS])[:, 1]
    # the base value is the mean output over a sample of training patients: within the training range
    assert training.min() <= explanation.base_value <= training.max()
    # every cohort is explained (outcomes are not used), the global view defaults to training
    assert set(explanation.split) == {"train", "internal", "external_C3"}
    top = importance(explanation)
    assert len(top) == len(explanation.features) and top["mean_abs_shap"].is_monotonic_decreasing


def test_bad_inputs_name_the_rule():
    frame = fused_frame()
    pipeline = fitted(frame, LogisticRegression())
    with pytest.raises(ValidationError, match="split column with training patients"):
        explain_pipeline(pipeline, frame.assign(split="internal"), model="Combined")
    with pytest.raises(ValidationError, match="lacks columns"):
        explain_pipeline(pipeline, frame.drop(columns=["dl_001"]), model="Combined")
    explanation = explain_pipeline(pipeline, frame, model="Combined", clinical=CLINICAL)
    with pytest.raises(ValidationError, match="split must be one of"):
        importance(explanation, "external_C9")


def test_waterfall_runs_from_the_base_value_to_the_patients_output():
    from engine.plots.explanations import waterfall_figure

    frame = fused_frame()
    explanation = explain_pipeline(fitted(frame, LogisticRegression()), frame, model="Combined", clinical=CLINICAL)
    bars = waterfall_figure(explanation, "P120", top=3).data[0]
    row = list(explanation.patient_id).index("P120")
    assert len(bars.y) == 4 and bars.y[-1] == "4 other features"
    assert bars.base[0] == pytest.approx(explanation.base_value)
    assert bars.base[-1] + bars.x[-1] == pytest.approx(explanation.output()[row])
    assert abs(bars.x[0]) == pytest.approx(np.abs(explanation.values[row]).max())
    with pytest.raises(ValidationError, match="not among the explained patients"):
        waterfall_figure(explanation, "P999")
