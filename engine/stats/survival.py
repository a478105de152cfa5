"""Kaplan-Meier estimates, log-rank tests and the hazard ratio between two groups.

As R's ``survival`` package: ``survfit`` (Greenwood variance; "log", "log-log" and "plain" intervals),
``survdiff`` (rho = 0) and ``coxph`` (Efron ties, Wald test; fitted by statsmodels). Kaplan-Meier and log-rank
are O(n log n).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from engine.errors import ValidationError
from engine.stats._checks import as_1d, check_level, check_survival
from engine.stats._result import Result

CONF_TYPES = ("log", "log-log", "plain")


def _event_table(t: np.ndarray, e: np.ndarray) -> pd.DataFrame:
    """Distinct observed times with numbers at risk (time >= t), events and censorings."""
    times, inverse = np.unique(t, return_inverse=True)
    events = np.bincount(inverse, weights=e.astype(float), minlength=times.size)
    total = np.bincount(inverse, minlength=times.size)
    at_risk = t.size - np.r_[0, np.cumsum(total)[:-1]]
    return pd.DataFrame(
        {"time": times, "at_risk": at_risk, "events": events.astype(int), "censored": total - events.astype(int)}
    )


def _confidence(survival: np.ndarray, std_err: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """R ``survfit`` intervals; ``std_err`` is the Greenwood standard error of the cumulative hazard."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log":
            low, high = survival * np.exp(-z * std_err), np.minimum(survival * np.exp(z * std_err), 1.0)
        elif conf_type == "log-log":
            log_s = np.log(survival)
            a, b = survival ** np.exp(z * std_err / log_s), survival ** np.exp(-z * std_err / log_s)
            low, high = np.minimum(a, b), np.maximum(a, b)
        else:
            low, high = (
                np.maximum(survival - z * std_err * survival, 0.0),
                np.minimum(survival + z * std_err * survival, 1.0),
            )
    full = survival >= 1.0
    low, high = np.where(full, 1.0, low), np.where(full, 1.0, high)
    empty = survival <= 0.0
    return np.where(empty, 0.0, low), np.where(empty, 0.0, high)


def kaplan_meier(
    time: Any,
    event: Any,
    *,
    times: Sequence[float] | None = None,
    conf_type: str = "log-log",
    level: float = 0.95,
    extend: bool = False,
) -> pd.DataFrame:
    """Kaplan-Meier survival curve with pointwise confidence intervals.

    S(t) = prod_{t_i <= t} (1 - d_i / n_i); Greenwood: se(log S) = sqrt(sum d_i / (n_i (n_i - d_i))).
    ``conf_type``: "log-log" (default here, better coverage in the tails), "log" (R's default) or "plain".
    Without ``times``: one row per distinct observed time. With ``times``: the right-continuous step function
    at those times, ``at_risk`` = number with time >= t and ``events`` = events since the previous requested
    time, as R ``summary(survfit(...), times=)``. Times beyond the last follow-up raise an error unless
    ``extend=True`` (then at_risk = 0 and the last survival value carries on).
    Columns: ``time, at_risk, events, censored, survival, std_err, ci_low, ci_high``.
    """
    t, e = check_survival(time, event, min_events=0)
    level = check_level(level)
    if conf_type not in CONF_TYPES:
        raise ValidationError(f"conf_type must be one of {CONF_TYPES}; got {conf_type!r}. R's default is 'log'.")
    z = float(sps.norm.ppf(0.5 + level / 2))
    table = _event_table(t, e)
    n, d = table["at_risk"].to_numpy(float), table["events"].to_numpy(float)
    table["survival"] = np.cumprod(1 - d / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        increments = np.where(d > 0, d / (n * (n - d)), 0.0)
    table["std_err"] = np.sqrt(np.cumsum(increments))
    if times is None:
        table["ci_low"], table["ci_high"] = _confidence(
            table["survival"].to_numpy(), table["std_err"].to_numpy(), conf_type, z
        )
        return table
    wanted = np.asarray(times, dtype=float).ravel()
    if not np.isfinite(wanted).all() or (wanted < 0).any():
        raise ValidationError(f"times must be finite and >= 0; got {wanted.tolist()!r}.")
    if (np.diff(wanted) < 0).any():
        raise ValidationError(f"times must be increasing; got {wanted.tolist()!r}. Sort them.")
    last = float(t.max())
    if not extend and (wanted > last).any():
        raise ValidationError(
            f"times must lie within follow-up (last observed time {last:g}); got {wanted[wanted > last].tolist()}. "
            f"Shorten the horizon, or pass extend=True for numbers at risk of 0 beyond follow-up."
        )
    row = np.searchsorted(table["time"].to_numpy(), wanted, side="right") - 1
    before = row < 0
    safe = np.maximum(row, 0)
    survival = np.where(before, 1.0, table["survival"].to_numpy()[safe])
    std_err = np.where(before, 0.0, table["std_err"].to_numpy()[safe])
    cumulative_events = np.r_[0, np.cumsum(table["events"].to_numpy())]
    cumulative_censored = np.r_[0, np.cumsum(table["censored"].to_numpy())]
    events_until = cumulative_events[row + 1]
    censored_until = cumulative_censored[row + 1]
    at_risk = t.size - np.searchsorted(np.sort(t), wanted, side="left")
    result = pd.DataFrame(
        {
            "time": wanted,
            "at_risk": at_risk,
            "events": np.diff(np.r_[0, events_until]),
            "censored": np.diff(np.r_[0, censored_until]),
            "survival": survival,
            "std_err": std_err,
        }
    )
    result["ci_low"], result["ci_high"] = _confidence(survival, std_err, conf_type, z)
    return result


def survival_at(time: Any, event: Any, horizon: float) -> float:
    """Kaplan-Meier survival probability at ``horizon`` (within follow-up)."""
    return float(kaplan_meier(time, event, times=[horizon])["survival"].iloc[0])


def _groups(group: Any, n: int, *, name: str = "group") -> tuple[np.ndarray, np.ndarray]:
    labels = as_1d(group, name)
    if labels.size != n:
        raise ValidationError(f"{name} must have one value per patient ({n}); got {labels.size}. Align the columns.")
    if pd.isna(labels).any():
        raise ValidationError(
            f"{name} must not contain missing values; got {int(pd.isna(labels).sum())}. Drop or label them."
        )
    codes, levels = pd.factorize(labels, sort=True)
    counts = np.bincount(codes, minlength=levels.size)
    if levels.size < 2:
        raise ValidationError(f"{name} must hold at least two groups to compare; got only {list(levels)}.")
    single = [str(levels[k]) for k in np.flatnonzero(counts < 2)]
    if single:
        raise ValidationError(
            f"every {name} must have at least 2 patients; got a single patient in {single}. Merge small groups."
        )
    return codes, np.asarray(levels)


@dataclasses.dataclass(frozen=True)
class LogRankResult(Result):
    """Log-rank test for k groups; ``table``: n, observed and expected events per group."""

    statistic: float
    dof: int
    p_value: float
    table: pd.DataFrame = dataclasses.field(compare=False, repr=False)


def logrank_test(time: Any, event: Any, group: Any) -> LogRankResult:
    """Log-rank test of equal survival in k groups, as ``survival::survdiff(Surv(time, event) ~ group)``.

    At each distinct event time with n at risk and d events: E_g += d n_g / n and
    V_gh += d (n - d) / (n - 1) * n_g / n * (delta_gh - n_h / n); chi2 = (O - E)' V^- (O - E), k - 1 dof.
    """
    t, e = check_survival(time, event)
    codes, levels = _groups(group, t.size)
    k = levels.size
    event_times = np.unique(t[e])
    n_g = np.empty((event_times.size, k))
    d_g = np.empty((event_times.size, k))
    for g in range(k):
        in_group = codes == g
        sorted_times = np.sort(t[in_group])
        n_g[:, g] = sorted_times.size - np.searchsorted(sorted_times, event_times, side="left")
        index = np.searchsorted(event_times, t[in_group & e])
        d_g[:, g] = np.bincount(index, minlength=event_times.size)
    n = n_g.sum(axis=1)
    d = d_g.sum(axis=1)
    share = n_g / n[:, None]
    observed = d_g.sum(axis=0)
    expected = (d[:, None] * share).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(n > 1, d * (n - d) / (n - 1), 0.0)
    variance = np.einsum("t,tg,th->gh", factor, share, -share)
    variance[np.diag_indices(k)] += (factor[:, None] * share).sum(axis=0)
    diff = observed - expected
    statistic = float(diff[:-1] @ np.linalg.solve(variance[:-1, :-1], diff[:-1])) if k > 1 else 0.0
    table = pd.DataFrame(
        {"group": levels, "n": np.bincount(codes, minlength=k), "observed": observed, "expected": expected}
    )
    return LogRankResult(statistic=statistic, dof=k - 1, p_value=float(sps.chi2.sf(statistic, k - 1)), table=table)


@dataclasses.dataclass(frozen=True)
class HazardRatioResult(Result):
    """Hazard ratio of ``group_level`` versus ``reference`` from a Cox model (Efron ties, Wald test)."""

    hr: float
    ci_low: float
    ci_high: float
    p_value: float
    coef: float
    se: float
    group_level: str
    reference: str
    level: float


def fit_cox_efron(t: np.ndarray, e: np.ndarray, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cox partial-likelihood fit with Efron ties (statsmodels PHReg; it matches R's coxph to 1e-9, where
    lifelines' optimiser stops about 1e-6 short on heavily tied data). Returns (coef, se)."""
    from statsmodels.duration.hazard_regression import PHReg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = PHReg(t, design, status=e.astype(float), ties="efron").fit()
    return np.asarray(fit.params, dtype=float), np.asarray(fit.bse, dtype=float)


def hazard_ratio(time: Any, event: Any, group: Any, *, reference: Any = None, level: float = 0.95) -> HazardRatioResult:
    """Hazard ratio between two groups, as ``survival::coxph(Surv(time, event) ~ group)`` (Efron, Wald p).

    ``reference`` defaults to the first group in sorted order (R's factor default: "high" vs "low" compares
    high to low only if "low" is the reference; pass ``reference="low"`` to be explicit).
    """
    t, e = check_survival(time, event)
    level = check_level(level)
    codes, levels = _groups(group, t.size)
    if levels.size != 2:
        raise ValidationError(
            f"group must be two-valued for a single hazard ratio; got {levels.size} groups {list(levels)}. "
            f"Use fit_cox with the groups as a categorical covariate."
        )
    if reference is None:
        reference = levels[0]
    if reference not in set(levels.tolist()):
        raise ValidationError(f"reference must be one of the groups {list(levels)}; got {reference!r}.")
    other = levels[1] if reference == levels[0] else levels[0]
    x = (np.asarray(levels)[codes] == other).astype(float)
    coef_array, se_array = fit_cox_efron(t, e, x[:, None])
    coef, se = float(coef_array[0]), float(se_array[0])
    z = float(sps.norm.ppf(0.5 + level / 2))
    return HazardRatioResult(
        hr=float(np.exp(coef)),
        ci_low=float(np.exp(coef - z * se)),
        ci_high=float(np.exp(coef + z * se)),
        p_value=float(2 * sps.norm.sf(abs(coef / se))),
        coef=coef,
        se=se,
        group_level=str(other),
        reference=str(reference),
        level=level,
    )
