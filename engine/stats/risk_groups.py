"""Low/high risk groups from a model's score: the cutoff (learned on training data) and the stratification.

``risk_cutoff`` learns a cutoff on one cohort; ``stratify`` applies a given cutoff unchanged to any cohort
(Kaplan-Meier per group, log-rank p, hazard ratio high vs low, numbers at risk). Patients with
``risk > cutoff`` are "high" risk, as ``survminer::surv_categorize``.

Lausen B, Schumacher M. Maximally selected rank statistics. Biometrics 1992;48:73-85.
Hothorn T, Lausen B. On the exact distribution of maximally selected rank statistics. CSDA 2003;43:121-137.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from engine.errors import ValidationError
from engine.stats._checks import check_scores, check_survival
from engine.stats._result import Result
from engine.stats.survival import hazard_ratio, kaplan_meier, logrank_test

METHODS = ("median", "youden", "maxstat")
LOW, HIGH = "low", "high"


@dataclasses.dataclass(frozen=True)
class CutoffResult(Result):
    """A risk cutoff (high risk = risk > cutoff) and how it was found.

    For ``maxstat``: ``statistic`` is the maximal standardised log-rank statistic, ``p_value_unadjusted`` the
    naive log-rank p at the chosen cutoff (optimistic: the cutoff was searched for), ``p_value_adjusted`` the
    Lausen-Schumacher (1992) bound or a permutation p-value, as named in ``adjustment``.
    """

    cutoff: float
    method: str
    n_low: int
    n_high: int
    statistic: float = np.nan
    p_value_unadjusted: float = np.nan
    p_value_adjusted: float = np.nan
    adjustment: str = ""
    horizon: float | None = None
    note: str = ""


def logrank_scores(t: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Log-rank (Savage) scores a_i = e_i - sum_{j: t_j <= t_i} e_j / (n - r_j + 1), r the maximal rank among
    ties, exactly as ``exactRankTests::cscores(Surv)`` used by maxstat."""
    order = np.argsort(t, kind="stable")
    sorted_t = t[order]
    max_rank = np.searchsorted(sorted_t, t, side="right")  # 1-based maximal rank of each patient's time
    fact = e / (t.size - max_rank + 1)
    cumulative = np.cumsum(fact[order])
    return e - cumulative[max_rank - 1]


def maxstat_scan(
    t: np.ndarray, e: np.ndarray, x: np.ndarray, minprop: float, maxprop: float
) -> tuple[np.ndarray, np.ndarray]:
    """Standardised log-rank statistics |S_m - E_m| / sqrt(V_m) at each admissible cut (``maxstat::cmaxstat``)."""
    scores = logrank_scores(t, e.astype(float))
    order = np.argsort(x, kind="stable")
    y, xs = scores[order], x[order]
    n = x.size
    first = np.r_[True, xs[1:] != xs[:-1]]
    m = np.flatnonzero(first)  # number of patients strictly below each distinct value
    m = m[(m >= max(1, int(np.floor(n * minprop)))) & (m <= int(np.floor(n * maxprop)))]
    if m.size == 0:
        raise ValidationError(
            f"risk must take enough distinct values to cut between minprop={minprop} and maxprop={maxprop}; got "
            f"{np.unique(x).size} distinct values among {n} patients. Lower minprop or use method='median'."
        )
    total = y.sum()
    expected = m / n * total
    variance = m * (n - m) / (n**2 * (n - 1)) * (n * np.sum(y**2) - total**2)
    statistic = np.abs((np.cumsum(y)[m - 1] - expected) / np.sqrt(variance))
    return statistic, xs[m - 1]


def lausen_schumacher_p(b: float, minprop: float, maxprop: float) -> float:
    """Lausen & Schumacher (1992) approximation of P(max statistic >= b), as ``maxstat:::pLausen92``."""
    if b < 1:
        return 1.0
    density = sps.norm.pdf(b)
    p = 4 * density / b + density * (b - 1 / b) * np.log(maxprop * (1 - minprop) / ((1 - maxprop) * minprop))
    return float(max(p, 0.0))


def risk_cutoff(
    time: Any,
    event: Any,
    risk: Any,
    *,
    method: str = "median",
    horizon: float | None = None,
    minprop: float = 0.1,
    adjustment: str = "lausen",
    n_perm: int = 1000,
    seed: int | None = None,
) -> CutoffResult:
    """Learn a risk cutoff on one cohort (the training cohort; never re-derive it on test data).

    ``median``: the median risk. ``youden``: the cutoff maximising sensitivity + specificity - 1 for the status
    at ``horizon`` (event by the horizon vs event-free beyond it; patients censored earlier are left out).
    ``maxstat``: the cut maximising the standardised log-rank statistic with at least ``minprop`` of patients
    in each group (``survminer::surv_cutpoint`` / ``maxstat.test(smethod="LogRank")``); its p-value is adjusted
    for the search by ``adjustment="lausen"`` (Lausen-Schumacher 1992) or ``"permutation"`` (``n_perm``
    permutations of the risk).
    """
    t, e = check_survival(time, event)
    x = check_scores(risk, "risk", t.size, outcome_name="time")
    if method not in METHODS:
        raise ValidationError(f"method must be one of {METHODS}; got {method!r}.")
    if method == "median":
        cutoff = float(np.median(x))
        return _result(cutoff, method, x, t, e, note="Median of the risk score.")
    if method == "youden":
        if horizon is None or not (0 < horizon < t.max()):
            raise ValidationError(
                f"horizon must be a time within follow-up (0, {t.max():g}) for method='youden'; got {horizon!r}. "
                f"Pass e.g. horizon=24 (months) for 2-year status."
            )
        known = (t > horizon) | e
        status = e & (t <= horizon)
        if status[known].all() or not status[known].any():
            raise ValidationError(
                f"the status at horizon={horizon:g} must include events and event-free patients; got one class."
            )
        values = np.unique(x[known])[:-1]
        xs, ys = x[known], status[known]
        sens = np.array([(xs[ys] > c).mean() for c in values])
        spec = np.array([(xs[~ys] <= c).mean() for c in values])
        cutoff = float(values[np.argmax(sens + spec - 1)])
        dropped = int((~known).sum())
        return _result(
            cutoff,
            method,
            x,
            t,
            e,
            horizon=horizon,
            note=f"Youden cutoff for status at {horizon:g}; {dropped} patients censored before it left out.",
        )
    if not (0 < minprop < 0.5):
        raise ValidationError(f"minprop must lie in (0, 0.5); got {minprop!r}. survminer uses 0.1.")
    statistics, cuts = maxstat_scan(t, e, x, minprop, 1 - minprop)
    best = int(np.argmax(statistics))
    statistic, cutoff = float(statistics[best]), float(cuts[best])
    if adjustment == "lausen":
        adjusted = lausen_schumacher_p(statistic, minprop, 1 - minprop)
        how = "Lausen-Schumacher 1992"
    elif adjustment == "permutation":
        rng = np.random.default_rng(seed)
        exceed = sum(
            maxstat_scan(t, e, rng.permutation(x), minprop, 1 - minprop)[0].max() >= statistic for _ in range(n_perm)
        )
        adjusted = (1 + exceed) / (1 + n_perm)
        how = f"permutation ({n_perm})"
    else:
        raise ValidationError(f"adjustment must be 'lausen' or 'permutation'; got {adjustment!r}.")
    return _result(
        cutoff,
        method,
        x,
        t,
        e,
        statistic=statistic,
        p_value_adjusted=float(adjusted),
        adjustment=how,
        note="The unadjusted log-rank p after a cutpoint search is optimistic; report the adjusted p-value.",
    )


def _result(cutoff, method, x, t, e, **extra) -> CutoffResult:
    high = x > cutoff
    if high.all() or not high.any():
        raise ValidationError(
            f"the {method} cutoff {cutoff:g} puts every patient in one group; the risk score is (nearly) constant."
        )
    p = logrank_test(t, e, np.where(high, HIGH, LOW)).p_value if e.any() else np.nan
    return CutoffResult(
        cutoff=cutoff,
        method=method,
        n_low=int((~high).sum()),
        n_high=int(high.sum()),
        p_value_unadjusted=float(p),
        **extra,
    )


@dataclasses.dataclass(frozen=True)
class StratificationResult(Result):
    """Kaplan-Meier curves of the low/high risk groups made by a fixed cutoff, with their comparison."""

    cutoff: float
    n_low: int
    n_high: int
    logrank_statistic: float
    logrank_p: float
    hr: float
    hr_ci_low: float
    hr_ci_high: float
    hr_p: float
    curves: pd.DataFrame = dataclasses.field(compare=False, repr=False)
    at_risk: pd.DataFrame = dataclasses.field(compare=False, repr=False)


def stratify(
    time: Any, event: Any, risk: Any, cutoff: float | CutoffResult, *, at_risk_times: Sequence[float] | None = None
) -> StratificationResult:
    """Split patients at a cutoff learned elsewhere (high = risk > cutoff) and compare the groups.

    ``curves``: Kaplan-Meier per group (``group, time, survival, ci_low, ci_high, ...``, starting at time 0);
    ``at_risk``: numbers at risk per group at ``at_risk_times`` (default: 6 evenly spaced times), zero beyond
    a group's follow-up. HR is high versus low (Cox, Efron).
    """
    t, e = check_survival(time, event)
    x = check_scores(risk, "risk", t.size, outcome_name="time")
    value = cutoff.cutoff if isinstance(cutoff, CutoffResult) else float(cutoff)
    group = np.where(x > value, HIGH, LOW)
    counts = {LOW: int((group == LOW).sum()), HIGH: int((group == HIGH).sum())}
    if min(counts.values()) < 2:
        raise ValidationError(
            f"cutoff {value:g} must leave at least 2 patients in each risk group on this cohort; got {counts}. "
            f"The cutoff learned on training data does not split this cohort: report it as such."
        )
    test = logrank_test(t, e, group)
    ratio = hazard_ratio(t, e, group, reference=LOW)
    if at_risk_times is None:
        at_risk_times = np.linspace(0, t.max(), 6)
    curves, tables = [], []
    for name in (LOW, HIGH):
        in_group = group == name
        km = kaplan_meier(t[in_group], e[in_group])
        start = pd.DataFrame(
            {
                "time": [0.0],
                "at_risk": [in_group.sum()],
                "events": [0],
                "censored": [0],
                "survival": [1.0],
                "std_err": [0.0],
                "ci_low": [1.0],
                "ci_high": [1.0],
            }
        )
        curves.append(pd.concat([start, km], ignore_index=True).assign(group=name))
        table = kaplan_meier(t[in_group], e[in_group], times=at_risk_times, extend=True)
        tables.append(table[["time", "at_risk"]].assign(group=name))
    return StratificationResult(
        cutoff=value,
        n_low=counts[LOW],
        n_high=counts[HIGH],
        logrank_statistic=test.statistic,
        logrank_p=test.p_value,
        hr=ratio.hr,
        hr_ci_low=ratio.ci_low,
        hr_ci_high=ratio.ci_high,
        hr_p=ratio.p_value,
        curves=pd.concat(curves, ignore_index=True),
        at_risk=pd.concat(tables, ignore_index=True),
    )


def stratify_cohorts(
    frame: pd.DataFrame,
    *,
    time: str,
    event: str,
    risk: str,
    split: str = "split",
    train: str = "train",
    method: str = "median",
    **cutoff_options: Any,
) -> tuple[CutoffResult, dict[str, StratificationResult]]:
    """Learn the cutoff on the ``train`` rows only and apply it unchanged to every cohort in ``split``."""
    missing = [c for c in (time, event, risk, split) if c not in frame.columns]
    if missing:
        raise ValidationError(f"frame must have the columns {missing}; got {list(frame.columns)}.")
    training = frame[frame[split] == train]
    if training.empty:
        raise ValidationError(f"split must contain the training cohort {train!r}; got {sorted(frame[split].unique())}.")
    learned = risk_cutoff(training[time], training[event], training[risk], method=method, **cutoff_options)
    results = {
        str(name): stratify(rows[time], rows[event], rows[risk], learned)
        for name, rows in frame.groupby(split, sort=False)
    }
    return learned, results
