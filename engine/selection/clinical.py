"""Clinical predictors chosen as the papers choose them, as a pipeline step fitted on each training fold.

:class:`ClinicalSelector` runs engine.stats.select_clinical (univariable then multivariable logistic regression, or
backward AIC) on the clinical columns of the rows it is fitted on, and drops the clinical columns it did not choose;
other families' columns pass through. Inside the grid's cross-validation it is refitted on every fold, so the
choice never sees the left-out patients. When no clinical predictor is chosen and nothing else remains, it passes
one constant column, so that the model predicts the training event rate (AUC 0.5) instead of failing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

NO_CLINICAL = "no_clinical_predictor"


class ClinicalSelector(TransformerMixin, BaseEstimator):
    """Keep the clinical ``columns`` chosen by ``method`` (multivariable or backward_aic) on the fitted rows."""

    def __init__(
        self, columns: Sequence[str] = (), method: str = "multivariable", enter_p: float = 0.05, stay_p: float = 0.05
    ):
        self.columns = columns
        self.method = method
        self.enter_p = enter_p
        self.stay_p = stay_p

    def fit(self, X: pd.DataFrame, y) -> ClinicalSelector:
        from engine.stats.regression import select_clinical

        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        clinical = [c for c in self.columns if c in X]
        data = X[clinical].reset_index(drop=True).assign(__outcome__=np.asarray(y).astype(int))
        selection = select_clinical(
            data, clinical, method=self.method, enter_p=self.enter_p, stay_p=self.stay_p, outcome="__outcome__"
        )
        self.chosen_ = list(selection.chosen)
        self.reason_ = selection.reason  # plain attributes only: the fitted pipeline is saved with skops
        self.dropped_ = [c for c in clinical if c not in self.chosen_]
        self.placeholder_ = len(self.chosen_) == 0 and len(X.columns) == len(clinical)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "chosen_")
        out = X.drop(columns=[c for c in self.dropped_ if c in X])
        if self.placeholder_:
            out = pd.DataFrame({NO_CLINICAL: np.zeros(len(X))}, index=X.index)
        return out


def input_columns(pipeline) -> list[str]:
    """The feature columns a fitted model pipeline takes (before any clinical selection), without deep fold blocks."""
    first = "clinical" if "clinical" in pipeline.named_steps else "prepare"
    return list(pipeline.named_steps[first].feature_names_in_)


class PresentColumns:
    """Column selector for a ColumnTransformer after :class:`ClinicalSelector`: the given columns still present."""

    def __init__(self, columns: Sequence[str]):
        self.columns = list(columns)

    def __call__(self, X: pd.DataFrame) -> list[str]:
        return [c for c in self.columns if c in X]
