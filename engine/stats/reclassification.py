"""Net reclassification improvement (NRI) and integrated discrimination improvement (IDI).

Both as ``Hmisc::improveProb(x1 = prob_old, x2 = prob_new, y)`` (Hmisc 4.8), including its variance formulas.

References
----------
Pencina MJ, D'Agostino RB Sr, D'Agostino RB Jr, Vasan RS. Evaluating the added predictive ability of a new
marker: from area under the ROC curve to reclassification and beyond. Stat Med 2008;27:157-172.
Pencina MJ, D'Agostino RB Sr, Steyerberg EW. Extensions of net reclassification improvement calculations to
measure usefulness of new biomarkers. Stat Med 2011;30:11-21.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from engine.errors import ValidationError
from engine.stats._checks import check_binary_outcome, check_level, check_probabilities
from engine.stats._result import Result, normal_z_and_p


@dataclasses.dataclass(frozen=True)
class NRIResult(Result):
    """NRI = (P(up|event) - P(down|event)) + (P(down|non-event) - P(up|non-event)).

    ``cutoffs`` is empty for the category-free (continuous) NRI, where "up" means any increase in predicted
    risk. ``table`` (categorical NRI only) is the reclassification table: old category x new category counts
    for events and non-events.
    """

    nri: float
    nri_events: float
    nri_nonevents: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    se_events: float
    se_nonevents: float
    up_events: int
    down_events: int
    up_nonevents: int
    down_nonevents: int
    n_events: int
    n_nonevents: int
    cutoffs: tuple[float, ...]
    level: float
    table: pd.DataFrame | None = dataclasses.field(default=None, compare=False)


def _validated_pair(y: Any, prob_old: Any, prob_new: Any, pos_label: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    event = check_binary_outcome(y, pos_label=pos_label)
    old = check_probabilities(prob_old, "prob_old", event.size)
    new = check_probabilities(prob_new, "prob_new", event.size)
    return event, old, new


def _check_cutoffs(cutoffs: Sequence[float]) -> np.ndarray:
    values = np.asarray(cutoffs, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all() or (values <= 0).any() or (values >= 1).any():
        raise ValidationError(
            f"cutoffs must be risk thresholds strictly between 0 and 1, e.g. [0.1, 0.3]; got {list(cutoffs)!r}. "
            f"Pass None for the category-free NRI."
        )
    if (np.diff(values) <= 0).any():
        raise ValidationError(
            f"cutoffs must be strictly increasing; got {values.tolist()}. Sort them and drop repeats."
        )
    return values


def _category_labels(cutoffs: np.ndarray) -> list[str]:
    edges = np.r_[0.0, cutoffs, 1.0]
    return [f"[{edges[k]:g}, {edges[k + 1]:g}{']' if k == cutoffs.size else ')'}" for k in range(cutoffs.size + 1)]


def nri(
    y: Any,
    prob_old: Any,
    prob_new: Any,
    *,
    cutoffs: Sequence[float] | None = None,
    level: float = 0.95,
    pos_label: Any = None,
) -> NRIResult:
    """Net reclassification improvement of ``prob_new`` over ``prob_old``.

    Without ``cutoffs``: category-free NRI; a patient moves up when ``prob_new > prob_old``. With ``cutoffs``
    c_1 < ... < c_K: risk categories [0, c_1), [c_1, c_2), ..., [c_K, 1]; a move up is a move to a higher
    category. Variance (Hmisc ``improveProb``): for events, (u + d)/n^2 - (u - d)^2/n^3 with u, d the numbers
    moving up and down; likewise for non-events; the two add. z = NRI / se, p two-sided normal.
    """
    level = check_level(level)
    event, old, new = _validated_pair(y, prob_old, prob_new, pos_label)
    table = None
    if cutoffs is None:
        cut = np.empty(0)
        move = np.sign(new - old)
    else:
        cut = _check_cutoffs(cutoffs)
        old_cat = np.searchsorted(cut, old, side="right")
        new_cat = np.searchsorted(cut, new, side="right")
        move = np.sign(new_cat - old_cat)
        labels = _category_labels(cut)
        frames = []
        for outcome, mask in (("event", event), ("non-event", ~event)):
            counts = pd.crosstab(
                pd.Categorical(np.asarray(labels)[old_cat[mask]], categories=labels),
                pd.Categorical(np.asarray(labels)[new_cat[mask]], categories=labels),
                dropna=False,
            )
            counts.index.name, counts.columns.name = "old", "new"
            long = counts.stack().rename("n").reset_index()
            long.insert(0, "outcome", outcome)
            frames.append(long)
        table = pd.concat(frames, ignore_index=True)
    n1, n0 = int(event.sum()), int((~event).sum())
    up_ev, down_ev = int((move[event] > 0).sum()), int((move[event] < 0).sum())
    up_ne, down_ne = int((move[~event] > 0).sum()), int((move[~event] < 0).sum())
    nri_ev = (up_ev - down_ev) / n1
    nri_ne = (down_ne - up_ne) / n0
    var_ev = (up_ev + down_ev) / n1**2 - (up_ev - down_ev) ** 2 / n1**3
    var_ne = (down_ne + up_ne) / n0**2 - (down_ne - up_ne) ** 2 / n0**3
    total = nri_ev + nri_ne
    se = float(np.sqrt(var_ev + var_ne))
    z, p_value = normal_z_and_p(total, se)
    half = sps.norm.ppf(0.5 + level / 2) * se
    return NRIResult(
        nri=float(total),
        nri_events=float(nri_ev),
        nri_nonevents=float(nri_ne),
        se=se,
        z=z,
        p_value=p_value,
        ci_low=float(total - half),
        ci_high=float(total + half),
        se_events=float(np.sqrt(var_ev)),
        se_nonevents=float(np.sqrt(var_ne)),
        up_events=up_ev,
        down_events=down_ev,
        up_nonevents=up_ne,
        down_nonevents=down_ne,
        n_events=n1,
        n_nonevents=n0,
        cutoffs=tuple(cut.tolist()),
        level=level,
        table=table,
    )


@dataclasses.dataclass(frozen=True)
class IDIResult(Result):
    """IDI = (mean new - mean old risk among events) - (the same among non-events)."""

    idi: float
    se: float
    z: float
    p_value: float
    ci_low: float
    ci_high: float
    improvement_events: float
    improvement_nonevents: float
    level: float


def idi(y: Any, prob_old: Any, prob_new: Any, *, level: float = 0.95, pos_label: Any = None) -> IDIResult:
    """Integrated discrimination improvement of ``prob_new`` over ``prob_old``.

    With d = prob_new - prob_old: IDI = mean(d | event) - mean(d | non-event);
    se = sqrt(var(d | event)/n1 + var(d | non-event)/n0) (sample variances), as Hmisc ``improveProb``.
    ``improvement_events`` is Hmisc's "improveSens", ``improvement_nonevents`` its "improveSpec".
    """
    level = check_level(level)
    event, old, new = _validated_pair(y, prob_old, prob_new, pos_label)
    d = new - old
    d_ev, d_ne = d[event], d[~event]
    value = float(d_ev.mean() - d_ne.mean())
    se = float(np.sqrt(np.var(d_ev, ddof=1) / d_ev.size + np.var(d_ne, ddof=1) / d_ne.size))
    z, p_value = normal_z_and_p(value, se)
    half = sps.norm.ppf(0.5 + level / 2) * se
    return IDIResult(
        idi=value,
        se=se,
        z=z,
        p_value=p_value,
        ci_low=value - half,
        ci_high=value + half,
        improvement_events=float(d_ev.mean()),
        improvement_nonevents=float(-d_ne.mean()),
        level=level,
    )
