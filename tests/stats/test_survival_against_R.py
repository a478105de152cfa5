"""Survival statistics against R: survival (survfit, survdiff, coxph, concordance), riskRegression::Score,
maxstat / survminer, on survival::lung and a made-up dataset with many tied times (survival_stats.R)."""

import numpy as np
import pandas as pd
import pytest

from engine.stats import (
    concordance_index,
    hazard_ratio,
    kaplan_meier,
    logrank_test,
    risk_cutoff,
    time_dependent_auc,
)
from tests.reference import HERE, dataset, reference

DATASETS = ["lung", "survival_ties"]
TD_TIMES = {"lung": [180, 365, 540], "survival_ties": [12, 24, 36]}
RTOL = 1e-6


def ref(ds, stat):
    return reference("survival_stats")[(ds, stat)]


def data(ds):
    d = dataset(ds).copy()
    if ds == "survival_ties":
        d["ecog"] = d["grade"]
    return d


@pytest.mark.parametrize("ds", DATASETS)
@pytest.mark.parametrize("conf_type", ["log", "log-log", "plain"])
def test_kaplan_meier_against_R(ds, conf_type):
    """R: summary(survfit(Surv(time, event) ~ 1, conf.type=conf_type), censored=TRUE) and (times=...)."""
    d = data(ds)
    km = pd.read_csv(HERE / "km.csv", skipinitialspace=True, float_precision="round_trip")
    km = km[(km.dataset == ds) & (km.conf_type == conf_type)]
    full, at_times = km[km.kind == "all"], km[km.kind == "times"]
    ours = kaplan_meier(d["time"], d["event"], conf_type=conf_type)
    assert len(ours) == len(full)
    np.testing.assert_allclose(ours["time"], full["time"], rtol=RTOL)
    np.testing.assert_array_equal(ours["at_risk"], full["at_risk"])
    np.testing.assert_array_equal(ours["events"], full["events"])
    for column in ("survival", "std_err", "ci_low", "ci_high"):
        np.testing.assert_allclose(ours[column], full[column], rtol=RTOL, atol=1e-12)
    ours = kaplan_meier(d["time"], d["event"], times=at_times["time"], conf_type=conf_type)
    np.testing.assert_array_equal(ours["at_risk"], at_times["at_risk"])
    np.testing.assert_array_equal(ours["events"], at_times["events"])
    for column in ("survival", "ci_low", "ci_high"):
        np.testing.assert_allclose(ours[column], at_times[column], rtol=RTOL)


@pytest.mark.parametrize("ds", DATASETS)
def test_logrank_against_R(ds):
    """R: survdiff(Surv(time, event) ~ sex) and ~ ecog (3 or 4 groups)."""
    d = data(ds)
    two = logrank_test(d["time"], d["event"], d["sex"])
    assert two.statistic == pytest.approx(ref(ds, "logrank_sex_chisq"), rel=RTOL)
    assert two.p_value == pytest.approx(ref(ds, "logrank_sex_p"), rel=RTOL)
    k = logrank_test(d["time"], d["event"], d["ecog"])
    assert k.statistic == pytest.approx(ref(ds, "logrank_ecog_chisq"), rel=RTOL)
    assert k.dof == ref(ds, "logrank_ecog_df")
    assert k.p_value == pytest.approx(ref(ds, "logrank_ecog_p"), rel=RTOL)
    expected = [ref(ds, f"logrank_ecog_expected_{g + 1}") for g in range(k.dof + 1)]
    np.testing.assert_allclose(k.table["expected"], expected, rtol=RTOL)
    assert k.table["observed"].sum() == d["event"].sum()


@pytest.mark.parametrize("ds", DATASETS)
def test_hazard_ratio_against_R(ds):
    """R: summary(coxph(Surv(time, event) ~ factor(sex, levels=c("F", "M")))) (Efron, Wald p)."""
    d = data(ds)
    result = hazard_ratio(d["time"], d["event"], d["sex"], reference="F")
    assert result.group_level == "M"
    assert result.hr == pytest.approx(ref(ds, "hr_sex_M"), rel=1e-6)
    assert result.ci_low == pytest.approx(ref(ds, "hr_sex_M_low"), rel=1e-6)
    assert result.ci_high == pytest.approx(ref(ds, "hr_sex_M_high"), rel=1e-6)
    assert result.p_value == pytest.approx(ref(ds, "hr_sex_M_p"), rel=1e-6)


@pytest.mark.parametrize("ds", DATASETS)
@pytest.mark.parametrize("variable", ["risk", "ecog"])
def test_harrell_c_against_R(ds, variable):
    """R: concordance(Surv(time, event) ~ x, reverse=TRUE): C, sqrt(var) (infinitesimal jackknife), counts.
    ``ecog`` is a tied score (4 levels)."""
    d = data(ds)
    result = concordance_index(d["time"], d["event"], d[variable])
    assert result.c_index == pytest.approx(ref(ds, f"harrell_{variable}"), rel=RTOL)
    assert result.se == pytest.approx(ref(ds, f"harrell_{variable}_se"), rel=RTOL)
    assert result.concordant == ref(ds, f"harrell_{variable}_concordant")
    assert result.discordant == ref(ds, f"harrell_{variable}_discordant")
    assert result.tied_risk == ref(ds, f"harrell_{variable}_tied_x")
    assert result.ci_low < result.c_index < result.ci_high


@pytest.mark.parametrize("ds", DATASETS)
@pytest.mark.parametrize("variable", ["risk", "ecog"])
def test_uno_c_against_R(ds, variable):
    """R: concordance(..., reverse=TRUE, timewt="n/G2") within 0.01."""
    d = data(ds)
    result = concordance_index(d["time"], d["event"], d[variable], method="uno", n_boot=30, seed=0)
    assert result.c_index == pytest.approx(ref(ds, f"uno_{variable}"), abs=0.01)
    assert result.ci_low < result.c_index < result.ci_high


@pytest.mark.parametrize("ds", DATASETS)
def test_time_dependent_auc_against_R(ds):
    """R: riskRegression::Score(list(p), Hist(time, event) ~ 1, times, metrics="auc", cens.model="km"):
    AUC within 0.01; bootstrap CI limits within 0.03 of Score's (a different interval method)."""
    d = data(ds)
    times = TD_TIMES[ds]
    table = time_dependent_auc(d["time"], d["event"], 1 / (1 + np.exp(-d["risk"])), times, n_boot=100, seed=1)
    for row, horizon in zip(table.itertuples(), times):
        assert row.auc == pytest.approx(ref(ds, f"td_auc_{horizon}"), abs=0.01)
        assert row.ci_low == pytest.approx(ref(ds, f"td_auc_{horizon}_low"), abs=0.03)
        assert row.ci_high == pytest.approx(ref(ds, f"td_auc_{horizon}_high"), abs=0.03)


@pytest.mark.parametrize("ds", DATASETS)
def test_maxstat_cutoff_against_R(ds):
    """R: maxstat.test(Surv ~ risk, smethod="LogRank", pmethod="Lau92", minprop=0.1) and
    survminer::surv_cutpoint(minprop=0.1): the cutpoint, the statistic and the Lausen-Schumacher p."""
    d = data(ds)
    result = risk_cutoff(d["time"], d["event"], d["risk"], method="maxstat", minprop=0.1)
    assert result.cutoff == pytest.approx(ref(ds, "survminer_cutpoint"), rel=RTOL)
    assert result.cutoff == pytest.approx(ref(ds, "maxstat_cutpoint"), rel=RTOL)
    assert result.statistic == pytest.approx(ref(ds, "survminer_statistic"), rel=RTOL)
    assert result.p_value_adjusted == pytest.approx(ref(ds, "maxstat_p_lau92"), rel=RTOL)
    assert result.p_value_unadjusted < result.p_value_adjusted
    assert "optimistic" in result.note
