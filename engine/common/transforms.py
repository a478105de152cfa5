"""Deterministic per-patient transforms of clinical columns, applied before any modelling (no outcome is used,
so there is nothing to fit on training folds). Heavy-tailed laboratory values such as AFP (1 to 100,000 ng/mL)
are modelled on the log scale in published HCC studies; on the raw scale a Cox or logistic fit is driven by a
few extreme patients and may have no finite maximum."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from engine.errors import ValidationError


def log_name(column: str) -> str:
    return f"log10_{column}"


def log_value(value: float) -> float:
    """A value in original units on the scale of a log10_<name> predictor (the inverse of original_value_text)."""
    return float(np.log10(float(value)))


def original_value_text(log_value: float) -> str:
    """A log10 value shown in original units: 3 -> '1,000', 0.5 -> '3.16'."""
    value = 10 ** float(log_value)
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def original_name(column: str) -> str | None:
    """'log10_afp' -> 'afp' (a column the study log-transformed); None for any other column."""
    return column.removeprefix("log10_") if column.startswith("log10_") and len(column) > 6 else None


def log_transform(
    table: pd.DataFrame, columns: Sequence[str], clinical: Sequence[str] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Replace each of ``columns`` by ``log10_<column>``; returns the table and ``clinical`` with the new names.
    Every column must be numeric and positive where present (missing values stay missing)."""
    problems = []
    for column in columns:
        if column not in table:
            problems.append(f"{column}: not a column of the table")
            continue
        values = pd.to_numeric(table[column], errors="coerce")
        bad = table.loc[values.isna() & table[column].notna(), "patient_id"].astype(str).tolist()
        bad += table.loc[values <= 0, "patient_id"].astype(str).tolist()
        if bad:
            problems.append(
                f"{column}: needs positive numbers; patients {', '.join(bad[:10])}{' ...' if len(bad) > 10 else ''}"
            )
    if problems:
        raise ValidationError(
            "cohort.log_transform cannot take the log of:\n  - "
            + "\n  - ".join(problems)
            + "\nFix the values or leave the column out of cohort.log_transform."
        )
    out = table.copy()
    for column in columns:
        position = out.columns.get_loc(column)
        values = np.log10(pd.to_numeric(out.pop(column)))
        out.insert(position, log_name(column), values)
    renamed = [log_name(c) if c in columns else c for c in clinical]
    return out, renamed
