"""Decision curve analysis (Vickers & Elkin 2006), as R's ``dcurves::dca`` for a binary outcome.

Net benefit at threshold probability p_t: NB = TP/n - FP/n * p_t / (1 - p_t), where a patient is treated when
``prob >= p_t``. Strategies ``"all"`` (treat everyone) and ``"none"`` (NB = 0) are included. Net interventions
avoided per patient: (NB_model - NB_all) / (p_t / (1 - p_t)); multiply by 100 for "per 100 patients".

Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating prediction models.
Med Decis Making 2006;26:565-574.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.stats._checks import check_binary_outcome, check_level, check_model_map

RESERVED = ("all", "none")


def _check_thresholds(thresholds: Sequence[float] | None) -> np.ndarray:
    if thresholds is None:
        return np.round(np.arange(0, 100) / 100, 2)
    values = np.asarray(thresholds, dtype=float).ravel()
    if values.size == 0 or not np.isfinite(values).all() or (values < 0).any() or (values >= 1).any():
        raise ValidationError(
            f"thresholds must be threshold probabilities in [0, 1); got {np.asarray(thresholds).tolist()!r}. "
            f"Net benefit weighs false positives by p/(1 - p), which is infinite at 1: use e.g. "
            f"np.arange(0, 0.99, 0.01)."
        )
    return np.unique(values)


def _treated_counts(
    event: np.ndarray, prob: np.ndarray, thresholds: np.ndarray, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives at each threshold (treated = prob >= threshold), optionally weighted."""
    order = np.argsort(prob)
    sorted_prob = prob[order]
    w = np.ones(prob.size) if weight is None else weight[order]
    ev = event[order]
    tp_from = np.r_[np.cumsum((w * ev)[::-1])[::-1], 0.0]
    fp_from = np.r_[np.cumsum((w * ~ev)[::-1])[::-1], 0.0]
    start = np.searchsorted(sorted_prob, thresholds, side="left")
    return tp_from[start], fp_from[start]


def _net_benefit(tp: np.ndarray, fp: np.ndarray, n: float, thresholds: np.ndarray) -> np.ndarray:
    odds = thresholds / (1 - thresholds)
    return tp / n - fp / n * odds


def decision_curve(
    y: Any,
    probs: Mapping[str, Any],
    *,
    thresholds: Sequence[float] | None = None,
    n_boot: int = 0,
    level: float = 0.95,
    seed: int | None = None,
    pos_label: Any = None,
) -> pd.DataFrame:
    """Net benefit of each model and of treat-all / treat-none over ``thresholds`` (default 0, 0.01, ..., 0.99).

    Returns a tidy DataFrame ``model, threshold, net_benefit, net_interventions_avoided, treated`` (share
    treated), plus ``ci_low, ci_high`` (percentile bootstrap of patients) when ``n_boot > 0``.
    ``net_interventions_avoided`` is NaN at threshold 0, where it is undefined.
    """
    event = check_binary_outcome(y, pos_label=pos_label, min_per_class=1)
    models = check_model_map(probs, event.size)
    clash = [name for name in models if name in RESERVED]
    if clash:
        raise ValidationError(
            f"probs must not use the reserved strategy names 'all'/'none'; got {clash}. Rename the model."
        )
    grid = _check_thresholds(thresholds)
    level = check_level(level)
    n = event.size
    odds = grid / (1 - grid)
    prevalence = event.mean()
    nb_all = prevalence - (1 - prevalence) * odds
    curves = {"all": (nb_all, np.ones_like(grid)), "none": (np.zeros_like(grid), np.zeros_like(grid))}
    for name, prob in models.items():
        tp, fp = _treated_counts(event, prob, grid)
        curves[name] = (_net_benefit(tp, fp, n, grid), (tp + fp) / n)
    frames = []
    for name, (nb, treated) in curves.items():
        nia = np.full_like(grid, np.nan)
        positive = odds > 0
        nia[positive] = (nb[positive] - nb_all[positive]) / odds[positive]
        frames.append(
            pd.DataFrame(
                {
                    "model": name,
                    "threshold": grid,
                    "net_benefit": nb,
                    "net_interventions_avoided": nia,
                    "treated": treated,
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    if n_boot:
        if not (isinstance(n_boot, (int, np.integer)) and n_boot >= 100):
            raise ValidationError(f"n_boot must be 0 (no bands) or an integer >= 100; got {n_boot!r}.")
        table = table.merge(
            _bootstrap_bands(event, models, grid, int(n_boot), level, seed), on=["model", "threshold"], how="left"
        )
    return table


def _bootstrap_bands(
    event: np.ndarray, models: dict[str, np.ndarray], grid: np.ndarray, n_boot: int, level: float, seed: int | None
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = event.size
    odds = grid / (1 - grid)
    draws: dict[str, list[np.ndarray]] = {name: [] for name in ["all", *models]}
    for _ in range(n_boot):
        weight = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        prevalence = (weight * event).sum() / n
        draws["all"].append(prevalence - (1 - prevalence) * odds)
        for name, prob in models.items():
            tp, fp = _treated_counts(event, prob, grid, weight)
            draws[name].append(_net_benefit(tp, fp, n, grid))
    frames = []
    for name, values in draws.items():
        low, high = np.quantile(np.vstack(values), [0.5 - level / 2, 0.5 + level / 2], axis=0)
        frames.append(pd.DataFrame({"model": name, "threshold": grid, "ci_low": low, "ci_high": high}))
    frames.append(pd.DataFrame({"model": "none", "threshold": grid, "ci_low": 0.0, "ci_high": 0.0}))
    return pd.concat(frames, ignore_index=True)
