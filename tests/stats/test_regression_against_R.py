"""Univariable and multivariable OR / HR tables against R glm (binomial) and survival::coxph (Efron) on
survival::pbc with numeric predictors, factors (sorted levels; a Categorical's own order) and missing values
(tests/reference/regression.R)."""

import numpy as np
import pandas as pd
import pytest

from engine.errors import ValidationError
from engine.stats import backward_aic, multivariable_table, select_clinical, univariable_table
from tests.reference import dataset, reference

RTOL = 1e-6
PREDICTORS = ["age", "sex", "edema", "stage", "albumin", "log_bili", "hepato"]
OPTIONS = {"logistic": {"outcome": "dead_5y"}, "cox": {"time": "time", "event": "event"}}


def pbc(*, merge_stages: bool = True) -> pd.DataFrame:
    data = dataset("pbc").copy()
    data["sex"] = data["sex"].astype(str)
    data["edema"] = data["edema"].map(lambda v: f"{v:g}").astype(object)  # "0", "0.5", "1" as R's factor levels
    if merge_stages:  # as regression.R: stages 1 and 2 merged, levels in the order 4, 3, 1-2
        stage = data["stage"].map(lambda v: ("1-2" if v <= 2 else f"{v:g}") if np.isfinite(v) else None)
        data["stage"] = pd.Categorical(stage, categories=["4", "3", "1-2"])
    else:
        stage = data["stage"].map(lambda v: f"{v:g}" if np.isfinite(v) else None)
        data["stage"] = pd.Categorical(stage, categories=["4", "3", "2", "1"])
    return data


def ref(ds: str, stat: str) -> float:
    return reference("regression")[(ds, stat)]


def check(table: pd.DataFrame, ds: str) -> None:
    expected_terms = {
        stat.split("|")[0] for (name, stat) in reference("regression") if name == ds and stat.endswith("|ratio")
    }
    assert set(table["term"]) == expected_terms
    for row in table.itertuples():
        for column in ("ratio", "ci_low", "ci_high", "p_value"):
            assert getattr(row, column) == pytest.approx(ref(ds, f"{row.term}|{column}"), rel=RTOL), (row.term, column)


@pytest.mark.parametrize("kind", ["logistic", "cox"])
def test_univariable_table_against_R(kind):
    """R: summary(glm(dead_5y ~ x, binomial)) / summary(coxph(Surv(time, event) ~ x)) per predictor, NAs omitted."""
    table = univariable_table(pbc(), PREDICTORS, **OPTIONS[kind])
    check(table, f"uni_{kind}")
    for predictor, rows in table.groupby("predictor"):
        assert rows["n"].iloc[0] == ref(f"uni_{kind}", f"{predictor}|n")
        assert rows["events"].iloc[0] == ref(f"uni_{kind}", f"{predictor}|events")
    assert table["measure"].unique().tolist() == ["OR" if kind == "logistic" else "HR"]
    stage_terms = table.loc[table["predictor"] == "stage", "term"].tolist()
    assert stage_terms == ["stage=3", "stage=1-2"]  # the Categorical's order, "4" the reference
    assert set(table.loc[table["predictor"] == "stage", "reference"]) == {"4"}


def test_a_level_with_one_event_is_computed_and_flagged_and_one_with_none_refused():
    """Unmerged stages: one 5-year death among 21 stage-1 patients (R: OR 0.051); none in the complete cases, where
    R's glm prints OR 7e-12 and the engine names the level instead."""
    data = pbc(merge_stages=False)
    table = univariable_table(data, ["stage"], outcome="dead_5y").set_index("term")
    assert table.loc["stage=1", "ratio"] == pytest.approx(ref("uni_logistic_stage4", "stage4=1|ratio"), rel=RTOL)
    assert "1 event(s) at stage=1: unstable" in table.loc["stage=1", "note"]
    with pytest.raises(ValidationError, match="'stage' cannot enter.*level '1' has no events"):
        multivariable_table(data, PREDICTORS, outcome="dead_5y")


@pytest.mark.parametrize("kind", ["logistic", "cox"])
def test_multivariable_table_against_R(kind):
    """R: summary(glm(dead_5y ~ age + sex + edema + stage + albumin + log_bili + hepato, binomial)) and coxph."""
    table = multivariable_table(pbc(), PREDICTORS, **OPTIONS[kind])
    check(table, f"multi_{kind}")
    assert (table["n"] == ref(f"multi_{kind}", "all|n")).all()
    assert (table["events"] == ref(f"multi_{kind}", "all|events")).all()


@pytest.mark.parametrize("kind", ["logistic", "cox"])
def test_backward_aic_against_R(kind):
    """R: step(full model, direction = "backward") on the complete cases."""
    kept = backward_aic(pbc().dropna(subset=PREDICTORS), PREDICTORS, **OPTIONS[kind])
    assert kept == [p for p in PREDICTORS if ref(f"backward_aic_{kind}", f"{p}|kept") == 1]


def test_backward_aic_drops_noise_and_keeps_signal():
    rng = np.random.default_rng(3)
    n = 400
    data = pd.DataFrame({"signal": rng.normal(size=n), **{f"noise{k}": rng.normal(size=n) for k in range(4)}})
    data["y"] = (rng.random(n) < 1 / (1 + np.exp(-1.5 * data["signal"]))).astype(int)
    kept = backward_aic(data, ["signal", *[f"noise{k}" for k in range(4)]], outcome="y")
    assert "signal" in kept and len(kept) <= 3


def test_constant_and_separating_predictors_are_flagged_not_infinite():
    rng = np.random.default_rng(0)
    n = 80
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    data = pd.DataFrame(
        {
            "y": y,
            "age": rng.normal(60, 10, n),
            "constant": 1.0,
            "separator": y + rng.random(n) * 0.5,
            "grade": np.where(y == 1, rng.choice(["II", "III"], n), rng.choice(["I", "II"], n)),
        }
    )
    table = univariable_table(data, ["age", "constant", "separator", "grade"], outcome="y").set_index("predictor")
    assert np.isfinite(table.loc["age", "ratio"])
    assert np.isnan(table.loc["constant", "ratio"]) and "constant" in table.loc["constant", "note"]
    assert np.isnan(table.loc["separator", "ratio"]) and "infinite" in table.loc["separator", "note"]
    assert np.isnan(table.loc["grade", "ratio"]) and "level 'I' has no events" in table.loc["grade", "note"]
    with pytest.raises(ValidationError, match="'separator' cannot enter the multivariable model"):
        multivariable_table(data, ["age", "separator"], outcome="y")


def test_separation_by_a_combination_raises_a_clear_error():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=60), rng.normal(size=60)
    data = pd.DataFrame({"a": a, "b": b, "y": (a + b > 0).astype(int)})  # neither alone separates; together they do
    with pytest.raises(ValidationError, match="separated"):
        multivariable_table(data, ["a", "b"], outcome="y")


def test_bad_arguments_name_the_fix():
    data = pbc()
    with pytest.raises(ValidationError, match="outcome="):
        univariable_table(data, ["age"])
    with pytest.raises(ValidationError, match="not columns of data"):
        univariable_table(data, ["nope"], outcome="dead_5y")
    with pytest.raises(ValidationError, match="not both"):
        univariable_table(data, ["age"], outcome="dead_5y", time="time", event="event")


def test_select_clinical_multivariable_rule():
    data = pbc().dropna(subset=PREDICTORS)
    chosen = select_clinical(data, PREDICTORS, method="multivariable", outcome="dead_5y")
    uni = chosen.univariable.groupby("predictor")["p_value"].min()
    entered = [p for p in PREDICTORS if uni[p] < 0.05]
    assert sorted(chosen.multivariable["predictor"].unique()) == sorted(entered)
    stays = chosen.multivariable.groupby("predictor")["p_value"].min()
    assert list(chosen.chosen) == [p for p in entered if stays[p] < 0.05]


def test_unseen_level_raises_or_scores_as_the_reference():
    """A level missing from a training fold (a rare stage): CoxModel raises by default; the survival grid's
    handle_unknown="ignore" scores it as the reference level, as OneHotEncoder(handle_unknown="ignore") does."""
    from engine.models import CoxModel

    data = pbc().dropna(subset=["stage"])
    train = data[data["stage"] != "1-2"].copy()
    train["stage"] = train["stage"].astype(str)
    y = train[["time", "event"]]
    new = pd.DataFrame({"stage": ["4", "3", "1-2"]})
    with pytest.raises(ValidationError, match=r"levels \['1-2'\] unseen in training"):
        CoxModel().fit(train[["stage"]], y).predict(new)
    ignored = CoxModel(handle_unknown="ignore").fit(train[["stage"]], y).predict(new)
    assert ignored[2] == ignored[1] == 0.0 and ignored[0] != 0.0  # reference "3" (sorted), unseen "1-2" likewise
