"""Concordance (C-index) of a risk score with survival: Harrell's C and Uno's IPCW C, with 95% CIs.

Conventions as ``survival::concordance(Surv(time, event) ~ risk, reverse = TRUE)``: a higher risk means an
earlier event. A pair is comparable when the earlier time is an event (an event and a censoring at the same
time count, the censored patient being the longer survivor; two events at the same time do not). Tied risks
count 1/2. Harrell's variance is the infinitesimal jackknife, as survival's.

Harrell FE et al. Evaluating the yield of medical tests. JAMA 1982;247:2543-2546.
Uno H et al. On the C-statistics for evaluating overall adequacy of risk prediction procedures with censored
survival data. Stat Med 2011;30:1105-1117.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numba
import numpy as np
from scipy import stats as sps

from engine.errors import ValidationError
from engine.stats._checks import check_level, check_scores, check_survival
from engine.stats._result import Result, normal_z_and_p


@dataclasses.dataclass(frozen=True)
class ConcordanceResult(Result):
    """C-index with its standard error and confidence interval."""

    c_index: float
    se: float
    ci_low: float
    ci_high: float
    concordant: float
    discordant: float
    tied_risk: float
    comparable: float
    method: str
    level: float
    tau: float | None = None


@numba.njit(cache=True)
def _fenwick_add(tree, index, value):
    index += 1
    while index < tree.size:
        tree[index] += value
        index += index & -index


@numba.njit(cache=True)
def _fenwick_prefix(tree, index):
    """Sum of counts at ranks 0..index (inclusive); index -1 gives 0."""
    total = 0
    index += 1
    while index > 0:
        total += tree[index]
        index -= index & -index
    return total


@numba.njit(cache=True)
def _harrell_pass(time, event, rank, n_ranks):
    """Per patient: concordant, tied-risk and comparable pair counts (both roles), in O(n log n).

    Inputs are sorted by time, events before censorings at equal time.
    """
    n = time.size
    concordant = np.zeros(n)
    tied = np.zeros(n)
    comparable = np.zeros(n)
    later = np.zeros(n_ranks + 1, dtype=np.int64)
    n_later = 0
    end = n
    while end > 0:  # pass 1, latest times first: i is the earlier (event) member of its pairs
        start = end - 1
        while start > 0 and time[start - 1] == time[end - 1]:
            start -= 1
        for k in range(start, end):
            if not event[k]:
                _fenwick_add(later, rank[k], 1)
                n_later += 1
        for k in range(start, end):
            if event[k]:
                below = _fenwick_prefix(later, rank[k] - 1)
                equal = _fenwick_prefix(later, rank[k]) - below
                concordant[k] += below
                tied[k] += equal
                comparable[k] += n_later
        for k in range(start, end):
            if event[k]:
                _fenwick_add(later, rank[k], 1)
                n_later += 1
        end = start
    earlier = np.zeros(n_ranks + 1, dtype=np.int64)
    n_earlier = 0
    start = 0
    while start < n:  # pass 2, earliest first: j is the later member of its pairs
        end = start + 1
        while end < n and time[end] == time[start]:
            end += 1
        for k in range(start, end):
            if event[k]:
                at_most = _fenwick_prefix(earlier, rank[k])
                equal = at_most - _fenwick_prefix(earlier, rank[k] - 1)
                concordant[k] += n_earlier - at_most
                tied[k] += equal
                comparable[k] += n_earlier
        for k in range(start, end):
            if event[k]:
                _fenwick_add(earlier, rank[k], 1)
                n_earlier += 1
        for k in range(start, end):
            if not event[k]:
                at_most = _fenwick_prefix(earlier, rank[k])
                equal = at_most - _fenwick_prefix(earlier, rank[k] - 1)
                concordant[k] += n_earlier - at_most
                tied[k] += equal
                comparable[k] += n_earlier
        start = end
    return concordant, tied, comparable


def harrell_counts(t: np.ndarray, e: np.ndarray, risk: np.ndarray) -> dict[str, float]:
    """Harrell's C with pair counts and the infinitesimal-jackknife standard error."""
    counts = _harrell(t, e, risk)
    counts.pop("influence")
    return counts


def _harrell(t: np.ndarray, e: np.ndarray, risk: np.ndarray) -> dict[str, Any]:
    """Harrell's C, pair counts, and each patient's infinitesimal-jackknife influence on C (in input order)."""
    order = np.lexsort((~e, t))
    rank = np.unique(risk, return_inverse=True)[1].astype(np.int64)
    concordant, tied, comparable = _harrell_pass(t[order], e[order], rank[order], int(rank.max()) + 1)
    pairs = comparable.sum() / 2
    if pairs == 0:
        raise ValidationError(
            "time/event must give at least one comparable pair (an event before another patient's time); got none. "
            "The C-index needs events followed by longer follow-up."
        )
    n_concordant = concordant.sum() / 2
    n_tied = tied.sum() / 2
    c = (n_concordant + n_tied / 2) / pairs
    influence = np.empty(t.size)
    influence[order] = (concordant + tied / 2 - c * comparable) / pairs
    return {
        "influence": influence,
        "c_index": float(c),
        "se": float(np.sqrt(np.sum(influence**2))),
        "concordant": float(n_concordant),
        "discordant": float(pairs - n_concordant - n_tied),
        "tied_risk": float(n_tied),
        "comparable": float(pairs),
    }


@dataclasses.dataclass(frozen=True)
class CIndexComparison(Result):
    """Paired comparison of two risk scores' Harrell C on the same patients (``diff = c_a - c_b``)."""

    c_a: float
    c_b: float
    se_a: float
    se_b: float
    diff: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    level: float


def compare_c_index(time: Any, event: Any, risk_a: Any, risk_b: Any, *, level: float = 0.95) -> CIndexComparison:
    """Paired test of two models' Harrell C on the same patients: the difference, its standard error from the
    infinitesimal-jackknife covariance of the two C-indexes, a Wald z test and CI.

    se(diff)^2 = sum_i (U_ai - U_bi)^2, U the per-patient influence on each C (the same influence that gives each
    C its standard error). R: ``survival::concordance(fit_a, fit_b)`` with the contrast c(1, -1).
    """
    t, e = check_survival(time, event)
    a = check_scores(risk_a, "risk_a", t.size, outcome_name="time")
    b = check_scores(risk_b, "risk_b", t.size, outcome_name="time")
    level = check_level(level)
    first, second = _harrell(t, e, a), _harrell(t, e, b)
    diff = first["c_index"] - second["c_index"]
    se = float(np.sqrt(np.sum((first["influence"] - second["influence"]) ** 2)))
    z_crit = float(sps.norm.ppf(0.5 + level / 2))
    z, p = normal_z_and_p(diff, se)
    return CIndexComparison(
        c_a=first["c_index"],
        c_b=second["c_index"],
        se_a=first["se"],
        se_b=second["se"],
        diff=diff,
        se=se,
        z=float(z),
        p_value=p,
        ci_low=diff - z_crit * se,
        ci_high=diff + z_crit * se,
        level=level,
    )


def _uno(t: np.ndarray, e: np.ndarray, risk: np.ndarray, tau: float | None) -> tuple[float, float]:
    from sksurv.metrics import concordance_index_ipcw
    from sksurv.util import Surv

    structured = Surv.from_arrays(event=e, time=t)
    result = concordance_index_ipcw(structured, structured, risk, tau=tau, tied_tol=0.0)  # exact ties, as Harrell's
    return float(result[0]), float(result[1] + result[2] + result[3])


def concordance_index(
    time: Any,
    event: Any,
    risk: Any,
    *,
    method: str = "harrell",
    tau: float | None = None,
    level: float = 0.95,
    n_boot: int = 200,
    seed: int | None = None,
) -> ConcordanceResult:
    """C-index of ``risk`` (higher = earlier event) with a confidence interval.

    ``method="harrell"``: Harrell's C, CI = C +- z * se with the infinitesimal-jackknife se (as
    ``survival::concordance``). ``method="uno"``: Uno's IPCW C (censoring weights 1/G(t)^2 from the
    Kaplan-Meier estimate of the censoring distribution, pairs truncated at ``tau``; as
    ``concordance(..., timewt = "n/G2")``), CI from ``n_boot`` bootstrap resamples (percentile).
    """
    t, e = check_survival(time, event)
    score = check_scores(risk, "risk", t.size, outcome_name="time")
    level = check_level(level)
    z = float(sps.norm.ppf(0.5 + level / 2))
    if method == "harrell":
        counts = harrell_counts(t, e, score)
        low, high = counts["c_index"] - z * counts["se"], counts["c_index"] + z * counts["se"]
        return ConcordanceResult(
            ci_low=float(max(low, 0.0)), ci_high=float(min(high, 1.0)), method=method, level=level, tau=None, **counts
        )
    if method != "uno":
        raise ValidationError(f"method must be 'harrell' or 'uno'; got {method!r}.")
    if tau is not None and not (0 < tau <= t.max()):
        raise ValidationError(f"tau must lie within follow-up (0, {t.max():g}]; got {tau!r}. Use e.g. 5 years.")
    c, pairs = _uno(t, e, score, tau)
    rng = np.random.default_rng(seed)
    boot = []
    for _ in range(n_boot):
        rows = rng.integers(0, t.size, t.size)
        if e[rows].sum() == 0:
            continue
        try:
            boot.append(_uno(t[rows], e[rows], score[rows], tau)[0])
        except ValueError:  # a resample whose censoring survival reaches 0 before tau
            continue
    low, high = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2]) if boot else (np.nan, np.nan)
    return ConcordanceResult(
        c_index=c,
        se=float(np.std(boot, ddof=1)) if len(boot) > 1 else np.nan,
        ci_low=float(low),
        ci_high=float(high),
        concordant=np.nan,
        discordant=np.nan,
        tied_risk=np.nan,
        comparable=pairs,
        method=method,
        level=level,
        tau=tau,
    )
