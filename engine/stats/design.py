"""Treatment (dummy) coding of a table with numeric and categorical columns, as R's default contrasts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from engine.errors import ValidationError


@dataclasses.dataclass(frozen=True)
class Term:
    """One predictor: numeric (one column) or categorical (one column per non-reference level)."""

    variable: str
    kind: str  # "numeric" or "categorical"
    levels: tuple[str, ...] = ()  # categorical: all levels, the first is the reference

    @property
    def columns(self) -> list[str]:
        if self.kind == "numeric":
            return [self.variable]
        return [f"{self.variable}={level}" for level in self.levels[1:]]


def is_categorical(values: pd.Series) -> bool:
    return (
        isinstance(values.dtype, pd.CategoricalDtype)
        or values.dtype == object
        or values.dtype == bool
        or pd.api.types.is_string_dtype(values)
    )


def learn_terms(frame: pd.DataFrame, *, drop_constant: bool = False) -> list[Term]:
    """Numeric columns stay; categorical columns get their sorted levels (the first is the reference).
    ``drop_constant=True`` skips columns with a single value (a small training fold) instead of raising."""
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"X must be a pandas DataFrame with named predictors; got {type(frame).__name__}.")
    terms = []
    for name in frame.columns:
        column = frame[name]
        if column.isna().any():
            raise ValidationError(
                f"X[{name!r}] must not contain missing values; got {int(column.isna().sum())}. Impute or drop them."
            )
        if is_categorical(column):
            if isinstance(column.dtype, pd.CategoricalDtype):
                levels = tuple(str(v) for v in column.cat.categories)
            else:
                levels = tuple(sorted(str(v) for v in column.unique()))
            if len(levels) < 2:
                if drop_constant:
                    continue
                raise ValidationError(
                    f"X[{name!r}] must have at least two levels; got {list(levels)}. Drop the column."
                )
            terms.append(Term(str(name), "categorical", levels))
        elif drop_constant and column.nunique() < 2:
            continue
        else:
            terms.append(Term(str(name), "numeric"))
    return terms


def design_matrix(frame: pd.DataFrame, terms: list[Term], *, handle_unknown: str = "error") -> pd.DataFrame:
    """The model matrix for ``terms`` (no intercept column). A level unseen in training raises, or with
    ``handle_unknown="ignore"`` gets zeros in every dummy (as scikit-learn's OneHotEncoder), i.e. the reference."""
    missing = [term.variable for term in terms if term.variable not in frame.columns]
    if missing:
        raise ValidationError(f"X must have the predictor columns {missing}; got {list(frame.columns)}.")
    columns = {}
    for term in terms:
        values = frame[term.variable]
        if term.kind == "numeric":
            columns[term.variable] = pd.to_numeric(values, errors="raise").astype(float).to_numpy()
            continue
        text = values.astype(str).to_numpy()
        unknown = sorted(set(text) - set(term.levels))
        if unknown and handle_unknown != "ignore":
            raise ValidationError(
                f"X[{term.variable!r}] has levels {unknown} unseen in training ({list(term.levels)})."
            )
        for level in term.levels[1:]:
            columns[f"{term.variable}={level}"] = (text == level).astype(float)
    return pd.DataFrame(columns, index=frame.index)


def coefficient_table(
    names: list[str], coef: np.ndarray, se: np.ndarray, z_crit: float, exponentiate: str
) -> pd.DataFrame:
    """coef, se, z, p, and the exponentiated estimate (OR or HR) with its CI."""
    from scipy import stats as sps

    with np.errstate(divide="ignore", invalid="ignore"):
        z = coef / se
    return pd.DataFrame(
        {
            "term": names,
            "coef": coef,
            "se": se,
            "z": z,
            "p_value": 2 * sps.norm.sf(np.abs(z)),
            exponentiate: np.exp(coef),
            "ci_low": np.exp(coef - z_crit * se),
            "ci_high": np.exp(coef + z_crit * se),
        }
    )
