"""ROC analysis for a binary outcome: AUC with DeLong or bootstrap CIs, ROC curves, threshold metrics.

Conventions: ``y`` is 0/1 (1 = event), a higher score means the event is more likely, a patient is called
positive when ``score >= threshold``. AUC counts tied case/control scores as 1/2 (Mann-Whitney).

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more correlated receiver operating
characteristic curves: a nonparametric approach. Biometrics 1988;44:837-845.
Sun X, Xu W. Fast implementation of DeLong's algorithm for comparing the areas under correlated receiver
operating characteristic curves. IEEE Signal Process Lett 2014;21:1389-1393.
Robin X et al. pROC: an open-source package for R and S+ to analyze and compare ROC curves. BMC Bioinf 2011.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import proportion_confint

from engine.errors import ValidationError
from engine.stats._checks import check_binary_outcome, check_level, check_scores
from engine.stats._result import Result
from engine.stats._sorting import sort_scores


@dataclasses.dataclass(frozen=True)
class Placements:
    """DeLong's structural components of one AUC.

    ``cases[i]`` is the fraction of controls scored below case ``i`` (ties 1/2); ``controls[j]`` the fraction of
    cases scored above control ``j``. Both are in the original patient order, so two score vectors on the same
    patients give paired components. ``auc`` = mean(cases) = mean(controls).
    """

    auc: float
    cases: np.ndarray
    controls: np.ndarray


def placements(event: np.ndarray, score: np.ndarray, order: np.ndarray | None = None) -> Placements:
    """DeLong placements in O(n log n) by one sort (Sun & Xu 2014). ``event`` is a boolean array; ``order`` is
    the scores' ascending order when the caller has it. At millions of patients the time is the sort and fresh
    memory (each new array is page-faulted in), so the arrays below are filled in place where they can be."""
    n_cases = int(np.count_nonzero(event))
    n_controls = event.size - n_cases
    order, sorted_score = sort_scores(score) if order is None else (order, score[order])
    sorted_event = event[order]
    if not (sorted_score[1:] == sorted_score[:-1]).any():  # no ties: each patient's sorted position is its rank
        controls_upto = np.cumsum(~sorted_event)  # at a case: the controls below it
        value = np.arange(1, score.size + 1, dtype=float)
        value -= controls_upto  # the cases up to each position
        np.subtract(n_cases, value, out=value)  # at a control: the cases above it
        value /= n_cases
        np.divide(controls_upto, n_controls, out=value, where=sorted_event)
        per_patient = sorted_score  # the sorted scores are not needed any more: their memory takes the result
        per_patient[order] = value
        case_part = np.compress(event, per_patient)  # compress: several times faster than boolean indexing
        return Placements(auc=float(case_part.mean()), cases=case_part, controls=np.compress(~event, per_patient))
    new_level = np.empty(score.size, dtype=bool)
    new_level[0] = True
    np.not_equal(sorted_score[1:], sorted_score[:-1], out=new_level[1:])
    level = np.cumsum(new_level) - 1
    n_levels = int(level[-1]) + 1
    cases_at = np.bincount(level[sorted_event], minlength=n_levels)
    controls_at = np.bincount(level[~sorted_event], minlength=n_levels)
    controls_below = np.cumsum(controls_at) - controls_at
    cases_above = n_cases - np.cumsum(cases_at)
    case_value = (controls_below + 0.5 * controls_at) / n_controls
    control_value = (cases_above + 0.5 * cases_at) / n_cases
    per_patient = np.empty(score.size)
    per_patient[order] = np.where(sorted_event, case_value[level], control_value[level])
    case_part = per_patient[event]
    return Placements(auc=float(case_part.mean()), cases=case_part, controls=per_patient[~event])


def delong_variance(parts: Placements) -> float:
    """Var(AUC) = S10/m + S01/n with sample variances of the placements (pROC ``var(method='delong')``)."""
    return float(np.var(parts.cases, ddof=1) / parts.cases.size + np.var(parts.controls, ddof=1) / parts.controls.size)


@dataclasses.dataclass(frozen=True)
class AUCResult(Result):
    """Area under the ROC curve with its confidence interval."""

    auc: float
    ci_low: float
    ci_high: float
    se: float
    n_pos: int
    n_neg: int
    level: float
    method: str


def auc(y: Any, score: Any, *, pos_label: Any = None) -> float:
    """AUC (concordance probability, ties 1/2), without a CI."""
    event = check_binary_outcome(y, pos_label=pos_label, min_per_class=1)
    return placements(event, check_scores(score, "score", event.size)).auc


def auc_ci(
    y: Any,
    score: Any,
    *,
    level: float = 0.95,
    method: str = "delong",
    n_boot: int = 2000,
    seed: int | None = None,
    pos_label: Any = None,
) -> AUCResult:
    """AUC with a confidence interval.

    ``method="delong"``: AUC +- z * sqrt(S10/m + S01/n), clipped to [0, 1], as pROC ``ci.auc(method="delong")``.
    ``method="bootstrap"``: percentiles (R quantile type 7) of ``n_boot`` stratified resamples (cases and
    controls resampled separately, as pROC ``ci.auc(method="bootstrap", boot.stratified=TRUE)``); ``se`` is
    the bootstrap standard deviation.
    """
    level = check_level(level)
    event = check_binary_outcome(y, pos_label=pos_label)
    values = check_scores(score, "score", event.size)
    parts = placements(event, values)
    if method == "delong":
        se = float(np.sqrt(delong_variance(parts)))
        z = sps.norm.ppf(0.5 + level / 2)
        low, high = parts.auc - z * se, parts.auc + z * se
    elif method == "bootstrap":
        if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 100):
            raise ValidationError(f"n_boot must be an integer >= 100; got {n_boot!r}. Use 2000 for a published CI.")
        boot = bootstrap_aucs(event, values, n_boot=int(n_boot), seed=seed)
        low, high = np.quantile(boot, [0.5 - level / 2, 0.5 + level / 2])
        se = float(np.std(boot, ddof=1))
    else:
        raise ValidationError(f"method must be 'delong' or 'bootstrap'; got {method!r}.")
    return AUCResult(
        auc=parts.auc,
        ci_low=float(min(max(low, 0.0), 1.0)),
        ci_high=float(min(max(high, 0.0), 1.0)),
        se=se,
        n_pos=int(parts.cases.size),
        n_neg=int(parts.controls.size),
        level=level,
        method=method,
    )


def bootstrap_aucs(
    event: np.ndarray, score: np.ndarray, *, n_boot: int, seed: int | None, chunk: int = 128
) -> np.ndarray:
    """AUCs of ``n_boot`` stratified bootstrap resamples, without re-sorting.

    Scores are sorted once into tie levels; each resample is a vector of case and control counts per level,
    and its AUC is sum_l cases_l * (controls below l + controls_l / 2) / (m n).
    """
    rng = np.random.default_rng(seed)
    order = np.argsort(score)
    sorted_score = score[order]
    sorted_event = event[order]
    level = np.concatenate([[0], np.cumsum(sorted_score[1:] != sorted_score[:-1])]).astype(np.int64)
    n_levels = int(level[-1]) + 1
    case_levels = level[sorted_event]
    control_levels = level[~sorted_event]
    n_cases, n_controls = case_levels.size, control_levels.size
    result = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        offsets = (np.arange(size, dtype=np.int64) * n_levels)[:, None]
        picked_cases = case_levels[rng.integers(0, n_cases, size=(size, n_cases))] + offsets
        picked_controls = control_levels[rng.integers(0, n_controls, size=(size, n_controls))] + offsets
        cases_at = np.bincount(picked_cases.ravel(), minlength=size * n_levels).reshape(size, n_levels)
        controls_at = np.bincount(picked_controls.ravel(), minlength=size * n_levels).reshape(size, n_levels)
        controls_below = np.cumsum(controls_at, axis=1) - controls_at
        result[start : start + size] = (cases_at * (controls_below + 0.5 * controls_at)).sum(axis=1)
    return result / (n_cases * n_controls)


def roc_curve(y: Any, score: Any, *, pos_label: Any = None) -> pd.DataFrame:
    """The empirical ROC curve as a tidy table ``threshold, sensitivity, specificity, fpr, tpr``.

    One row per distinct score (positive means ``score >= threshold``) plus the corner (threshold = +inf,
    nobody positive), ordered from (0, 0) to (1, 1).
    """
    event = check_binary_outcome(y, pos_label=pos_label, min_per_class=1)
    values = check_scores(score, "score", event.size)
    thresholds = np.unique(values)[::-1]
    order = np.argsort(-values, kind="stable")
    sorted_values = values[order]
    sorted_event = event[order]
    last_of_level = np.r_[sorted_values[1:] != sorted_values[:-1], True]
    tp = np.cumsum(sorted_event)[last_of_level]
    fp = np.cumsum(~sorted_event)[last_of_level]
    n_pos, n_neg = int(event.sum()), int((~event).sum())
    tpr = np.r_[0.0, tp / n_pos]
    fpr = np.r_[0.0, fp / n_neg]
    return pd.DataFrame(
        {
            "threshold": np.r_[np.inf, thresholds],
            "sensitivity": tpr,
            "specificity": 1 - fpr,
            "fpr": fpr,
            "tpr": tpr,
        }
    )


_PROPORTIONS = ("sensitivity", "specificity", "ppv", "npv", "accuracy")


@dataclasses.dataclass(frozen=True)
class ThresholdMetrics(Result):
    """The confusion matrix at one threshold and the proportions derived from it, with Wilson CIs.

    A proportion whose denominator is zero (e.g. PPV when nobody is called positive) is NaN and explained in
    ``notes``.
    """

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float
    sensitivity_ci_low: float
    sensitivity_ci_high: float
    specificity: float
    specificity_ci_low: float
    specificity_ci_high: float
    ppv: float
    ppv_ci_low: float
    ppv_ci_high: float
    npv: float
    npv_ci_low: float
    npv_ci_high: float
    accuracy: float
    accuracy_ci_low: float
    accuracy_ci_high: float
    f1: float
    youden: float
    level: float
    notes: tuple[str, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: ``metric, estimate, ci_low, ci_high, numerator, denominator``."""
        counts = {
            "sensitivity": (self.tp, self.tp + self.fn),
            "specificity": (self.tn, self.tn + self.fp),
            "ppv": (self.tp, self.tp + self.fp),
            "npv": (self.tn, self.tn + self.fn),
            "accuracy": (self.tp + self.tn, self.tp + self.tn + self.fp + self.fn),
        }
        rows = [
            {
                "metric": name,
                "estimate": getattr(self, name),
                "ci_low": getattr(self, f"{name}_ci_low"),
                "ci_high": getattr(self, f"{name}_ci_high"),
                "numerator": counts[name][0],
                "denominator": counts[name][1],
            }
            for name in _PROPORTIONS
        ]
        rows += [
            {"metric": "f1", "estimate": self.f1, "ci_low": np.nan, "ci_high": np.nan},
            {"metric": "youden", "estimate": self.youden, "ci_low": np.nan, "ci_high": np.nan},
        ]
        return pd.DataFrame(rows)


def _wilson(successes: int, total: int, level: float) -> tuple[float, float, float]:
    if total == 0:
        return np.nan, np.nan, np.nan
    low, high = proportion_confint(successes, total, alpha=1 - level, method="wilson")
    return successes / total, float(low), float(high)


def threshold_metrics(
    y: Any, score: Any, threshold: float, *, level: float = 0.95, pos_label: Any = None
) -> ThresholdMetrics:
    """Confusion matrix and sensitivity, specificity, PPV, NPV, accuracy (Wilson CIs), F1 and Youden's J.

    Positive means ``score >= threshold``.
    """
    level = check_level(level)
    event = check_binary_outcome(y, pos_label=pos_label, min_per_class=1)
    values = check_scores(score, "score", event.size)
    if not np.isfinite(threshold):
        raise ValidationError(f"threshold must be a finite number; got {threshold!r}.")
    positive = values >= threshold
    tp = int((positive & event).sum())
    fp = int((positive & ~event).sum())
    tn = int((~positive & ~event).sum())
    fn = int((~positive & event).sum())
    fields: dict[str, float] = {}
    notes = []
    for name, (num, den, why) in {
        "sensitivity": (tp, tp + fn, ""),
        "specificity": (tn, tn + fp, ""),
        "ppv": (tp, tp + fp, "PPV is undefined: nobody scores at or above the threshold."),
        "npv": (tn, tn + fn, "NPV is undefined: everybody scores at or above the threshold."),
        "accuracy": (tp + tn, event.size, ""),
    }.items():
        estimate, low, high = _wilson(num, den, level)
        fields[name], fields[f"{name}_ci_low"], fields[f"{name}_ci_high"] = estimate, low, high
        if den == 0:
            notes.append(why)
    f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) > 0 else np.nan
    return ThresholdMetrics(
        threshold=float(threshold),
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        f1=float(f1),
        youden=fields["sensitivity"] + fields["specificity"] - 1,
        level=level,
        notes=tuple(notes),
        **fields,
    )


@dataclasses.dataclass(frozen=True)
class YoudenResult(Result):
    """The threshold that maximises sensitivity + specificity - 1."""

    threshold: float
    sensitivity: float
    specificity: float
    youden: float


def youden_threshold(y: Any, score: Any, *, pos_label: Any = None) -> YoudenResult:
    """Observed score maximising Youden's J (positive means ``score >= threshold``).

    Among equal maxima the highest threshold (the most specific operating point) is returned.
    """
    curve = roc_curve(y, score, pos_label=pos_label).iloc[1:]
    j = curve["sensitivity"] + curve["specificity"] - 1
    best = curve.loc[j.idxmax()]
    return YoudenResult(
        threshold=float(best["threshold"]),
        sensitivity=float(best["sensitivity"]),
        specificity=float(best["specificity"]),
        youden=float(j.max()),
    )


def threshold_for_target(
    y: Any, score: Any, *, sensitivity: float | None = None, specificity: float | None = None, pos_label: Any = None
) -> YoudenResult:
    """The most specific threshold reaching a target sensitivity, or the most sensitive reaching a specificity."""
    if (sensitivity is None) == (specificity is None):
        raise ValidationError("Pass exactly one of sensitivity= or specificity= (a target between 0 and 1).")
    target = sensitivity if sensitivity is not None else specificity
    if not (0 <= float(target) <= 1):
        raise ValidationError(f"the target must lie in [0, 1]; got {target!r}.")
    curve = roc_curve(y, score, pos_label=pos_label).iloc[1:]
    if sensitivity is not None:
        row = curve[curve["sensitivity"] >= sensitivity].iloc[0]
    else:
        row = curve[curve["specificity"] >= specificity].iloc[-1]
    return YoudenResult(
        threshold=float(row["threshold"]),
        sensitivity=float(row["sensitivity"]),
        specificity=float(row["specificity"]),
        youden=float(row["sensitivity"] + row["specificity"] - 1),
    )
