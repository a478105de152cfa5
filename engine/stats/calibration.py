"""Calibration of predicted probabilities: Hosmer-Lemeshow, logistic recalibration, lowess-based errors,
calibration curves and the bootstrap optimism-corrected curve of ``rms::calibrate``.

References
----------
Hosmer DW, Lemeshow S. Applied Logistic Regression. Wiley, 2000 (as ``ResourceSelection::hoslem.test``).
Harrell FE. Regression Modeling Strategies, 2nd ed. Springer, 2015 (``rms::val.prob``, ``rms::calibrate``).
Spiegelhalter DJ. Probabilistic prediction in patient management and clinical trials. Stat Med 1986;5:421-433.
Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI). Stat Med 2019;38:4051-4065.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from joblib import Parallel, delayed
from sklearn.base import clone
from statsmodels.nonparametric.smoothers_lowess import lowess as _statsmodels_lowess
from statsmodels.stats.proportion import proportion_confint

from engine.common.cluster import Serial, again_if_lost
from engine.errors import ValidationError
from engine.stats._checks import check_binary_outcome, check_probabilities
from engine.stats._result import Result


def quantile_type7(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(type = 7)`` computed the way R computes it (so break points match R to the last bit)."""
    x = np.sort(values)
    index = (x.size - 1) * probs  # zero-based form of 1 + (n - 1) p
    lo = np.floor(index).astype(int)
    hi = np.ceil(index).astype(int)
    q = x[lo].astype(float)
    interpolate = (index > lo) & (x[hi] != q)
    h = (index - lo)[interpolate]
    q[interpolate] = (1 - h) * q[interpolate] + h * x[hi][interpolate]
    return q


def quantile_groups(prob: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Group index per patient and the break points: ``cut(p, unique(quantile(p, 0:g/g)), include.lowest=TRUE)``."""
    breaks = np.unique(quantile_type7(prob, np.arange(groups + 1) * (1 / groups)))
    group = np.maximum(np.searchsorted(breaks, prob, side="left") - 1, 0)
    return group, breaks


def _check_groups(groups: Any, name: str = "groups") -> int:
    if not (isinstance(groups, (int, np.integer)) and groups >= 3):
        raise ValidationError(f"{name} must be an integer >= 3; got {groups!r}. Use 10 (deciles of risk).")
    return int(groups)


@dataclasses.dataclass(frozen=True)
class HosmerLemeshowResult(Result):
    """Hosmer-Lemeshow goodness-of-fit test; ``table`` holds observed and expected counts per risk group."""

    statistic: float
    dof: int
    p_value: float
    groups_requested: int
    groups_formed: int
    table: pd.DataFrame = dataclasses.field(compare=False, repr=False)


def hosmer_lemeshow(y: Any, prob: Any, *, groups: int = 10, pos_label: Any = None) -> HosmerLemeshowResult:
    """Hosmer-Lemeshow test.

    Patients are cut into groups at the unique quantile breaks (R type 7) of ``prob``, lowest included;
    statistic = sum over groups and both outcomes of (observed - expected)^2 / expected, as
    ``ResourceSelection::hoslem.test``. ``dof`` = groups formed - 2, counting non-empty groups (hoslem.test keeps
    g - 2 even when tied probabilities merge groups, which overstates the degrees of freedom, and returns NaN
    when an interpolated break leaves a group empty; with distinct breaks the two agree). A cell with expected
    count 0 contributes 0 when its observed count is 0 too, and makes the statistic infinite otherwise.
    """
    groups = _check_groups(groups)
    event = check_binary_outcome(y, pos_label=pos_label)
    p = check_probabilities(prob, "prob", event.size)
    group, breaks = quantile_groups(p, groups)
    n = np.bincount(group, minlength=breaks.size - 1)
    kept = n > 0  # an interpolated break can leave a group empty; it carries no information
    formed = int(kept.sum())
    if formed < 3:
        raise ValidationError(
            f"prob must take enough distinct values to form at least 3 risk groups; got {np.unique(p).size} "
            f"distinct probabilities, which form {formed} group(s). Hosmer-Lemeshow needs a graded risk score."
        )
    observed = np.bincount(group, weights=event.astype(float), minlength=breaks.size - 1)[kept]
    expected = np.bincount(group, weights=p, minlength=breaks.size - 1)[kept]
    n = n[kept]
    obs = np.concatenate([n - observed, observed])
    exp = np.concatenate([n - expected, expected])
    with np.errstate(divide="ignore", invalid="ignore"):
        cells = np.where(exp > 0, (obs - exp) ** 2 / np.where(exp > 0, exp, 1), np.where(obs > 0, np.inf, 0.0))
    statistic = float(cells.sum())
    dof = formed - 2
    table = pd.DataFrame(
        {
            "group": np.arange(1, formed + 1),
            "low": breaks[:-1][kept],
            "high": breaks[1:][kept],
            "n": n,
            "observed_events": observed,
            "expected_events": expected,
            "observed_nonevents": n - observed,
            "expected_nonevents": n - expected,
        }
    )
    return HosmerLemeshowResult(
        statistic=statistic,
        dof=dof,
        p_value=float(sps.chi2.sf(statistic, dof)),
        groups_requested=groups,
        groups_formed=formed,
        table=table,
    )


def lowess_fit(x: np.ndarray, y: np.ndarray, *, frac: float = 2 / 3) -> np.ndarray:
    """R's ``lowess(x, y, iter = 0)`` (default span 2/3, delta = 1% of the range of x), fitted value per point."""
    delta = 0.01 * float(np.ptp(x))
    return _statsmodels_lowess(y, x, frac=frac, it=0, delta=delta, return_sorted=False)


@dataclasses.dataclass(frozen=True)
class CalibrationStats(Result):
    """Calibration summary as ``rms::val.prob``.

    ``intercept``/``slope``: logistic regression of y on logit(prob), fitted jointly (ideal 0 and 1);
    ``citl``: calibration-in-the-large, the intercept with the slope fixed at 1 (offset logit(prob));
    ``brier``: mean squared error; ``spiegelhalter_z``/``_p``: Spiegelhalter's test;
    ``eavg`` (= ICI of Austin & Steyerberg), ``e90``, ``emax``: mean, 90th percentile and maximum of
    |prob - lowess(y ~ prob)|.
    """

    intercept: float
    slope: float
    citl: float
    brier: float
    spiegelhalter_z: float
    spiegelhalter_p: float
    eavg: float
    e90: float
    emax: float
    ici: float
    n: int
    n_excluded_from_logistic: int
    notes: tuple[str, ...] = ()


def calibration_stats(y: Any, prob: Any, *, pos_label: Any = None) -> CalibrationStats:
    """Calibration intercept and slope, calibration-in-the-large, Brier score, Spiegelhalter's z and
    lowess-based calibration errors, as ``rms::val.prob(prob, y)``.

    Probabilities of exactly 0 or 1 have an infinite logit: they are left out of the logistic fits (as
    val.prob does) and counted in ``n_excluded_from_logistic``.
    """
    event = check_binary_outcome(y, pos_label=pos_label)
    p = check_probabilities(prob, "prob", event.size)
    outcome = event.astype(float)
    finite = (p > 0) & (p < 1)
    notes = []
    if (~finite).any():
        notes.append(f"{int((~finite).sum())} probabilities of exactly 0 or 1 were left out of the logistic fits.")
    logit = np.log(p[finite] / (1 - p[finite]))
    design = sm.add_constant(logit, has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = sm.GLM(outcome[finite], design, family=sm.families.Binomial()).fit()
        large = sm.GLM(outcome[finite], np.ones((finite.sum(), 1)), family=sm.families.Binomial(), offset=logit).fit()
    spread = (1 - 2 * p) ** 2 * p * (1 - p)
    z = float(np.sum((outcome - p) * (1 - 2 * p)) / np.sqrt(spread.sum())) if spread.sum() > 0 else np.nan
    if not np.isfinite(z):
        notes.append("Spiegelhalter's z is undefined when every probability is 0, 0.5 or 1.")
    errors = np.abs(p - lowess_fit(p, outcome))
    return CalibrationStats(
        intercept=float(joint.params[0]),
        slope=float(joint.params[1]),
        citl=float(large.params[0]),
        brier=float(np.mean((p - outcome) ** 2)),
        spiegelhalter_z=z,
        spiegelhalter_p=float(2 * sps.norm.sf(abs(z))) if np.isfinite(z) else np.nan,
        eavg=float(errors.mean()),
        e90=float(quantile_type7(errors, np.array([0.9]))[0]),
        emax=float(errors.max()),
        ici=float(errors.mean()),
        n=int(event.size),
        n_excluded_from_logistic=int((~finite).sum()),
        notes=tuple(notes),
    )


def calibration_curve(
    y: Any, prob: Any, *, method: str = "bins", bins: int = 10, level: float = 0.95, pos_label: Any = None
) -> pd.DataFrame:
    """Observed versus predicted risk for plotting.

    ``method="bins"``: quantile groups of ``prob`` (as Hosmer-Lemeshow) with the observed event rate and its
    Wilson CI per group; columns ``method, group, n, predicted, observed, ci_low, ci_high``.
    ``method="lowess"``: ``lowess(y ~ prob, iter=0)`` at each distinct probability; columns
    ``method, predicted, observed``.
    """
    event = check_binary_outcome(y, pos_label=pos_label)
    p = check_probabilities(prob, "prob", event.size)
    if method == "bins":
        bins = _check_groups(bins, "bins")
        group, _ = quantile_groups(p, bins)
        frame = pd.DataFrame({"group": group + 1, "p": p, "y": event.astype(int)})
        summary = (
            frame.groupby("group").agg(n=("y", "size"), predicted=("p", "mean"), events=("y", "sum")).reset_index()
        )
        low, high = proportion_confint(summary["events"], summary["n"], alpha=1 - level, method="wilson")
        summary["observed"] = summary["events"] / summary["n"]
        summary["ci_low"], summary["ci_high"] = np.asarray(low), np.asarray(high)
        summary.insert(0, "method", "bins")
        return summary.drop(columns="events")
    if method == "lowess":
        fitted = lowess_fit(p, event.astype(float))
        curve = pd.DataFrame({"predicted": p, "observed": fitted}).groupby("predicted", as_index=False).mean()
        curve.insert(0, "method", "lowess")
        return curve
    raise ValidationError(f"method must be 'bins' or 'lowess'; got {method!r}.")


@dataclasses.dataclass(frozen=True)
class BootstrapCalibration(Result):
    """Apparent and optimism-corrected ("bias-corrected") calibration curves, as ``rms::calibrate``.

    ``curve`` has columns ``predicted, apparent, bias_corrected, ideal, optimism``;
    ``mean_abs_error``/``e90``: of the bias-corrected curve at the patients' predictions.
    """

    n_boot: int
    n_failed: int
    mean_abs_error: float
    e90: float
    curve: pd.DataFrame = dataclasses.field(compare=False, repr=False)


def _curve_at(p: np.ndarray, outcome: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """lowess(y ~ p, iter=0) interpolated linearly at ``grid`` (R ``approx(lowess(...), xout=grid, ties=mean)``)."""
    fitted = lowess_fit(p, outcome)
    curve = pd.DataFrame({"p": p, "f": fitted}).groupby("p")["f"].mean()
    return np.interp(grid, curve.index.to_numpy(), curve.to_numpy(), left=np.nan, right=np.nan)


def _optimism(estimator: Any, features: Any, event: np.ndarray, grid: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One resample's optimism: the curve of its refitted model on the resample minus that on the original data."""
    outcome = event.astype(float)
    sample = features.iloc[rows] if isinstance(features, pd.DataFrame) else features[rows]
    boot_model = clone(estimator).fit(sample, event[rows].astype(int))
    on_boot = _curve_at(boot_model.predict_proba(sample)[:, 1], outcome[rows], grid)
    on_original = _curve_at(boot_model.predict_proba(features)[:, 1], outcome, grid)
    return on_boot - on_original


def calibration_bootstrap(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    n_boot: int = 200,
    grid_size: int = 50,
    seed: int | None = None,
    n_jobs: int = 1,
) -> BootstrapCalibration:
    """Bootstrap optimism-corrected calibration curve of a refittable scikit-learn classifier (``rms::calibrate``).
    ``X`` may be a DataFrame (pipelines that select columns by name).

    The model is fitted on the data (apparent curve = lowess of y on its predictions, on a grid of 50
    predicted values across their range). For each of ``n_boot`` resamples it is refitted; optimism = curve on
    the resample - curve of the resample's model on the original data; the bias-corrected curve = apparent -
    mean optimism. Grid points a resample's curve does not reach are averaged over the resamples that do.
    The refits are joblib tasks on ``n_jobs`` workers (a Dask cluster inside engine.common.cluster.dask_cluster); the
    resamples are drawn from ``seed`` beforehand, so the result does not depend on where they run.
    """
    event = check_binary_outcome(y)
    outcome = event.astype(float)
    features = X.reset_index(drop=True) if isinstance(X, pd.DataFrame) else np.asarray(X)
    if features.ndim != 2 or features.shape[0] != event.size:
        raise ValidationError(
            f"X must be a 2-D table with one row per patient ({event.size}); got shape {features.shape}. "
            f"Pass the feature matrix the model was built on."
        )
    if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 10):
        raise ValidationError(f"n_boot must be an integer >= 10; got {n_boot!r}. rms uses B = 40 to 200.")
    model = clone(estimator).fit(features, event.astype(int))
    p_apparent = model.predict_proba(features)[:, 1]
    grid = np.linspace(p_apparent.min(), p_apparent.max(), grid_size)
    apparent = _curve_at(p_apparent, outcome, grid)
    rng = np.random.default_rng(seed)
    resamples = [rng.integers(0, event.size, event.size) for _ in range(n_boot)]  # drawn here: any n_jobs, same rows
    usable = [rows for rows in resamples if event[rows].any() and not event[rows].all()]
    failed = n_boot - len(usable)
    optimism = again_if_lost(
        lambda: Parallel(n_jobs=n_jobs)(
            delayed(Serial(_optimism))(estimator, features, event, grid, rows) for rows in usable
        )
    )
    if not optimism:
        raise ValidationError("every bootstrap resample held a single class; the cohort is too small to bootstrap.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_optimism = np.nanmean(np.vstack(optimism), axis=0)
    corrected = apparent - mean_optimism
    errors = np.abs(np.interp(p_apparent, grid, corrected) - p_apparent)
    curve = pd.DataFrame(
        {"predicted": grid, "apparent": apparent, "bias_corrected": corrected, "ideal": grid, "optimism": mean_optimism}
    )
    return BootstrapCalibration(
        n_boot=int(n_boot),
        n_failed=failed,
        mean_abs_error=float(np.nanmean(errors)),
        e90=float(np.nanquantile(errors, 0.9)),
        curve=curve,
    )


__all__ = [
    "BootstrapCalibration",
    "CalibrationStats",
    "HosmerLemeshowResult",
    "calibration_bootstrap",
    "calibration_curve",
    "calibration_stats",
    "hosmer_lemeshow",
]
