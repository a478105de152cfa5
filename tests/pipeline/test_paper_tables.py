"""The paper's tables from a run: each external centre its own cohort, cutoffs fixed on training, reference scores
as models, every classifier's held-out predictions, clinical OR tables, and clinical selection inside the folds."""

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold, cross_validate

from engine.config import parse_config
from engine.models import LogisticModel
from engine.models.grid import FeatureTable, Selection, model_pipeline, run_grid
from engine.selection.clinical import ClinicalSelector
from engine.stats import auc_ci, select_clinical, threshold_metrics, univariable_table, youden_threshold
from engine.store import RunStore
from engine.pipeline.study import run_study


@pytest.fixture(scope="module")
def centre_run(tmp_path_factory):
    """scikit-learn's breast-cancer features with three centres (B and C external), two clinical columns (one
    noise), and a size group as a staging-like reference score."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :10].copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    rng = np.random.default_rng(0)
    n = len(frame)
    frame.insert(0, "patient_id", [f"P{i}" for i in range(n)])
    frame.insert(1, "label", 1 - data.target)
    frame.insert(2, "center", np.array(["A", "A", "B", "C"])[np.arange(n) % 4])
    frame["age"] = rng.normal(55, 10, n).round()
    frame["texture_grade"] = np.where(data.data["mean texture"] > 20, "high", "low")
    radius = data.data["mean radius"]
    frame["size_group"] = np.where(radius > 15, "large", np.where(radius > 12, "mid", "small"))
    folder = tmp_path_factory.mktemp("centres")
    frame.to_csv(folder / "features.csv", index=False)
    config = parse_config(
        {
            "name": "three centres",
            "cohort": {
                "feature_table": "features.csv",
                "clinical": ["age", "texture_grade"],
                "external_centers": ["B", "C"],
            },
            "grid": {
                "models": {"Clinical": ["clinical"], "Rad": ["radiomics"], "Clinical+Rad": ["clinical", "radiomics"]},
                "classifiers": ["LR", "RF"],
                "n_iter": 1,
                "stacking": False,
                "search": "random",
                "clinical_selection": "multivariable",
            },
            "reference_scores": {"Size": {"column": "size_group", "order": ["small", "mid", "large"]}},
            "device": "cpu",
        }
    )
    store = RunStore(folder / "store")
    return store.load(run_study(config, folder, store)), frame


def test_each_external_centre_is_its_own_cohort(centre_run):
    run, frame = centre_run
    assert set(run.predictions["split"]) == {"train", "internal", "external_B", "external_C"}
    patients = run.predictions.drop_duplicates("patient_id").set_index("patient_id")
    for centre in ("B", "C"):
        ids = frame.loc[frame["center"] == centre, "patient_id"]
        assert (patients.loc[ids, "split"] == f"external_{centre}").all()
    assert {"external_B_auc", "external_C_auc", "internal_auc"} <= set(run.grid.columns)
    performance = run.performance()
    assert list(performance.query("model == 'Rad'")["split"]) == ["train", "internal", "external_B", "external_C"]


def test_cutoffs_are_fixed_on_training_and_applied_unchanged(centre_run):
    run, _ = centre_run
    performance = run.performance()
    for model in ("Rad", "Clinical+Rad", "Size (reference)"):
        rows = performance[performance["model"] == model]
        train = run.predictions.query("model == @model and split == 'train'")  # out-of-fold for the grid's models
        cutoff = youden_threshold(train["label"], train["prob"]).threshold
        assert (rows["cutoff"] == cutoff).all() and (rows["method"] == "youden").all()
        for row in rows.itertuples():
            cohort = run.predictions.query("model == @model and split == @row.split")
            again = threshold_metrics(cohort["label"], cohort["prob"], cutoff)
            for name in ("sensitivity", "specificity", "accuracy", "ppv", "npv", "f1"):
                assert getattr(row, name) == pytest.approx(getattr(again, name), rel=1e-12), (model, row.split, name)
            assert row.sensitivity_ci_low == pytest.approx(again.sensitivity_ci_low, rel=1e-12)
            assert row.auc == pytest.approx(auc_ci(cohort["label"], cohort["prob"]).auc, rel=1e-12)
    # an optimistic cutoff (re-learned on the validation cohort) differs from the fixed one here
    internal = run.predictions.query("model == 'Rad' and split == 'external_C'")
    assert (
        youden_threshold(internal["label"], internal["prob"]).threshold
        != performance.query("model == 'Rad'")["cutoff"].iloc[0]
    )


def test_reference_score_is_a_model_with_its_raw_score(centre_run):
    run, frame = centre_run
    rows = run.predictions.query("model == 'Size (reference)'").set_index("patient_id")
    codes = frame.set_index("patient_id")["size_group"].map({"small": 0, "mid": 1, "large": 2})
    assert (rows["classifier"] == "reference").all()
    np.testing.assert_array_equal(rows["prob"], codes.loc[rows.index])
    for split, cohort in rows.groupby("split"):
        stored = run.metrics.query("model == 'Size (reference)' and split == @split")["auc"].item()
        assert stored == pytest.approx(
            auc_ci(frame.set_index("patient_id").loc[cohort.index, "label"], codes.loc[cohort.index]).auc, rel=1e-12
        )
    train = rows[rows["split"] == "train"]
    logistic = LogisticModel().fit(pd.DataFrame({"size_group": train["prob"]}), train["label"].to_numpy())
    recalibration = run.reference_scores().iloc[0]
    assert recalibration["slope"] == pytest.approx(logistic.coef_[0], rel=1e-9)
    expected = 1 / (1 + np.exp(-(recalibration["intercept"] + recalibration["slope"] * rows["prob"])))
    np.testing.assert_allclose(rows["recalibrated"], expected, rtol=1e-9)  # the same map on every cohort


def test_every_classifier_keeps_its_held_out_predictions(centre_run):
    run, _ = centre_run
    every = run.classifier_predictions()
    assert set(every["split"]) == {"internal", "external_B", "external_C"}
    assert set(every["classifier"]) == {"LR", "RF"}
    chosen = run.grid[run.grid["chosen"]].set_index("model")["classifier"]
    for model in ("Rad", "Clinical+Rad"):
        mine = every[(every["model"] == model) & (every["classifier"] == chosen[model])].set_index("patient_id")["prob"]
        stored = run.predictions.query("model == @model and split != 'train'").set_index("patient_id")["prob"]
        np.testing.assert_allclose(mine.loc[stored.index], stored, rtol=1e-12)
        for classifier in ("LR", "RF"):
            external = every.query("model == @model and classifier == @classifier and split == 'external_B'")
            grid_auc = run.grid.query("model == @model and classifier == @classifier")["external_B_auc"].item()
            assert auc_ci(external["label"], external["prob"]).auc == pytest.approx(grid_auc, rel=1e-12)


def test_clinical_tables_are_the_training_cohorts(centre_run):
    run, frame = centre_run
    univariable, multivariable = run.clinical_tables()
    train_ids = run.predictions.query("split == 'train'")["patient_id"].unique()
    train = frame.set_index("patient_id").loc[train_ids]
    expected = univariable_table(train, ["age", "texture_grade"], outcome="label")
    got = univariable[univariable["endpoint"] == "label"]
    np.testing.assert_allclose(got["ratio"], expected["ratio"], rtol=1e-10)
    assert list(got["term"]) == ["age", "texture_grade=low"]
    chosen = select_clinical(train, ["age", "texture_grade"], outcome="label")
    assert run.provenance["clinical_selection"]["Clinical"] == list(chosen.chosen) == ["texture_grade"]
    assert set(multivariable.loc[multivariable["chosen"], "predictor"]) == {"texture_grade"}


def _clinical_frame(n: int, seed: int, signal: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"noise{k}": rng.normal(size=n) for k in range(6)})
    frame["grade"] = rng.choice(["I", "II", "III"], n)
    frame["strong"] = rng.normal(size=n)
    logit = 1.5 * frame["strong"] if signal else np.zeros(n)
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def test_clinical_selection_is_refitted_inside_each_fold():
    """Each fold's ClinicalSelector equals select_clinical on that fold's training rows only; a noise column enters
    in no more folds than chance (univariable p < 0.05, then multivariable p < 0.05: about 5%)."""
    columns = ["noise0", "noise1", "noise2", "noise3", "noise4", "noise5", "grade", "strong"]
    entered, trials = 0, 0
    for seed in range(4):
        frame = _clinical_frame(200, seed, signal=True)
        pipeline = model_pipeline(
            frame, columns, logistic_classifier(), clinical=ClinicalSelector(columns), selection=Selection(steps=())
        )
        folds = list(StratifiedKFold(5, shuffle=True, random_state=seed).split(frame, frame["label"]))
        fitted = cross_validate(
            pipeline, frame[columns], frame["label"], cv=folds, return_estimator=True, scoring="roc_auc"
        )
        for estimator, (train, _) in zip(fitted["estimator"], folds):
            step = estimator.named_steps["clinical"]
            by_hand = select_clinical(frame.iloc[train], columns, outcome="label")
            assert step.chosen_ == list(by_hand.chosen)
            assert "strong" in step.chosen_
            entered += sum(c.startswith("noise") or c == "grade" for c in step.chosen_)
            trials += 7
        assert fitted["test_score"].mean() > 0.75
    assert entered / trials <= 0.10, f"noise entered {entered} of {trials} fold fits"


def logistic_classifier():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000)


def test_pure_noise_clinical_model_is_chance_not_the_least_bad_predictor():
    """On pure noise the grid's clinical model often chooses nothing in a fold (then it predicts the event rate) and
    scores chance on average over samples, cross-validated and held out; a selection that fell back to the least bad
    predictor, or saw all patients before the folds, would look better than chance."""
    cv_aucs, internal_aucs = [], []
    for seed in range(11, 17):
        frame = _clinical_frame(240, seed, signal=False)
        frame.insert(0, "patient_id", [str(i) for i in range(len(frame))])
        frame.insert(1, "split", np.where(np.arange(len(frame)) < 170, "train", "internal"))
        columns = [c for c in frame if c.startswith("noise") or c in ("grade", "strong")]
        result = run_grid(
            FeatureTable(frame, {"clinical": columns}),
            models={"Clinical": ["clinical"]},
            classifiers=["LR"],
            n_iter=1,
            stacking=False,
            clinical_selection={"method": "multivariable"},
        )
        cv_aucs.append(result.grid["cv_auc"].item())
        internal_aucs.append(result.grid["internal_auc"].item())
    assert abs(np.mean(cv_aucs) - 0.5) < 0.05 and abs(np.mean(internal_aucs) - 0.5) < 0.06, (cv_aucs, internal_aucs)


def test_a_given_split_column_may_name_several_external_cohorts():
    from engine.cohort.manifest import Cohort, assign_splits
    from engine.errors import ValidationError
    from engine.common.predictions import ordered_splits

    table = pd.DataFrame(
        {
            "patient_id": list("abcdef"),
            "label": [0, 1, 0, 1, 0, 1],
            "split": ["train", "train", "internal", "external_Zhongshan", "external_Beijing", "external"],
        }
    )
    kept = assign_splits(Cohort(None, table, (), (), ())).table
    assert ordered_splits(kept) == ["train", "internal", "external", "external_Beijing", "external_Zhongshan"]
    with pytest.raises(ValidationError, match="beginning with external"):
        assign_splits(
            Cohort(None, table.assign(split=["train", "train", "test", "valid", "internal", "internal"]), (), (), ())
        )
    with pytest.raises(ValidationError, match=r"external_centers \['C9'\] match no patient"):
        assign_splits(
            Cohort(None, table.drop(columns="split").assign(center="C1"), (), (), ()), external_centers=["C9"]
        )
