"""The model grid (no leakage, real public data), the run store and the CLI."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.config import parse_config
from engine.errors import ConfigError, ValidationError
from engine.models.grid import FeatureTable, run_grid
from engine.selection import CorrelationFilter, UnivariateFilter, icc
from engine.stats import auc, auc_ci
from engine.store import RunStore
from engine.pipeline.study import run_study


@pytest.mark.parametrize("smote", [False, True])
def test_pure_noise_gives_chance_auc_held_out(smote):
    """300 noise features, 200 patients: with selection (and SMOTE) inside the folds, CV and held-out AUCs stay
    near 0.5 (selecting or oversampling on all patients first would push the CV AUC far above 0.5)."""
    rng = np.random.default_rng(0)
    n, p = 200, 300
    frame = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"f{i}" for i in range(p)])
    frame.insert(0, "patient_id", [str(i) for i in range(n)])
    frame.insert(1, "split", np.where(np.arange(n) < 140, "train", "internal"))
    frame.insert(2, "label", (rng.random(n) < (0.25 if smote else 0.5)).astype(int))
    result = run_grid(
        FeatureTable(frame, {"radiomics": [f"f{i}" for i in range(p)]}),
        models={"Rad": ["radiomics"]},
        classifiers=["LR"],
        n_iter=2,
        stacking=False,
        smote=smote,
    )
    assert ("smote" in result.pipelines["Rad"].named_steps) == smote
    row = result.grid.iloc[0]
    assert abs(row["cv_auc"] - 0.5) < 0.15
    assert abs(row["internal_auc"] - 0.5) < 0.17
    oof = result.predictions.query("split == 'train'")
    assert abs(auc_ci(oof["label"], oof["prob"]).auc - 0.5) < 0.15


def test_selection_steps_by_hand():
    rng = np.random.default_rng(1)
    signal = rng.normal(size=100)
    y = (signal + rng.normal(scale=0.5, size=100) > 0).astype(int)
    X = np.column_stack([signal, signal * 2 + 0.01 * rng.normal(size=100), rng.normal(size=100)])
    kept = CorrelationFilter(0.8).fit(X, y).support_
    assert kept.sum() == 2 and kept[2]
    univariate = UnivariateFilter(0.05).fit(X, y)
    assert univariate.support_[0] and univariate.support_[1] and univariate.p_values_[0] < 1e-6


def test_icc_against_hand_computation():
    """ICC(2,1) and ICC(3,1) from the two-way ANOVA of a 5 x 2 table (Shrout & Fleiss 1979)."""
    a = pd.DataFrame({"x": [9.0, 6, 8, 7, 10]})
    b = pd.DataFrame({"x": [10.0, 5, 8, 6, 9]})
    data = np.column_stack([a["x"], b["x"]])
    n, k = data.shape
    grand = data.mean()
    msr = k * ((data.mean(axis=1) - grand) ** 2).sum() / (n - 1)
    msc = n * ((data.mean(axis=0) - grand) ** 2).sum() / (k - 1)
    mse = (((data - data.mean(axis=1, keepdims=True) - data.mean(axis=0) + grand) ** 2).sum()) / ((n - 1) * (k - 1))
    assert icc(a, b, "2,1")["x"] == pytest.approx((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))
    assert icc(a, b, "3,1")["x"] == pytest.approx((msr - mse) / (msr + (k - 1) * mse))
    assert icc(a, a, "2,1")["x"] == pytest.approx(1.0)


def _signal_table(n: int = 160, p: int = 40, seed: int = 2) -> FeatureTable:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, p))
    label = (values[:, 0] + values[:, 1] + rng.normal(scale=1.0, size=n) > 0).astype(int)
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(p)])
    frame.insert(0, "patient_id", [str(i) for i in range(n)])
    frame.insert(1, "split", np.where(np.arange(n) < 110, "train", "internal"))
    frame.insert(2, "label", label)
    return FeatureTable(frame, {"radiomics": [f"f{i}" for i in range(p)]})


def test_refined_search_space_brackets_the_best_candidate():
    from scipy.stats import loguniform, randint

    from engine.models.grid import refined_space

    space = {"C": loguniform(1e-3, 1e2), "depth": randint(2, 6), "kind": ["a", "b"]}
    assert refined_space(space, {"C": 0.5, "depth": 3, "kind": "b"}) == {
        "C": [0.25, 0.5, 1.0],
        "depth": [2, 3, 4],
        "kind": ["b"],
    }
    assert refined_space(space, {"C": 80.0, "depth": 5, "kind": "a"}) == {
        "C": [40.0, 80.0, 100.0],
        "depth": [4, 5],
        "kind": ["a"],
    }


def test_refined_search_never_scores_below_the_random_search():
    table = _signal_table()
    random = run_grid(
        table, models={"Rad": ["radiomics"]}, classifiers=["SVM"], n_iter=3, stacking=False, search="random"
    )
    refined = run_grid(
        table, models={"Rad": ["radiomics"]}, classifiers=["SVM"], n_iter=3, stacking=False, search="refined"
    )
    assert refined.grid.iloc[0]["cv_auc"] >= random.grid.iloc[0]["cv_auc"]
    assert refined.grid.iloc[0]["search"] in {"random", "refined"} and random.grid.iloc[0]["search"] == "random"


def test_repeated_cv_and_rfe_selection_from_the_settings():
    """repeats=3: the tuning CV has 3 x 5 splits (the SD is over them); RFE alone keeps exactly rfe_features
    columns and records no coefficients; the true signal columns survive."""
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

    from engine.models.grid import Selection

    table = _signal_table()
    result = run_grid(
        table,
        models={"Rad": ["radiomics"]},
        classifiers=["LR"],
        n_iter=1,
        stacking=False,
        repeats=3,
        selection=Selection(steps=("variance", "rfe"), rfe_features=4),
    )
    pipeline = result.pipelines["Rad"]
    assert [s for s in pipeline.named_steps] == ["prepare", "variance", "rfe", "classifier"]
    selected = result.selected
    assert len(selected) == 4 and selected["coefficient"].isna().all() and {"f0", "f1"} <= set(selected["feature"])
    frame = table.frame
    train = frame[frame["split"] == "train"]
    scores = cross_val_score(
        pipeline,
        train[table.families["radiomics"]],
        train["label"],
        scoring="roc_auc",
        cv=RepeatedStratifiedKFold(n_splits=5, n_repeats=3, random_state=0),
    )
    row = result.grid.iloc[0]
    assert row["cv_auc"] == pytest.approx(scores.mean()) and row["cv_auc_sd"] == pytest.approx(scores.std())


def test_unknown_selection_steps_and_search_are_config_errors():
    with pytest.raises(ConfigError) as info:
        parse_config(
            {
                "cohort": {"feature_table": "t.csv"},
                "grid": {
                    "selection": {"steps": ["lasso", "pca"]},
                    "search": "optuna",
                    "survival_methods": ["DeepSurv"],
                },
            }
        )
    message = str(info.value)
    assert "pca" in message and "search" in message and "DeepSurv" in message


@pytest.fixture(scope="module")
def breast_study(tmp_path_factory):
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    frame.insert(0, "patient_id", [f"P{i}" for i in range(len(frame))])
    frame.insert(1, "label", 1 - data.target)  # 1 = malignant
    folder = tmp_path_factory.mktemp("breast")
    frame.to_csv(folder / "features.csv", index=False)
    config = parse_config(
        {
            "name": "breast cancer (sklearn)",
            "cohort": {"feature_table": "features.csv"},
            "grid": {
                "models": {"Rad": ["radiomics"]},
                "classifiers": ["LR", "SVM"],
                "n_iter": 2,
                "stacking": False,
                "search": "random",
            },
            "device": "cpu",
        }
    )
    store = RunStore(folder / "store")
    return config, folder, store


def test_feature_table_study_on_real_data(breast_study):
    """scikit-learn's breast-cancer data (features computed from images): held-out AUC >= 0.95, and the stored
    metrics agree with engine.stats recomputed from the stored predictions."""
    config, folder, store = breast_study
    run_id = run_study(config, folder, store)
    run = store.load(run_id)
    internal = run.predictions.query("split == 'internal' and model == 'Rad'")
    recomputed = auc_ci(internal["label"], internal["prob"])
    assert recomputed.auc >= 0.95
    stored = run.metrics.query("split == 'internal' and model == 'Rad'").iloc[0]
    assert stored["auc"] == pytest.approx(recomputed.auc, rel=1e-12)
    assert stored["auc_ci_low"] == pytest.approx(recomputed.ci_low, rel=1e-12)
    assert set(run.predictions["split"]) == {"train", "internal"}
    assert run.grid["chosen"].sum() == 1 and not run.selected.empty
    pipeline = run.pipeline("Rad")
    features = pd.read_csv(folder / "features.csv").drop(columns=["patient_id", "label"])
    assert pipeline.predict_proba(features.iloc[:5])[:, 1].shape == (5,)


def test_same_config_is_served_from_the_store(breast_study):
    config, folder, store = breast_study
    first = run_study(config, folder, store)
    calls = []
    second = run_study(config, folder, store, progress=lambda stage, done, total: calls.append(stage))
    assert first == second and calls == ["served from the store"]
    changed = config.model_copy(update={"seed": 1})
    assert run_study(changed, folder, store) != first
    assert len(store.list()) == 2
    store.remove(first)
    assert first not in set(store.list()["run_id"])
    with pytest.raises(ValidationError, match="not in the store"):
        store.load(first)


def test_config_errors_list_every_problem():
    with pytest.raises(ConfigError) as info:
        parse_config({"cohort": {}, "grid": {"classifiers": ["LR", "Magic"]}, "seeed": 1})
    message = str(info.value)
    assert "exactly one of cohort.manifest" in message and "Magic" in message and "seeed" in message


def test_cli_synth_train_and_runs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["cohort", "synth", "--out", str(tmp_path / "c"), "--n", "12", "--centers", "2"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "c" / "manifest.csv").exists()
    result = runner.invoke(app, ["runs", "list", "--store", str(tmp_path / "store")])
    assert result.exit_code == 0 and "no runs" in result.output
    result = runner.invoke(app, ["runs", "show", "nope", "--store", str(tmp_path / "store")])
    assert result.exit_code == 2 and "not in the store" in result.output
    (tmp_path / "bad.yaml").write_text("cohort: {manifest: c/manifest.csv}\ngrid: {classifiers: [Magic]}\n")
    result = runner.invoke(app, ["train", "--config", str(tmp_path / "bad.yaml"), "--store", str(tmp_path / "store")])
    assert result.exit_code == 2 and "Magic" in result.output


@pytest.mark.parametrize("name", ["LR", "SVM", "RF", "KNN", "DT", "MLP", "AdaBoost", "GBDT", "XGBoost", "LightGBM"])
def test_every_classifier_tunes_inside_the_pipeline(name):
    """Each classifier of the grid fits, is tuned by randomised search and finds a real signal held out."""
    from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold

    from engine.models.grid import classifier_space, model_pipeline, with_probabilities

    rng = np.random.default_rng(2)
    n = 160
    frame = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    y = (frame["x0"] + 0.8 * frame["x1"] + rng.normal(scale=0.8, size=n) > 0).astype(int).to_numpy()
    estimator, space = classifier_space(name, seed=0)
    search = RandomizedSearchCV(
        model_pipeline(frame, list(frame.columns), estimator),
        {f"classifier__{k}": v for k, v in space.items()},
        n_iter=2,
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
        scoring="roc_auc",
        random_state=0,
    )
    search.fit(frame.iloc[:110], y[:110])
    chosen = with_probabilities(search.best_estimator_, frame.iloc[:110], y[:110])  # as the grid's cells do
    assert auc(y[110:], chosen.predict_proba(frame.iloc[110:])[:, 1]) > 0.75


def test_log_transform_of_clinical_columns():
    from engine.common.transforms import log_transform

    table = pd.DataFrame({"patient_id": ["a", "b", "c"], "afp": [10.0, 1000.0, None], "age": [50, 60, 70]})
    out, clinical = log_transform(table, ["afp"], ["age", "afp"])
    assert list(out.columns) == ["patient_id", "log10_afp", "age"] and clinical == ["age", "log10_afp"]
    np.testing.assert_array_equal(out["log10_afp"].to_numpy()[:2], [1.0, 3.0])
    assert np.isnan(out["log10_afp"].iloc[2])
    bad = table.assign(afp=[0.0, -1.0, 5.0])
    with pytest.raises(ValidationError, match="afp: needs positive numbers; patients a, b") as info:
        log_transform(bad, ["afp", "ggt"])
    assert "ggt: not a column" in str(info.value)


def test_svm_probabilities_are_platt_scaling_of_the_chosen_candidate():
    """The grid's SVM uses no deprecated API (SVC(probability=True) warns from scikit-learn 1.9): the search ranks
    candidates by the decision function, and the chosen one gets probabilities from a sigmoid of it fitted on
    cross-validated decisions: probabilities in (0, 1) that rank the patients exactly as the decision does."""
    import warnings

    from sklearn.datasets import load_breast_cancer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from engine.models.grid import classifier_space, with_probabilities

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    svm, _ = classifier_space("SVM", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        chosen = Pipeline([("scale", StandardScaler()), ("classifier", svm)]).fit(X[:300], y[:300])
        scored = with_probabilities(chosen, X[:300], y[:300])
    decision = chosen.decision_function(X[300:])
    probability = scored.predict_proba(X[300:])[:, 1]
    assert ((probability > 0) & (probability < 1)).all()
    assert (np.diff(probability[np.argsort(decision)]) >= -1e-12).all()  # the same order as the decision
    assert auc(y[300:], probability) == pytest.approx(auc(y[300:], decision), abs=1e-12)
    lr = Pipeline([("classifier", classifier_space("LR")[0])]).fit(X[:300], y[:300])
    assert with_probabilities(lr, X[:300], y[:300]) is lr  # a classifier with probabilities is left as it is
