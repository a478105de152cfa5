"""Time-dependent discrimination and prediction error for survival models.

Cumulative/dynamic AUC at horizon t (cases: event by t; controls: event-free beyond t) with inverse probability
of censoring weights from the Kaplan-Meier estimate of the censoring distribution (Uno et al. 2007; as
``riskRegression::Score(..., metrics = "auc", cens.model = "km")`` and ``timeROC``), computed by
scikit-survival; and the (integrated) Brier score for models that predict survival probabilities (Graf 1999).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.stats._checks import check_level, check_scores, check_survival


def _surv(t: np.ndarray, e: np.ndarray):
    from sksurv.util import Surv

    return Surv.from_arrays(event=e, time=t)


def _check_horizons(times: Sequence[float] | float, t: np.ndarray, e: np.ndarray) -> np.ndarray:
    horizons = np.atleast_1d(np.asarray(times, dtype=float))
    if horizons.size == 0 or not np.isfinite(horizons).all():
        raise ValidationError(f"times must be finite horizons, e.g. [12, 36, 60]; got {np.asarray(times).tolist()!r}.")
    first_event, last = float(t[e].min()), float(t.max())
    outside = (horizons < first_event) | (horizons >= last)
    if outside.any():
        raise ValidationError(
            f"times must lie within follow-up, at or after the first event ({first_event:g}) and before the last "
            f"follow-up time ({last:g}); got {horizons[outside].tolist()}. Choose horizons the cohort was followed for."
        )
    return np.sort(horizons)


def time_dependent_auc(
    time: Any,
    event: Any,
    risk: Any,
    times: Sequence[float] | float,
    *,
    n_boot: int = 200,
    level: float = 0.95,
    seed: int | None = None,
) -> pd.DataFrame:
    """Cumulative/dynamic AUC of ``risk`` (higher = earlier event) at each horizon in ``times``.

    Returns a tidy DataFrame ``time, auc, ci_low, ci_high, n_cases, n_controls``; the CIs are percentiles of
    ``n_boot`` bootstrap resamples of patients (0 for none). ``DataFrame.attrs["mean_auc"]`` holds
    scikit-survival's summary AUC over the horizons (weighted by the drop in Kaplan-Meier survival).
    """
    from sksurv.metrics import cumulative_dynamic_auc

    t, e = check_survival(time, event)
    score = check_scores(risk, "risk", t.size, outcome_name="time")
    level = check_level(level)
    horizons = _check_horizons(times, t, e)
    structured = _surv(t, e)
    auc, mean_auc = cumulative_dynamic_auc(structured, structured, score, horizons, tied_tol=0.0)  # exact ties
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_boot):
        rows = rng.integers(0, t.size, t.size)
        sample = _surv(t[rows], e[rows])
        try:
            draws.append(cumulative_dynamic_auc(sample, sample, score[rows], horizons, tied_tol=0.0)[0])
        except ValueError:  # a resample whose follow-up no longer covers a horizon
            continue
    if draws:
        low, high = np.quantile(np.vstack(draws), [0.5 - level / 2, 0.5 + level / 2], axis=0)
    else:
        low = high = np.full(horizons.size, np.nan)
    table = pd.DataFrame(
        {
            "time": horizons,
            "auc": auc,
            "ci_low": low,
            "ci_high": high,
            "n_cases": [(e & (t <= h)).sum() for h in horizons],
            "n_controls": [(t > h).sum() for h in horizons],
        }
    )
    table.attrs["mean_auc"] = float(mean_auc)
    table.attrs["n_boot_used"] = len(draws)
    return table


def brier_scores(time: Any, event: Any, survival_prob: Any, times: Sequence[float]) -> pd.DataFrame:
    """IPCW Brier score at each horizon and the integrated Brier score over them.

    ``survival_prob``: predicted survival probabilities, one row per patient and one column per horizon.
    Returns ``time, brier``; ``attrs["integrated_brier"]`` is the integral over the horizons divided by their span.
    """
    from sksurv.metrics import brier_score, integrated_brier_score

    t, e = check_survival(time, event)
    horizons = _check_horizons(times, t, e)
    prob = np.asarray(survival_prob, dtype=float)
    if prob.ndim == 1:
        prob = prob[:, None]
    if prob.shape != (t.size, horizons.size):
        raise ValidationError(
            f"survival_prob must have one row per patient and one column per horizon ({t.size} x {horizons.size}); "
            f"got shape {prob.shape}."
        )
    if not np.isfinite(prob).all() or (prob < 0).any() or (prob > 1).any():
        raise ValidationError(
            "survival_prob must be probabilities in [0, 1] without NaN. Pass predicted survival S(t | x)."
        )
    structured = _surv(t, e)
    _, scores = brier_score(structured, structured, prob, horizons)
    table = pd.DataFrame({"time": horizons, "brier": scores})
    table.attrs["integrated_brier"] = (
        float(integrated_brier_score(structured, structured, prob, horizons)) if horizons.size > 1 else float(scores[0])
    )
    return table


def time_dependent_roc(time: Any, event: Any, risk: Any, horizon: float) -> pd.DataFrame:
    """The cumulative/dynamic ROC curve of ``risk`` at ``horizon``: cases (event by the horizon) weighted by the
    inverse probability of remaining uncensored, 1 / G(T-), from the Kaplan-Meier estimate of the censoring
    distribution; controls are the patients event-free beyond the horizon (Uno et al. 2007). Positive means
    ``risk >= threshold``; one point per distinct risk (exact ties), from (0, 0) to (1, 1).

    Returns ``threshold, fpr, tpr`` (``attrs["auc"]``: the trapezoidal area, which equals :func:`time_dependent_auc`
    at the horizon; R: ``timeROC::timeROC(..., cause = 1, weighting = "marginal")``'s curve).
    """
    from sksurv.nonparametric import CensoringDistributionEstimator

    t, e = check_survival(time, event)
    score = check_scores(risk, "risk", t.size, outcome_name="time")
    horizon = float(_check_horizons([horizon], t, e)[0])
    structured = _surv(t, e)
    weights = CensoringDistributionEstimator().fit(structured).predict_ipcw(structured)
    case = (t <= horizon) & e
    control = t > horizon
    if not case.any() or not control.any():
        raise ValidationError(
            f"horizon {horizon:g} needs cases (events by it) and controls (event-free beyond it); got "
            f"{int(case.sum())} and {int(control.sum())}. Choose a horizon inside follow-up."
        )
    thresholds = np.unique(score)[::-1]
    slot = np.searchsorted(-thresholds, -score)  # the first threshold at or below each patient's risk
    case_weight = np.bincount(slot, weights=np.where(case, weights, 0.0), minlength=thresholds.size)
    control_count = np.bincount(slot, weights=control.astype(float), minlength=thresholds.size)
    tpr = np.concatenate([[0.0], np.cumsum(case_weight) / case_weight.sum()])
    fpr = np.concatenate([[0.0], np.cumsum(control_count) / control_count.sum()])
    table = pd.DataFrame({"threshold": np.concatenate([[np.inf], thresholds]), "fpr": fpr, "tpr": tpr})
    table.attrs["auc"] = float(np.trapezoid(tpr, fpr))
    table.attrs["horizon"] = horizon
    return table
