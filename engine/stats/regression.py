"""Univariable and multivariable regression tables (odds ratios or hazard ratios), and clinical predictor selection
as published HCC models choose their clinical factors.

A binary ``outcome`` gives logistic regression (ratio = odds ratio, Wald CI and p as R's
``summary(glm(..., family = binomial))``); ``time`` and ``event`` give Cox regression with Efron ties (ratio =
hazard ratio, as ``summary(coxph(...))``). The fits are engine.models.LogisticModel / CoxModel. Categorical columns
(object, bool or string dtype: levels in sorted order; a pandas Categorical: its category order, as R's factor
levels) are dummy-coded against their first level, one term ``<column>=<level>`` per other level; a numeric column
is one term named as the column. Patients with a missing value in the predictors of a fit are left out of it (R's
``na.omit``); ``n`` and ``events`` say how many each fit used.

Rows that cannot be trusted are flagged in ``note`` instead of printing an infinite ratio: a constant predictor, a
level with no events (or, for logistic regression, no non-events: separation), and levels with fewer than
``FEW_EVENTS`` events (the estimate is kept and marked unstable).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError

FEW_EVENTS = 5
COLUMNS = ["predictor", "term", "reference", "measure", "ratio", "ci_low", "ci_high", "p_value", "n", "events", "note"]


@dataclasses.dataclass(frozen=True)
class _Outcome:
    kind: str  # "logistic" or "cox"
    columns: tuple[str, ...]

    @property
    def measure(self) -> str:
        return "OR" if self.kind == "logistic" else "HR"


def _outcome(data: pd.DataFrame, outcome: str | None, time: str | None, event: str | None) -> _Outcome:
    if not isinstance(data, pd.DataFrame):
        raise ValidationError(
            f"data must be a pandas DataFrame of predictors and outcome columns; got {type(data).__name__}."
        )
    if outcome is not None and (time is not None or event is not None):
        raise ValidationError(
            "give either outcome= (logistic regression) or time= and event= (Cox regression), not both."
        )
    if outcome is not None:
        named = (outcome,)
    elif time is not None and event is not None:
        named = (time, event)
    else:
        raise ValidationError(
            "name the outcome: outcome='label' for odds ratios, or time='os_time', event='os_event' for hazard ratios."
        )
    missing = [c for c in named if c not in data]
    if missing:
        raise ValidationError(f"data has no column {missing}; its columns are {list(data.columns)[:12]}.")
    return _Outcome("logistic" if outcome is not None else "cox", named)


def _check_predictors(data: pd.DataFrame, predictors: Sequence[str], outcome: _Outcome) -> list[str]:
    if isinstance(predictors, str):
        predictors = [predictors]
    predictors = list(predictors)
    if not predictors:
        raise ValidationError("predictors must name at least one column of data.")
    missing = [p for p in predictors if p not in data]
    if missing:
        raise ValidationError(
            f"predictors {missing} are not columns of data; its columns are {list(data.columns)[:12]}."
        )
    clash = [p for p in predictors if p in outcome.columns]
    if clash:
        raise ValidationError(f"predictors must not include the outcome columns {clash}.")
    return predictors


def _complete(data: pd.DataFrame, predictors: list[str], outcome: _Outcome) -> pd.DataFrame:
    used = data[[*predictors, *outcome.columns]].dropna()
    if outcome.kind == "logistic":
        from engine.stats._checks import check_binary_outcome

        used = used.assign(
            **{outcome.columns[0]: check_binary_outcome(used[outcome.columns[0]], outcome.columns[0]).astype(int)}
        )
    return used


def _fit(used: pd.DataFrame, predictors: list[str], outcome: _Outcome, level: float):
    from engine.stats.regression_models import CoxModel, LogisticModel

    X = used[predictors]
    if outcome.kind == "logistic":
        return LogisticModel(level=level).fit(X, used[outcome.columns[0]].to_numpy())
    y = pd.DataFrame({"time": used[outcome.columns[0]].to_numpy(float), "event": used[outcome.columns[1]].to_numpy()})
    return CoxModel(level=level).fit(X, y)


def _events(used: pd.DataFrame, outcome: _Outcome) -> np.ndarray:
    return used[outcome.columns[-1]].to_numpy().astype(bool)


def _problems(used: pd.DataFrame, predictor: str, outcome: _Outcome) -> tuple[str, dict[str, str]]:
    """(fatal reason for the whole predictor or '', {term: warning}) from its values and the outcome."""
    from engine.stats.design import is_categorical, learn_terms

    values = used[predictor]
    if values.nunique() < 2:
        return f"constant ({values.iloc[0]!r} for all {len(values)} patients): no ratio can be estimated", {}
    events = _events(used, outcome)
    notes = {}
    term = learn_terms(used[[predictor]])[0]
    if is_categorical(values):
        text = values.astype(str).to_numpy()
        for level in term.levels:
            at_level = text == level
            n_events, n_free = int(events[at_level].sum()), int((~events[at_level]).sum())
            name = f"{predictor}={level}"
            if n_events == 0 or (outcome.kind == "logistic" and n_free == 0):
                which = "no events" if n_events == 0 else "no non-events"
                return (
                    f"level {level!r} has {which} ({int(at_level.sum())} patients): the ratio would be infinite "
                    "(separation); merge it with a neighbouring level"
                ), {}
            if n_events < FEW_EVENTS:
                notes[name] = f"{n_events} event(s) at {name}: unstable estimate"
        reference = f"{predictor}={term.levels[0]}"
        if reference in notes:  # few events at the reference level: every term of the predictor is unstable
            said = notes.pop(reference)
            notes = {c: "; ".join(filter(None, [notes.get(c, ""), f"reference: {said}"])) for c in term.columns}
    elif outcome.kind == "logistic":
        x = pd.to_numeric(values).to_numpy(float)
        if x[events].min() >= x[~events].max() or x[events].max() <= x[~events].min():
            return "separates events from non-events completely: the odds ratio would be infinite", {}
    return "", notes


def _rows(
    fitted, predictors: list[str], outcome: _Outcome, used: pd.DataFrame, notes: dict[str, str]
) -> list[dict[str, Any]]:
    summary = fitted.summary_.set_index("term")
    ratio = "odds_ratio" if outcome.kind == "logistic" else "hazard_ratio"
    rows = []
    for term in fitted.terms_:
        reference = term.levels[0] if term.kind == "categorical" else ""
        for column in term.columns:
            line = summary.loc[column]
            rows.append(
                {
                    "predictor": term.variable,
                    "term": column,
                    "reference": reference,
                    "measure": outcome.measure,
                    "ratio": float(line[ratio]),
                    "ci_low": float(line["ci_low"]),
                    "ci_high": float(line["ci_high"]),
                    "p_value": float(line["p_value"]),
                    "n": len(used),
                    "events": int(_events(used, outcome).sum()),
                    "note": notes.get(column, ""),
                }
            )
    return rows


def _flagged(predictor: str, used: pd.DataFrame, outcome: _Outcome, reason: str) -> dict[str, Any]:
    return {
        "predictor": predictor,
        "term": predictor,
        "reference": "",
        "measure": outcome.measure,
        "ratio": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "n": len(used),
        "events": int(_events(used, outcome).sum()),
        "note": reason,
    }


def univariable_table(
    data: pd.DataFrame,
    predictors: Sequence[str],
    *,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One regression per predictor: odds ratios (``outcome``) or hazard ratios (``time``, ``event``) with Wald
    ``level`` CIs and p-values. Columns: predictor, term, reference, measure, ratio, ci_low, ci_high, p_value, n,
    events, note. A predictor that cannot be estimated (constant, separation) is one row with NaN and the reason.

    R: ``summary(glm(y ~ x, family = binomial))`` / ``summary(coxph(Surv(time, event) ~ x))`` per predictor.
    """
    kind = _outcome(data, outcome, time, event)
    rows = []
    for predictor in _check_predictors(data, predictors, kind):
        used = _complete(data, [predictor], kind)
        reason, notes = _problems(used, predictor, kind)
        if not reason:
            try:
                rows += _rows(_fit(used, [predictor], kind, level), [predictor], kind, used, notes)
                continue
            except ValidationError as error:
                reason = str(error)
        rows.append(_flagged(predictor, used, kind, reason))
    return pd.DataFrame(rows, columns=COLUMNS)


def multivariable_table(
    data: pd.DataFrame,
    predictors: Sequence[str],
    *,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One regression with every predictor (complete cases), in the same columns as :func:`univariable_table`.
    Raises a ValidationError naming a predictor that cannot be estimated (constant, separation).

    R: ``summary(glm(y ~ x1 + x2 + ..., family = binomial))`` / ``summary(coxph(Surv(time, event) ~ x1 + ...))``.
    """
    kind = _outcome(data, outcome, time, event)
    predictors = _check_predictors(data, predictors, kind)
    used = _complete(data, predictors, kind)
    notes: dict[str, str] = {}
    for predictor in predictors:
        reason, found = _problems(used, predictor, kind)
        if reason:
            raise ValidationError(
                f"predictor {predictor!r} cannot enter the multivariable model: {reason}. Drop it or recode it."
            )
        notes.update(found)
    return pd.DataFrame(_rows(_fit(used, predictors, kind, level), predictors, kind, used, notes), columns=COLUMNS)


def predictor_p_values(table: pd.DataFrame) -> pd.Series:
    """The smallest term p-value of each predictor of a regression table (NaN for a flagged predictor)."""
    return table.groupby("predictor", sort=False)["p_value"].min()


def _aic(used: pd.DataFrame, predictors: list[str], kind: _Outcome) -> float:
    """-2 log-likelihood + 2 (number of coefficients), as R's extractAIC for glm and coxph."""
    if predictors:
        fitted = _fit(used, predictors, kind, 0.95)
        return -2 * fitted.llf_ + 2 * (len(fitted.coef_) + (kind.kind == "logistic"))
    events = _events(used, kind)
    if kind.kind == "logistic":
        rate = events.mean()
        return -2 * float(events.sum() * np.log(rate) + (~events).sum() * np.log(1 - rate)) + 2
    return -2 * _efron_null_log_likelihood(used[kind.columns[0]].to_numpy(float), events)


def _efron_null_log_likelihood(time: np.ndarray, event: np.ndarray) -> float:
    """Efron partial log-likelihood at beta = 0: sum over event times of -sum_{k<d} log(R - k/d d)."""
    total = 0.0
    for t in np.unique(time[event]):
        at_risk = int((time >= t).sum())
        deaths = int(((time == t) & event).sum())
        total -= float(np.log(at_risk - np.arange(deaths) / deaths * deaths).sum())
    return total


def backward_aic(
    data: pd.DataFrame,
    predictors: Sequence[str],
    *,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
) -> list[str]:
    """Backward elimination by AIC on the complete cases, as R's ``step(fit, direction = "backward")``: drop the
    predictor (all its terms) whose removal lowers the AIC most, until no removal lowers it. Returns the kept
    predictors in their given order."""
    kind = _outcome(data, outcome, time, event)
    kept = _check_predictors(data, predictors, kind)
    used = _complete(data, kept, kind)
    current = _aic(used, kept, kind)
    while kept:
        trials = {p: _aic(used, [q for q in kept if q != p], kind) for p in kept}
        best = min(trials, key=trials.get)
        if trials[best] >= current:
            break
        kept, current = [q for q in kept if q != best], trials[best]
    return kept


CLINICAL_SELECTION = ("none", "multivariable", "backward_aic")


@dataclasses.dataclass(frozen=True)
class ClinicalSelection:
    """Chosen clinical predictors with the tables that chose them."""

    method: str
    chosen: tuple[str, ...]
    univariable: pd.DataFrame
    multivariable: pd.DataFrame
    reason: str


def select_clinical(
    data: pd.DataFrame,
    predictors: Sequence[str],
    *,
    method: str = "multivariable",
    enter_p: float = 0.05,
    stay_p: float = 0.05,
    outcome: str | None = None,
    time: str | None = None,
    event: str | None = None,
) -> ClinicalSelection:
    """Clinical predictors chosen as the papers choose them, on ``data`` (the training cohort or fold only).

    ``multivariable``: predictors whose univariable p (smallest term p) is below ``enter_p`` enter a multivariable
    model; those with a term p below ``stay_p`` there are kept. ``backward_aic``: backward elimination by AIC from
    all estimable predictors (R's ``step``). ``none``: every predictor. When nothing passes, nothing is chosen
    (``reason`` says so): on pure noise a clinical model then has no predictor rather than the least bad one.
    """
    if method not in CLINICAL_SELECTION:
        raise ValidationError(f"method must be one of {list(CLINICAL_SELECTION)}; got {method!r}.")
    for name, value in (("enter_p", enter_p), ("stay_p", stay_p)):
        if not 0 < value <= 1:
            raise ValidationError(f"{name} must be in (0, 1]; got {value}.")
    options = {"outcome": outcome, "time": time, "event": event}
    univariable = univariable_table(data, predictors, **options)
    p_values = predictor_p_values(univariable)
    estimable = [p for p in predictors if np.isfinite(p_values.get(p, np.nan))]
    if not estimable:
        return ClinicalSelection(
            method, (), univariable, pd.DataFrame(columns=COLUMNS), "no clinical predictor can be estimated"
        )
    if method == "none":
        return ClinicalSelection(method, tuple(predictors), univariable, pd.DataFrame(columns=COLUMNS), "")
    if method == "backward_aic":
        candidates = estimable
    else:
        candidates = [p for p in estimable if p_values[p] < enter_p]
    multivariable, reason = pd.DataFrame(columns=COLUMNS), ""
    if candidates:
        try:
            multivariable = multivariable_table(data, candidates, **options)
        except ValidationError as error:
            reason = f"the multivariable model of {candidates} failed ({error}); "
    if method == "backward_aic" and candidates and not reason:
        chosen = backward_aic(data, candidates, **options)
        multivariable = multivariable_table(data, chosen, **options) if chosen else pd.DataFrame(columns=COLUMNS)
    elif not multivariable.empty:
        stays = predictor_p_values(multivariable)
        chosen = [p for p in candidates if stays.get(p, 1.0) < stay_p]
    else:
        chosen = []
    if not chosen:
        reason += f"no predictor met the criteria (univariable p < {enter_p:g}" + (
            f", multivariable p < {stay_p:g})" if method == "multivariable" else ", then backward AIC)"
        )
    return ClinicalSelection(method, tuple(chosen), univariable, multivariable, reason)
