"""Feature selection as scikit-learn transformers, so that a Pipeline fits them on training folds only.

Steps used in published radiomics studies: variance filter, ICC filter (inter-reader reproducibility), Pearson
correlation filter (|r| > 0.8: keep the feature more related to the outcome), univariate test (t-test or
Mann-Whitney U by normality, p < 0.05), LASSO (L1 logistic regression, penalty by CV), RFE with a decision tree.
Each keeps at least ``min_features`` so that a fold with a weak signal still yields a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_selection import RFE
from sklearn.linear_model import LogisticRegressionCV
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.validation import check_is_fitted

from engine.errors import ValidationError


class _Selector(TransformerMixin, BaseEstimator):
    """Base: subclasses set ``support_`` (a boolean mask over the input columns) in ``fit``."""

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "support_")
        return np.asarray(X)[:, self.support_]

    def get_support(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = np.asarray(
            input_features
            if input_features is not None
            else getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.support_.size)])
        )
        return names[self.support_]

    def _keep_top(self, scores: np.ndarray, keep: np.ndarray, minimum: int) -> np.ndarray:
        if keep.sum() >= minimum:
            return keep
        top = np.argsort(-np.nan_to_num(scores, nan=-np.inf))[:minimum]
        keep = keep.copy()
        keep[top] = True
        return keep


class VarianceFilter(_Selector):
    """Drop (near-)constant features."""

    def __init__(self, threshold: float = 1e-8):
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> VarianceFilter:
        self.support_ = np.nanvar(np.asarray(X, dtype=float), axis=0) > self.threshold
        if not self.support_.any():
            raise ValidationError("every feature is constant on these training patients; nothing to model.")
        return self


def icc(reader1: pd.DataFrame, reader2: pd.DataFrame, kind: str = "2,1") -> pd.Series:
    """Intraclass correlation per feature between two readers' features on the same patients.

    ``kind="2,1"``: two-way random effects, absolute agreement, single rater (Shrout & Fleiss ICC(2,1));
    ``"3,1"``: two-way mixed, consistency. From the two-way ANOVA mean squares of n patients x k = 2 readers.
    """
    if list(reader1.columns) != list(reader2.columns) or len(reader1) != len(reader2):
        raise ValidationError(
            "reader1 and reader2 must have the same feature columns and the same patients in the same order."
        )
    a, b = reader1.to_numpy(float), reader2.to_numpy(float)
    n, k = a.shape[0], 2
    data = np.stack([a, b], axis=2)  # n x features x k
    grand = data.mean(axis=(0, 2))
    subject = data.mean(axis=2)
    rater = data.mean(axis=0)
    ss_rows = k * ((subject - grand) ** 2).sum(axis=0)
    ss_cols = n * ((rater - grand[:, None]) ** 2).sum(axis=1)
    ss_total = ((data - grand[None, :, None]) ** 2).sum(axis=(0, 2))
    ss_error = ss_total - ss_rows - ss_cols
    ms_rows, ms_cols, ms_error = ss_rows / (n - 1), ss_cols / (k - 1), ss_error / ((n - 1) * (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "2,1":
            value = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error + k * (ms_cols - ms_error) / n)
        elif kind == "3,1":
            value = (ms_rows - ms_error) / (ms_rows + (k - 1) * ms_error)
        else:
            raise ValidationError(f"kind must be '2,1' or '3,1'; got {kind!r}.")
    return pd.Series(value, index=reader1.columns, name=f"ICC({kind})")


class ICCFilter(_Selector):
    """Keep features whose inter-reader ICC (computed beforehand on training patients) is >= ``threshold``.

    ``icc_values`` maps feature name -> ICC; features without a value (e.g. clinical ones) are kept.
    """

    def __init__(self, icc_values: dict[str, float] | None = None, threshold: float = 0.75):
        self.icc_values = icc_values
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> ICCFilter:
        names = getattr(X, "columns", None)
        if names is None:
            raise ValidationError("ICCFilter needs a DataFrame (feature names) as input.")
        self.feature_names_in_ = np.asarray(names)
        values = self.icc_values or {}
        self.support_ = np.array([values.get(name, 1.0) >= self.threshold for name in names])
        if not self.support_.any():
            raise ValidationError(
                f"no feature reaches ICC >= {self.threshold}; lower the threshold or check the second reader's masks."
            )
        return self

    def transform(self, X: Any) -> Any:
        check_is_fitted(self, "support_")
        return X.loc[:, self.support_] if isinstance(X, pd.DataFrame) else np.asarray(X)[:, self.support_]


def _outcome_association(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """|point-biserial correlation| of each column with the outcome."""
    centred = X - X.mean(axis=0)
    yc = y - y.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (centred * yc[:, None]).sum(axis=0) / np.sqrt((centred**2).sum(axis=0) * (yc**2).sum())
    return np.abs(np.nan_to_num(r))


class CorrelationFilter(_Selector):
    """Among pairs with |Pearson r| > ``threshold``, keep the feature more associated with the outcome."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold

    def fit(self, X: Any, y: Any) -> CorrelationFilter:
        values = np.asarray(X, dtype=float)
        association = _outcome_association(values, np.asarray(y, dtype=float))
        order = np.argsort(-association)
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.abs(np.nan_to_num(np.corrcoef(values[:, order], rowvar=False)))
        kept: list[int] = []
        for position in range(order.size):
            if all(corr[position, other] <= self.threshold for other in kept):
                kept.append(position)
        self.support_ = np.zeros(values.shape[1], dtype=bool)
        self.support_[order[kept]] = True
        return self


class UnivariateFilter(_Selector):
    """Keep features with p < ``alpha``: t-test when both groups pass Shapiro-Wilk (p > 0.05), else the
    Mann-Whitney U test."""

    def __init__(self, alpha: float = 0.05, min_features: int = 2):
        self.alpha = alpha
        self.min_features = min_features

    def fit(self, X: Any, y: Any) -> UnivariateFilter:
        values = np.asarray(X, dtype=float)
        event = np.asarray(y).astype(bool)
        p = np.ones(values.shape[1])
        for j in range(values.shape[1]):
            a, b = values[event, j], values[~event, j]
            if np.ptp(values[:, j]) == 0:
                continue
            normal = min(a.size, b.size) >= 3 and sps.shapiro(a).pvalue > 0.05 and sps.shapiro(b).pvalue > 0.05
            p[j] = sps.ttest_ind(a, b, equal_var=False).pvalue if normal else sps.mannwhitneyu(a, b).pvalue
        self.p_values_ = p
        self.support_ = self._keep_top(-p, p < self.alpha, self.min_features)
        return self


# The penalties tried: scikit-learn's default grid (12 values from 1e-4 to 1e4) without its three weakest (C >= 351).
# On standardised features those keep nearly every feature, so they select nothing, and liblinear needs hundreds of
# iterations for them on collinear radiomics: one selector fit on 50 demo features took 25.6 s with them, 1.1 s
# without (the same penalty chosen). The other nine values are the default grid's, unchanged.
LASSO_CS = np.logspace(-4, 4, 12)[:9]


class LassoSelector(_Selector):
    """L1-penalised logistic regression with the penalty chosen by ``cv``-fold CV (on the data given to fit, i.e.
    the training fold) among ``LASSO_CS`` (C from 1e-4 to 66); keeps the non-zero coefficients (at least
    ``min_features``). Expects standardised input."""

    def __init__(self, cv: int = 5, min_features: int = 1, seed: int = 0):
        self.cv = cv
        self.min_features = min_features
        self.seed = seed

    def fit(self, X: Any, y: Any) -> LassoSelector:
        model = LogisticRegressionCV(
            Cs=LASSO_CS,
            cv=self.cv,
            l1_ratios=[1.0],
            solver="liblinear",
            scoring="roc_auc",
            max_iter=2000,
            random_state=self.seed,
        ).fit(np.asarray(X, dtype=float), np.asarray(y).astype(int))
        self.coef_ = model.coef_.ravel()
        self.intercept_ = float(model.intercept_[0])
        self.C_ = float(np.ravel(model.C_)[0])
        self.Cs_ = np.asarray(model.Cs_, dtype=float)
        scores = np.asarray(next(iter(model.scores_.values())), dtype=float).reshape(self.cv, len(self.Cs_))
        self.cv_auc_, self.cv_auc_sd_ = scores.mean(axis=0), scores.std(axis=0)
        self.support_ = self._keep_top(np.abs(self.coef_), self.coef_ != 0, self.min_features)
        return self


class RFESelector(_Selector):
    """Recursive feature elimination with a decision tree, down to ``n_features``."""

    def __init__(self, n_features: int = 10, seed: int = 0):
        self.n_features = n_features
        self.seed = seed

    def fit(self, X: Any, y: Any) -> RFESelector:
        values = np.asarray(X, dtype=float)
        keep = min(self.n_features, values.shape[1])
        rfe = RFE(DecisionTreeClassifier(max_depth=4, random_state=self.seed), n_features_to_select=keep, step=0.2).fit(
            values, y
        )
        self.support_ = rfe.support_
        return self


__all__ = [
    "CorrelationFilter",
    "ICCFilter",
    "LassoSelector",
    "RFESelector",
    "UnivariateFilter",
    "VarianceFilter",
    "icc",
]
