"""Nomograms for a fitted logistic or Cox model, with points as ``rms::nomogram``.

Each predictor's contribution beta * x is taken over its axis (continuous: R's ``pretty()`` ticks over the
observed range, as ``rms::nomogram`` with ``datadist`` limits; categorical: all levels). The predictor whose
contribution has the widest range spans 0-100 points; points = (beta * x - min) * scale with
scale = 100 / widest range. Total points map back to the linear predictor
lp = intercept + sum(min) + total / scale, and from it to the event probability (logistic) or to survival at
each horizon (Cox: S0(t)^exp(lp)).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.stats.design import Term
from engine.stats._result import Result


@dataclasses.dataclass(frozen=True)
class Nomogram(Result):
    """A nomogram: ``axes`` (variable, value, points) for every predictor, ``total_axis`` (total points,
    linear predictor and each outcome), and ``score(patient)`` for a calculator."""

    kind: str
    scale: float
    lp_offset: float
    outcome_labels: tuple[str, ...]
    axes: pd.DataFrame = dataclasses.field(compare=False, repr=False)
    total_axis: pd.DataFrame = dataclasses.field(compare=False, repr=False)
    terms: tuple[Term, ...] = dataclasses.field(compare=False, repr=False, default=())
    coefficients: tuple[tuple[str, float], ...] = dataclasses.field(compare=False, repr=False, default=())
    minimum: tuple[tuple[str, float], ...] = dataclasses.field(compare=False, repr=False, default=())
    model: Any = dataclasses.field(compare=False, repr=False, default=None)
    horizons: tuple[float, ...] = ()

    def points_of(self, variable: str, value: Any) -> float:
        """Points for one predictor's value."""
        term = next((t for t in self.terms if t.variable == variable), None)
        if term is None:
            raise ValidationError(f"variable must be one of {[t.variable for t in self.terms]}; got {variable!r}.")
        coef = dict(self.coefficients)
        if term.kind == "numeric":
            contribution = coef[term.variable] * float(value)
        else:
            level = str(value)
            if level not in term.levels:
                raise ValidationError(f"{variable} must be one of the levels {list(term.levels)}; got {value!r}.")
            contribution = coef.get(f"{variable}={level}", 0.0)
        return (contribution - dict(self.minimum)[variable]) * self.scale

    def linear_predictor(self, total_points: float | np.ndarray) -> np.ndarray:
        return self.lp_offset + np.asarray(total_points, dtype=float) / self.scale

    def outcomes(self, total_points: float | np.ndarray) -> dict[str, np.ndarray]:
        lp = self.linear_predictor(total_points)
        if self.kind == "logistic":
            return {self.outcome_labels[0]: 1 / (1 + np.exp(-lp))}
        baseline = self.model.baseline_survival(list(self.horizons))
        return {label: base ** np.exp(lp) for label, base in zip(self.outcome_labels, baseline)}

    def interval(self, patient: Mapping[str, Any], level: float = 0.95) -> pd.DataFrame:
        """The patient's predicted outcome(s) with confidence intervals: the event probability (logistic; Wald on
        the logit, as R predict.glm) or survival at each horizon (Cox; R survfit.coxph's log band). Columns
        outcome, estimate, ci_low, ci_high."""
        row = pd.DataFrame([{t.variable: patient[t.variable] for t in self.terms}])
        if self.kind == "logistic":
            shown = self.model.predict_interval(row, level)
            return pd.DataFrame(
                {
                    "outcome": [self.outcome_labels[0]],
                    "estimate": shown["prob"],
                    "ci_low": shown["ci_low"],
                    "ci_high": shown["ci_high"],
                }
            )
        band = self.model.survival_interval(row, list(self.horizons), level)
        return pd.DataFrame(
            {
                "outcome": list(self.outcome_labels),
                "estimate": band["survival"].to_numpy(),
                "ci_low": band["ci_low"].to_numpy(),
                "ci_high": band["ci_high"].to_numpy(),
            }
        )

    def survival_curve(
        self, patient: Mapping[str, Any], times: Sequence[float] | None = None, level: float = 0.95
    ) -> pd.DataFrame:
        """Cox nomograms: the patient's survival curve with its band at ``times`` (default: 0 and every event time
        of the training cohort, the curve's steps); columns time, survival, ci_low, ci_high."""
        if self.kind != "cox":
            raise ValidationError("a survival curve needs a Cox nomogram (a survival endpoint); this one is logistic.")
        row = pd.DataFrame([{t.variable: patient[t.variable] for t in self.terms}])
        times = [0.0, *self.model.baseline_times_] if times is None else list(times)
        return self.model.survival_interval(row, times, level).drop(columns=["patient", "se"])

    def score(self, patient: Mapping[str, Any]) -> dict[str, Any]:
        """Points per predictor, total points, linear predictor and predicted outcome(s) for one patient."""
        missing = [t.variable for t in self.terms if t.variable not in patient]
        if missing:
            raise ValidationError(f"patient must give a value for every predictor; missing {missing}.")
        points = {t.variable: float(self.points_of(t.variable, patient[t.variable])) for t in self.terms}
        total = sum(points.values())
        return {
            "points": points,
            "total_points": total,
            "linear_predictor": float(self.linear_predictor(total)),
            **{label: float(value) for label, value in self.outcomes(total).items()},
        }


def pretty_ticks(low: float, high: float, n: int = 10) -> np.ndarray:
    """R's ``pretty(c(low, high), n)`` (R_pretty with R's defaults), so that axes match ``rms::nomogram``."""
    h, h5, min_n = 1.5, 0.5 + 1.5 * 1.5, n // 3
    dx = high - low
    if dx == 0 and high == 0:
        cell, small = 1.0, True
    else:
        cell = max(abs(low), abs(high))
        bound = (1 + (1 / (1 + h) if h5 >= 1.5 * h + 0.5 else 1.5 / (1 + h5))) * max(1, n) * np.finfo(float).eps
        small = dx < cell * bound * 3
    if small:
        cell = (9 + cell / 10 if cell > 10 else cell) * 0.75
        if min_n > 1:
            cell /= min_n
    else:
        cell = dx / n if n > 1 else dx
    base = 10.0 ** np.floor(np.log10(cell))
    unit = base
    if 2 * base - cell < h * (cell - unit):
        unit = 2 * base
        if 5 * base - cell < h5 * (cell - unit):
            unit = 5 * base
            if 10 * base - cell < h * (cell - unit):
                unit = 10 * base
    ns, nu = np.floor(low / unit + 1e-10), np.ceil(high / unit - 1e-10)
    while ns * unit > low + 1e-10 * unit:
        ns -= 1
    while nu * unit < high - 1e-10 * unit:
        nu += 1
    k = int(0.5 + nu - ns)
    if k < min_n:
        extra = min_n - k
        if ns >= 0:
            nu, ns = nu + extra // 2, ns - extra // 2 - extra % 2
        else:
            ns, nu = ns - extra // 2, nu + extra // 2 + extra % 2
        k = min_n
    start, stop = min(ns * unit, low), max(nu * unit, high)
    ticks = start + np.arange(k + 1) * ((stop - start) / k)
    ticks[np.abs(ticks) < 1e-14 * (stop - start) / k] = 0.0
    return ticks


def nomogram(
    model: Any,
    data: pd.DataFrame,
    *,
    horizons: Sequence[float] = (),
    horizon_labels: Sequence[str] | None = None,
    n_ticks: int = 10,
) -> Nomogram:
    """Nomogram of a fitted ``engine.models.LogisticModel`` or ``CoxModel``; ``data``: the data it was fitted to
    (for the display ranges)."""
    if not hasattr(model, "coef_") or not hasattr(model, "terms_"):
        raise ValidationError(
            f"model must be a fitted engine.models.LogisticModel or CoxModel; got {type(model).__name__}. Fit it first."
        )
    if hasattr(model, "predict_proba"):
        kind, intercept = "logistic", model.intercept_
        labels: tuple[str, ...] = ("probability",)
    elif hasattr(model, "baseline_survival"):
        kind, intercept = "cox", 0.0
        if not horizons:
            raise ValidationError("horizons must name the survival times to show for a Cox model, e.g. (12, 36, 60).")
        labels = tuple(horizon_labels) if horizon_labels else tuple(f"survival_{h:g}" for h in horizons)
    else:
        raise ValidationError(f"model must be a fitted LogisticModel or CoxModel; got {type(model).__name__}.")
    coef = dict(zip(model.feature_names_, model.coef_))
    rows, minimum, widest = [], {}, 0.0
    for term in model.terms_:
        if term.kind == "numeric":
            observed = pd.to_numeric(data[term.variable]).to_numpy(float)
            values = pretty_ticks(float(observed.min()), float(observed.max()), n_ticks)
            contributions = coef[term.variable] * values
            labels_shown = [float(v) for v in values]
        else:
            contributions = np.array([0.0] + [coef[f"{term.variable}={level}"] for level in term.levels[1:]])
            labels_shown = list(term.levels)
        minimum[term.variable] = float(contributions.min())
        widest = max(widest, float(contributions.max() - contributions.min()))
        rows += [
            {"variable": term.variable, "value": v, "contribution": c} for v, c in zip(labels_shown, contributions)
        ]
    if widest == 0:
        raise ValidationError("model must have at least one predictor with a non-zero effect to draw a nomogram.")
    scale = 100.0 / widest
    axes = pd.DataFrame(rows)
    axes["points"] = (axes["contribution"] - axes["variable"].map(minimum)) * scale
    result = Nomogram(
        kind=kind,
        scale=scale,
        lp_offset=intercept + sum(minimum.values()),
        outcome_labels=labels,
        axes=axes,
        total_axis=pd.DataFrame(),
        terms=tuple(model.terms_),
        coefficients=tuple(coef.items()),
        minimum=tuple(minimum.items()),
        model=model,
        horizons=tuple(float(h) for h in horizons),
    )
    total_max = float(axes.groupby("variable")["points"].max().sum())
    totals = np.linspace(0, total_max, 41)
    total_axis = pd.DataFrame({"total_points": totals, "linear_predictor": result.linear_predictor(totals)})
    for label, values in result.outcomes(totals).items():
        total_axis[label] = values
    return dataclasses.replace(result, total_axis=total_axis)


def patient_points(nomogram: Nomogram, patient: Mapping[str, Any]) -> pd.DataFrame:
    """One patient's points per predictor: predictor (log-transformed ones by their original name), value (in
    original units), points; then the total."""
    from engine.common.transforms import original_name, original_value_text

    scored = nomogram.score(patient)
    rows = []
    for term in nomogram.terms:
        value, original = patient[term.variable], original_name(term.variable)
        rows.append(
            {
                "predictor": original or term.variable,
                "value": original_value_text(value) if original else _shown(value),
                "points": scored["points"][term.variable],
            }
        )
    rows.append({"predictor": "Total", "value": "", "points": scored["total_points"]})
    return pd.DataFrame(rows)


def _shown(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, (float, np.floating)) else str(value)
