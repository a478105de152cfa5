"""engine.stats against R: pROC 1.18, Hmisc 4.8 improveProb, rms 6.5 val.prob, ResourceSelection hoslem.test.

Values from ``tests/reference/binary_stats.R`` on pROC's aSAH data, a tied-score dataset and a large one.
"""

import numpy as np
import pytest

from engine.stats import (
    auc_ci,
    calibration_stats,
    delong_test,
    delong_test_unpaired,
    hosmer_lemeshow,
    idi,
    nri,
)
from tests.reference import dataset, reference

DATASETS = ["asah", "ties", "large"]
CUTOFFS = {"asah": [0.1, 0.3], "ties": [0.2, 0.5], "large": [0.1, 0.3]}
RTOL = 1e-6


def ref(ds, stat):
    return reference("binary_stats")[(ds, stat)]


@pytest.mark.parametrize("ds", DATASETS)
@pytest.mark.parametrize("which", ["a", "b"])
def test_auc_ci_delong_against_R(ds, which):
    """R: ci.auc(roc(y, score, direction="<"), method="delong"); sqrt(var(roc, method="delong"))."""
    d = dataset(ds)
    result = auc_ci(d["y"], d[f"score_{which}"])
    assert result.auc == pytest.approx(ref(ds, f"auc_{which}"), rel=RTOL)
    assert result.ci_low == pytest.approx(ref(ds, f"auc_{which}_ci_low"), rel=RTOL)
    assert result.ci_high == pytest.approx(ref(ds, f"auc_{which}_ci_high"), rel=RTOL)
    assert result.se == pytest.approx(ref(ds, f"auc_{which}_se"), rel=RTOL)
    assert result.n_pos + result.n_neg == len(d)


@pytest.mark.parametrize("ds", DATASETS)
def test_auc_ci_level_against_R(ds):
    """R: ci.auc(roc_a, method="delong", conf.level=0.9)."""
    d = dataset(ds)
    result = auc_ci(d["y"], d["score_a"], level=0.9)
    assert (result.ci_low, result.ci_high) == pytest.approx(
        (ref(ds, "auc_a_ci90_low"), ref(ds, "auc_a_ci90_high")), rel=RTOL
    )


@pytest.mark.parametrize("ds", ["asah", "ties"])
def test_auc_ci_bootstrap_close_to_R(ds):
    """R: ci.auc(roc_a, method="bootstrap", boot.n=10000, boot.stratified=TRUE). Different random draws, so the
    percentile limits agree only up to Monte-Carlo error (about 0.005 at 10,000 resamples)."""
    d = dataset(ds)
    result = auc_ci(d["y"], d["score_a"], method="bootstrap", n_boot=10000, seed=3)
    assert result.ci_low == pytest.approx(ref(ds, "auc_a_boot_ci_low"), abs=0.01)
    assert result.ci_high == pytest.approx(ref(ds, "auc_a_boot_ci_high"), abs=0.01)


@pytest.mark.parametrize("ds", DATASETS)
def test_delong_paired_against_R(ds):
    """R: roc.test(roc_a, roc_b, method="delong", paired=TRUE): statistic, p.value, conf.int."""
    d = dataset(ds)
    result = delong_test(d["y"], d["score_a"], d["score_b"])
    assert result.z == pytest.approx(ref(ds, "delong_z"), rel=RTOL)
    assert result.p_value == pytest.approx(ref(ds, "delong_p"), rel=RTOL)
    assert result.ci_low == pytest.approx(ref(ds, "delong_ci_low"), rel=RTOL)
    assert result.ci_high == pytest.approx(ref(ds, "delong_ci_high"), rel=RTOL)
    assert result.diff == pytest.approx(ref(ds, "auc_a") - ref(ds, "auc_b"), rel=RTOL)


@pytest.mark.parametrize("ds", DATASETS)
def test_delong_unpaired_against_R(ds):
    """R: roc.test(roc(y[odd], a[odd]), roc(y[even], b[even]), method="delong", paired=FALSE)."""
    d = dataset(ds)
    odd, even = d.iloc[0::2], d.iloc[1::2]
    result = delong_test_unpaired(odd["y"], odd["score_a"], even["y"], even["score_b"])
    assert result.t == pytest.approx(ref(ds, "unpaired_t"), rel=RTOL)
    assert result.df == pytest.approx(ref(ds, "unpaired_df"), rel=RTOL)
    assert result.p_value == pytest.approx(ref(ds, "unpaired_p"), rel=RTOL)


@pytest.mark.parametrize("ds", DATASETS)
def test_category_free_nri_and_idi_against_R(ds):
    """R: Hmisc::improveProb(prob_old, prob_new, y)."""
    d = dataset(ds)
    n = nri(d["y"], d["prob_old"], d["prob_new"])
    assert n.nri == pytest.approx(ref(ds, "nri"), rel=RTOL)
    assert n.se == pytest.approx(ref(ds, "se.nri"), rel=RTOL)
    assert n.z == pytest.approx(ref(ds, "z.nri"), rel=RTOL)
    assert n.p_value == pytest.approx(ref(ds, "p.nri"), rel=RTOL)
    assert n.nri_events == pytest.approx(ref(ds, "nri.ev"), rel=RTOL, abs=1e-15)
    assert n.nri_nonevents == pytest.approx(ref(ds, "nri.ne"), rel=RTOL, abs=1e-15)
    assert n.se_events == pytest.approx(ref(ds, "se.nri.ev"), rel=RTOL)
    assert n.se_nonevents == pytest.approx(ref(ds, "se.nri.ne"), rel=RTOL)
    i = idi(d["y"], d["prob_old"], d["prob_new"])
    assert i.idi == pytest.approx(ref(ds, "idi"), rel=RTOL)
    assert i.se == pytest.approx(ref(ds, "se.idi"), rel=RTOL)
    assert i.z == pytest.approx(ref(ds, "z.idi"), rel=RTOL)
    assert i.p_value == pytest.approx(ref(ds, "p.idi"), rel=RTOL)
    assert i.improvement_events == pytest.approx(ref(ds, "improveSens"), rel=RTOL)
    assert i.improvement_nonevents == pytest.approx(ref(ds, "improveSpec"), rel=RTOL)


@pytest.mark.parametrize("ds", DATASETS)
def test_categorical_nri_against_R(ds):
    """R: improveProb on the risk categories cut(p, c(0, cutoffs, 1), right=FALSE) (only direction counts)."""
    d = dataset(ds)
    result = nri(d["y"], d["prob_old"], d["prob_new"], cutoffs=CUTOFFS[ds])
    assert result.nri == pytest.approx(ref(ds, "cat_nri"), rel=RTOL)
    assert result.se == pytest.approx(ref(ds, "cat_se.nri"), rel=RTOL)
    assert result.z == pytest.approx(ref(ds, "cat_z.nri"), rel=RTOL)
    assert result.nri_events == pytest.approx(ref(ds, "cat_nri.ev"), rel=RTOL, abs=1e-15)
    assert result.nri_nonevents == pytest.approx(ref(ds, "cat_nri.ne"), rel=RTOL, abs=1e-15)
    table = result.table
    assert table["n"].sum() == len(d)
    moved_up = table[(table["outcome"] == "event")]
    assert moved_up["n"].sum() == result.n_events


@pytest.mark.parametrize("ds", DATASETS)
@pytest.mark.parametrize("groups", [10, 5])
def test_hosmer_lemeshow_against_R(ds, groups):
    """R: ResourceSelection::hoslem.test(y, prob_new, g) (its code, verbatim, in binary_stats.R)."""
    d = dataset(ds)
    result = hosmer_lemeshow(d["y"], d["prob_new"], groups=groups)
    assert result.statistic == pytest.approx(ref(ds, f"hl{groups}_statistic"), rel=RTOL)
    assert result.groups_formed == ref(ds, f"hl{groups}_groups")
    assert result.dof == groups - 2
    if ref(ds, f"hl{groups}_p_r") > 1e-10:
        assert result.p_value == pytest.approx(ref(ds, f"hl{groups}_p_r"), rel=RTOL)
    assert result.table["n"].sum() == len(d)


@pytest.mark.parametrize("ds", DATASETS)
def test_hosmer_lemeshow_merged_groups_against_R(ds):
    """Tied probabilities merge quantile groups: the statistic of hoslem.test, dof = non-empty groups - 2.

    An interpolated quantile break can leave a group empty (aSAH here); hoslem.test then returns NaN (0/0),
    so the reference is its statistic over the non-empty groups."""
    d = dataset(ds)
    coarse = np.floor(d["prob_new"].to_numpy() * 4.999) / 5 + 0.1
    result = hosmer_lemeshow(d["y"], coarse, groups=10)
    assert result.groups_formed == ref(ds, "hl_coarse_groups_nonempty") < 10
    assert result.statistic == pytest.approx(ref(ds, "hl_coarse_statistic_nonempty"), rel=RTOL)
    if not np.isnan(ref(ds, "hl_coarse_statistic")):
        assert result.statistic == pytest.approx(ref(ds, "hl_coarse_statistic"), rel=RTOL)
    assert result.dof == result.groups_formed - 2
    assert (result.table["n"] > 0).all()


@pytest.mark.parametrize("ds", DATASETS)
def test_calibration_stats_against_R(ds):
    """R: rms::val.prob(prob_new, y): Intercept, Slope (rtol 1e-4), Brier, Eavg, E90, Emax, S:z, S:p;
    calibration-in-the-large: glm(y ~ 1, offset=qlogis(p), family=binomial)."""
    d = dataset(ds)
    result = calibration_stats(d["y"], d["prob_new"])
    assert result.intercept == pytest.approx(ref(ds, "valprob_Intercept"), rel=1e-4, abs=1e-6)
    assert result.slope == pytest.approx(ref(ds, "valprob_Slope"), rel=1e-4)
    assert result.citl == pytest.approx(ref(ds, "citl"), rel=1e-4, abs=1e-6)
    assert result.brier == pytest.approx(ref(ds, "valprob_Brier"), rel=RTOL)
    assert result.spiegelhalter_z == pytest.approx(ref(ds, "valprob_S:z"), rel=RTOL)
    assert result.spiegelhalter_p == pytest.approx(ref(ds, "valprob_S:p"), rel=RTOL)
    assert result.eavg == pytest.approx(ref(ds, "valprob_Eavg"), rel=1e-4)
    assert result.e90 == pytest.approx(ref(ds, "valprob_E90"), rel=1e-4)
    assert result.emax == pytest.approx(ref(ds, "valprob_Emax"), rel=1e-4)
    assert result.ici == result.eavg
