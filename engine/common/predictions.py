"""The predictions table (DESIGN.md): long form ``patient_id, split, model, prob`` + outcomes + cohort columns.

Uploads may be wide (one probability column per model: a float column at least half within [0, 1]; other columns are
cohort columns for the what-if filters); ``read_predictions`` turns them into the long form and reports every
problem in one message. Files are parsed as data only (CSV or XLSX; no pickle, no eval).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.validation.rules import (
    event_column as event_column,
    survival_pairs_of,
    time_column as time_column,
)  # the survival columns

OUTCOME = "label"


def outcome_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c == OUTCOME or c.endswith(("_time", "_event")) or c in ("time", "event")]


def survival_endpoints(frame: pd.DataFrame) -> list[str]:
    """Endpoint names with both ``<name>_time`` and ``<name>_event`` columns (``time``/``event`` -> "")."""
    names = list(survival_pairs_of(frame))
    if "time" in frame and "event" in frame:
        names.append("")
    return names


def survival_column(horizon: float) -> str:
    """The survival-predictions column holding S(horizon | x), e.g. ``survival_at_12``."""
    return f"survival_at_{horizon:g}"


def model_names(predictions: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(predictions["model"].astype(str)))


def filter_predictions(predictions: pd.DataFrame, filters: Mapping[str, Any]) -> pd.DataFrame:
    """Rows matching every filter: a list (categorical values) or a (low, high) tuple (numeric range)."""
    mask = np.ones(len(predictions), dtype=bool)
    for column, wanted in filters.items():
        if column not in predictions or wanted is None:
            continue
        values = predictions[column]
        if isinstance(wanted, tuple):
            mask &= values.between(*wanted).to_numpy()
        else:
            mask &= values.astype(str).isin([str(w) for w in wanted]).to_numpy()
    return predictions[mask]


def is_external(split: str) -> bool:
    """An external validation cohort: ``external`` or ``external_<centre>``."""
    return str(split).startswith("external")


def split_order(split: str) -> tuple[int, str]:
    """Sort key: train, internal, the external cohorts (by name), then any other split alphabetically."""
    split = str(split)
    rank = {"train": 0, "internal": 1}.get(split, 2 if is_external(split) else 9)
    return rank, split


def headline_models(models: Sequence[str]) -> list[str]:
    """The models a page or figure shows first: the single families and the full fusion (Clinical, Rad, DL, Combined)
    when the study has at least two of them, else the first three."""
    preferred = [m for m in ("Clinical", "Rad", "DL", "Combined") if m in models]
    return preferred if len(preferred) >= 2 else list(models)[:3]


def ordered_splits(predictions: pd.DataFrame | Sequence[str]) -> list[str]:
    """The table's cohorts (or the given split names) in reading order: train, internal, the external cohorts."""
    names = (
        predictions["split"].astype(str).unique()
        if isinstance(predictions, pd.DataFrame)
        else {str(s) for s in predictions}
    )
    return sorted(names, key=split_order)


def held_out_splits(splits: Any) -> list[str]:
    """The validation cohorts (every split but train) in reading order."""
    return [s for s in ordered_splits(pd.Series(splits, dtype=str).unique().tolist()) if s != "train"]


def cohort_columns(predictions: pd.DataFrame) -> list[str]:
    """The patient-level columns of a predictions table (label, center, clinical ...) for a Table 1: everything but
    ids, model outputs, split and survival times/events."""
    return [
        c
        for c in predictions.columns
        if c not in ("patient_id", "model", "classifier", "prob", "split", "recalibrated")
        and not c.endswith(("_time", "_event"))
    ]


def filterable_columns(predictions: pd.DataFrame) -> dict[str, str]:
    """Cohort columns a user can filter on: ``categorical`` (2 to 12 values) or ``numeric``."""
    skip = {"patient_id", "model", "classifier", "prob", "recalibrated", OUTCOME, *outcome_columns(predictions)}
    kinds = {}
    for column in predictions.columns:
        if column in skip:
            continue
        values = predictions[column]
        if pd.api.types.is_numeric_dtype(values) and values.nunique() > 12:
            kinds[column] = "numeric"
        elif 1 < values.nunique() <= 12:  # a column with one value (e.g. split "all") filters nothing
            kinds[column] = "categorical"
    return kinds


def filter_choices(predictions: pd.DataFrame) -> dict[str, tuple[str, list[str] | tuple[float, float]]]:
    """Each filterable column's choices: ``("categorical", sorted levels as text)`` or ``("numeric", (min, max))``
    (missing values left out), in the table's column order."""
    choices: dict[str, tuple[str, list[str] | tuple[float, float]]] = {}
    for column, kind in filterable_columns(predictions).items():
        values = predictions[column].dropna()
        if kind == "categorical":
            choices[column] = (kind, sorted(values.astype(str).unique()))
        else:
            choices[column] = (kind, (float(values.min()), float(values.max())))
    return choices


def wide(predictions: pd.DataFrame, split: str | None = None) -> pd.DataFrame:
    """One row per patient, one probability column per model (for paired comparisons)."""
    rows = predictions if split is None else predictions[predictions["split"] == split]
    index = ["patient_id", *[c for c in outcome_columns(rows) if c in rows]]
    table = rows.pivot_table(index=index, columns="model", values="prob", aggfunc="first").reset_index()
    table.columns.name = None
    return table.dropna()


def survival_as_predictions(survival: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """Survival-model risks of one endpoint in the shape of the predictions table (``prob`` = the risk score, which
    is not a probability) so that the survival comparisons run on them unchanged."""
    rows = survival[survival["endpoint"] == endpoint].copy()
    rows = rows.rename(columns={"risk": "prob", "time": f"{endpoint}_time", "event": f"{endpoint}_event"})
    rows["model"] = rows["model"] + " (" + rows["method"] + ")"
    rows["classifier"] = rows["method"]
    return rows.drop(columns=["endpoint", "method"])
