"""DeLong tests comparing two AUCs, paired (same patients) and unpaired (different cohorts).

Both follow pROC 1.18 ``roc.test(method="delong")``: the paired test uses the covariance of the two
placement vectors (DeLong et al. 1988), computed in O(n log n) (Sun & Xu 2014); the unpaired test is a
Welch-type t test on the two DeLong variances.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy import stats as sps

from engine.stats._checks import check_binary_outcome, check_level, check_scores
from engine.stats._result import Result, normal_z_and_p
from engine.stats.roc import delong_variance, placements

THREADED_FROM = 100_000  # patients: below this a thread costs more than it saves


@dataclasses.dataclass(frozen=True)
class DeLongResult(Result):
    """Paired DeLong test of AUC(a) = AUC(b); the CI is for ``diff = auc_a - auc_b``."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    n_pos: int
    n_neg: int
    level: float


def delong_test(y: Any, score_a: Any, score_b: Any, *, level: float = 0.95, pos_label: Any = None) -> DeLongResult:
    """Paired DeLong test for two scores on the same patients.

    Var(AUC_a - AUC_b) = L S L' with S = S10/m + S01/n, S10 and S01 the 2x2 sample covariance matrices of the
    case and control placements and L = (1, -1); z = diff / sqrt(var); p = 2 (1 - Phi(|z|)). As pROC
    ``roc.test(roc_a, roc_b, method="delong", paired=TRUE)``.
    """
    level = check_level(level)
    event = check_binary_outcome(y, pos_label=pos_label)
    scores = check_scores(score_a, "score_a", event.size), check_scores(score_b, "score_b", event.size)
    if event.size >= THREADED_FROM:  # numpy sorts and scatters without holding the GIL: one score per core
        with ThreadPoolExecutor(2) as pool:
            a, b = pool.map(lambda score: placements(event, score), scores)
    else:
        a, b = (placements(event, score) for score in scores)
    m, n = a.cases.size, a.controls.size
    # L S L' with L = (1, -1) is the variance of the placement differences: var(a - b) = S_aa + S_bb - 2 S_ab
    variance = np.var(a.cases - b.cases, ddof=1) / m + np.var(a.controls - b.controls, ddof=1) / n
    se = float(np.sqrt(max(variance, 0.0)))
    diff = a.auc - b.auc
    z, p = normal_z_and_p(diff, se)
    half = sps.norm.ppf(0.5 + level / 2) * se
    return DeLongResult(
        auc_a=a.auc,
        auc_b=b.auc,
        diff=diff,
        se=se,
        z=z,
        p_value=p,
        ci_low=diff - half,
        ci_high=diff + half,
        n_pos=m,
        n_neg=n,
        level=level,
    )


@dataclasses.dataclass(frozen=True)
class UnpairedDeLongResult(Result):
    """Unpaired DeLong test of AUC(a) = AUC(b) for two independent cohorts (Welch-type t statistic)."""

    auc_a: float
    auc_b: float
    diff: float
    se: float
    t: float
    df: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float


def delong_test_unpaired(
    y_a: Any, score_a: Any, y_b: Any, score_b: Any, *, level: float = 0.95, pos_label: Any = None
) -> UnpairedDeLongResult:
    """Unpaired DeLong test, as pROC ``roc.test(roc_a, roc_b, method="delong", paired=FALSE)``.

    t = (AUC_a - AUC_b) / sqrt(V_a + V_b) with V the DeLong variances;
    df = (V_a + V_b)^2 / (V_a^2 / (N_a - 1) + V_b^2 / (N_b - 1)) with N the cohort sizes; p from Student's t.
    """
    level = check_level(level)
    event_a = check_binary_outcome(y_a, "y_a", pos_label=pos_label)
    event_b = check_binary_outcome(y_b, "y_b", pos_label=pos_label)
    a = placements(event_a, check_scores(score_a, "score_a", event_a.size, outcome_name="y_a"))
    b = placements(event_b, check_scores(score_b, "score_b", event_b.size, outcome_name="y_b"))
    var_a, var_b = delong_variance(a), delong_variance(b)
    se = float(np.sqrt(var_a + var_b))
    diff = a.auc - b.auc
    if se > 0:
        t = diff / se
        df = (var_a + var_b) ** 2 / (var_a**2 / (event_a.size - 1) + var_b**2 / (event_b.size - 1))
        p = float(2 * sps.t.sf(abs(t), df))
        half = float(sps.t.ppf(0.5 + level / 2, df) * se)
    else:
        t, p = normal_z_and_p(diff, se)
        df, half = np.inf, 0.0
    return UnpairedDeLongResult(
        auc_a=a.auc,
        auc_b=b.auc,
        diff=diff,
        se=se,
        t=float(t),
        df=float(df),
        p_value=p,
        ci_low=diff - half,
        ci_high=diff + half,
        level=level,
    )
