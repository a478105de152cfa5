"""Input checks shared by every statistic.

Each check returns a clean numpy array or raises :class:`engine.errors.ValidationError` with a message that
names the argument, the rule, what came and how to fix it. No statistic sees NaN, inf or a mislabelled outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError


def _describe(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(repr(v.item() if hasattr(v, "item") else v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def as_1d(values: Any, name: str) -> np.ndarray:
    """Turn a list, Series or array into a 1-D numpy array, or say why not."""
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.ndim == 2 and 1 in array.shape:
        array = array.ravel()
    if array.ndim != 1:
        raise ValidationError(
            f"{name} must be one-dimensional (one value per patient); got an array of shape {array.shape}. "
            f"Pass a single column."
        )
    if array.size == 0:
        raise ValidationError(f"{name} must not be empty; got 0 values. Check the cohort filter.")
    return array


def _levels(array: np.ndarray) -> np.ndarray:
    """np.unique(array), without a sort when the values are all 0 or 1 (the usual outcome column)."""
    if array.dtype.kind in "biuf":
        zero = array == 0
        if (zero | (array == 1)).all():
            present = [bool(zero.any()), not bool(zero.all())]
            return np.array([0, 1], dtype=array.dtype)[present]
    return np.unique(array)


def check_binary_outcome(y: Any, name: str = "y", *, pos_label: Any = None, min_per_class: int = 2) -> np.ndarray:
    """Return ``y`` as a boolean array (True = event).

    Accepts booleans and 0/1; any other two-valued labels need ``pos_label`` (the value meaning "event").
    Requires at least ``min_per_class`` events and non-events.
    """
    array = as_1d(y, name)
    if array.dtype.kind == "f" and np.isnan(array).any():
        bad = np.flatnonzero(np.isnan(array))
        raise ValidationError(
            f"{name} must not contain missing values; got NaN at positions {_describe(bad)} "
            f"({bad.size} of {array.size}). Drop those patients or fill in their outcome."
        )
    if array.dtype == object and pd.isna(array).any():
        bad = np.flatnonzero(pd.isna(array))
        raise ValidationError(
            f"{name} must not contain missing values; got None/NaN at positions {_describe(bad)}. "
            f"Drop those patients or fill in their outcome."
        )
    levels = _levels(array)
    if pos_label is not None:
        if pos_label not in set(levels.tolist()):
            raise ValidationError(
                f"pos_label must be one of the values of {name}; got pos_label={pos_label!r} but {name} holds "
                f"{_describe(levels)}. Pass the value that means 'event'."
            )
        if levels.size > 2:
            raise ValidationError(
                f"{name} must be two-valued (event / no event); got {levels.size} distinct values "
                f"({_describe(levels)}). Dichotomise the outcome first."
            )
        event = array == pos_label
    elif array.dtype == bool:
        event = array
    else:
        if levels.size > 2:
            raise ValidationError(
                f"{name} must be two-valued (event / no event); got {levels.size} distinct values "
                f"({_describe(levels)}). Dichotomise the outcome first."
            )
        try:
            numeric = set(float(v) for v in levels.tolist())
        except (TypeError, ValueError):
            numeric = None
        if numeric is None or not numeric <= {0.0, 1.0}:
            raise ValidationError(
                f"{name} must be coded 0/1 or True/False (1 = event); got labels {_describe(levels)}. "
                f"Pass pos_label=<the label meaning 'event'>."
            )
        event = array.astype(float) == 1.0
    n_events = int(event.sum())
    n_nonevents = int(event.size - n_events)
    if n_events == 0 or n_nonevents == 0:
        only = "1 (events)" if n_nonevents == 0 else "0 (non-events)"
        raise ValidationError(
            f"{name} must contain both classes; got only {only} (n={event.size}). ROC, DeLong and calibration "
            f"need events and non-events: check the outcome column or the cohort filter."
        )
    if n_events < min_per_class or n_nonevents < min_per_class:
        raise ValidationError(
            f"{name} must contain at least {min_per_class} events and {min_per_class} non-events; got "
            f"{n_events} events and {n_nonevents} non-events (n={event.size}). Variance estimates need at least "
            f"two of each: widen the cohort filter."
        )
    return event


def check_scores(score: Any, name: str, n: int | None = None, *, outcome_name: str = "y") -> np.ndarray:
    """Return ``score`` as a finite float array of length ``n``."""
    array = as_1d(score, name)
    if array.dtype == bool:
        array = array.astype(float)
    if array.dtype.kind not in "iuf":
        try:
            array = array.astype(float)
        except (TypeError, ValueError):
            raise ValidationError(
                f"{name} must be numeric (a score or probability per patient); got values of type "
                f"{array.dtype} such as {_describe(array)}. Convert the column to numbers."
            ) from None
    array = array.astype(float, copy=False)
    if n is not None and array.size != n:
        raise ValidationError(
            f"{name} must have one value per patient, as many as {outcome_name}; got {array.size} values for "
            f"{n} patients. Align the two columns (same patients, same order)."
        )
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValidationError(
            f"{name} must be finite; got NaN or inf at positions {_describe(bad)} ({bad.size} of {array.size}). "
            f"Drop those patients or impute their values before scoring."
        )
    return array


def check_probabilities(prob: Any, name: str, n: int | None = None, *, outcome_name: str = "y") -> np.ndarray:
    """Return ``prob`` as a float array in [0, 1]."""
    array = check_scores(prob, name, n, outcome_name=outcome_name)
    outside = (array < 0) | (array > 1)
    if outside.any():
        bad = np.flatnonzero(outside)
        raise ValidationError(
            f"{name} must be probabilities in [0, 1]; got {bad.size} values outside, e.g. "
            f"{_describe(array[bad])}. Pass predicted probabilities (e.g. predict_proba[:, 1]), not raw scores "
            f"or logits."
        )
    return array


def check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ValidationError(f"level must be a confidence level strictly between 0 and 1; got {level!r}. Use 0.95.")
    return float(level)


def check_model_map(probs: Mapping[str, Any], n: int, *, probabilities: bool = True) -> dict[str, np.ndarray]:
    """Validate a mapping model name -> scores/probabilities, each with one value per patient."""
    if isinstance(probs, pd.DataFrame):
        probs = {str(c): probs[c] for c in probs.columns}
    if not isinstance(probs, Mapping) or len(probs) == 0:
        raise ValidationError(
            f"probs must map model names to predictions, e.g. {{'Rad': p_rad, 'Clinical': p_clin}}; got "
            f"{type(probs).__name__} with no models. Pass a dict or a DataFrame with one column per model."
        )
    check = check_probabilities if probabilities else check_scores
    return {str(name): check(values, f"probs[{name!r}]", n) for name, values in probs.items()}


def check_survival(time: Any, event: Any, *, min_events: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Return (time as float array, event as bool array); times finite and >= 0, events 0/1."""
    t = check_scores(time, "time")
    if (t < 0).any():
        bad = np.flatnonzero(t < 0)
        raise ValidationError(
            f"time must be >= 0 (follow-up since baseline); got negative values at positions {_describe(bad)}, "
            f"e.g. {_describe(t[bad])}. Check the date arithmetic or the units of the time column."
        )
    raw = as_1d(event, "event")
    if raw.size != t.size:
        raise ValidationError(
            f"event must have one value per patient, as many as time; got {raw.size} values for {t.size} "
            f"patients. Align the two columns."
        )
    if raw.dtype == bool:
        e = raw
    else:
        try:
            numeric = raw.astype(float)
        except (TypeError, ValueError):
            numeric = None
        if numeric is None or not np.isin(numeric, [0.0, 1.0]).all():
            shown = np.unique(raw[~np.isin(raw, [0, 1])]) if numeric is not None else np.unique(raw.astype(str))
            raise ValidationError(
                f"event must be 0/1 (1 = event, 0 = censored); got values {_describe(shown)}. Recode the "
                f"status column (for R's 1/2 coding, subtract 1)."
            )
        e = numeric == 1.0
    if int(e.sum()) < min_events:
        raise ValidationError(
            f"event must contain at least {min_events} event(s); got {int(e.sum())} among {e.size} patients "
            f"(all censored). Survival comparisons need observed events: check the endpoint or the filter."
        )
    return t, e
