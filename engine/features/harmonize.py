"""ComBat harmonisation of features across centres (scanners), as a scikit-learn step fitted on training data only.

The published empirical-Bayes method (Johnson, Li & Rabinovic, Biostatistics 2007) as R's ``sva::ComBat`` computes
it with ``mod = NULL`` (no covariates: the outcome must not enter, it is unknown for new patients) and
``par.prior = TRUE``; ``tests/reference/combat.R`` holds the reference. For each feature g and centre i:

    standardise   z = (x - grand_mean_g) / sqrt(pooled_var_g)   (centre means weighted by size; variance / n)
    estimate      gamma_ig = mean of z in centre i, delta_ig = variance of z in centre i
    shrink        gamma*, delta* = posterior means under normal / inverse-gamma priors fitted across features
    adjust        x* = (z - gamma*_ig) / sqrt(delta*_ig) * sqrt(pooled_var_g) + grand_mean_g

Why not a package: neuroCombat and neuroHarmonize harmonise a whole table at once or apply to the centres they were
fitted on; an external centre never seen in training needs a rule. ``unseen="own"`` estimates that centre's
location and scale on its own features (no outcomes) with the training centres' standardisation, as in the
literature on ComBat for new sites; ``unseen="none"`` leaves it as it is. Both are stated in the methods text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from engine.errors import ValidationError

UNSEEN = ("own", "none")


def _priors(delta_hat: np.ndarray) -> tuple[float, float]:
    """Inverse-gamma hyperparameters (a, b) of one centre's variances by the method of moments (sva's aprior/bprior)."""
    m, s2 = np.nanmean(delta_hat), np.nanvar(delta_hat, ddof=1)
    return (2 * s2 + m**2) / s2, (m * s2 + m**3) / s2


def _shrink(z: np.ndarray, *, tolerance: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """The empirical-Bayes location and scale (gamma*, delta*) per feature of one centre's standardised data ``z``
    (patients x features), iterated as sva's ``it.sol``."""
    n = np.sum(~np.isnan(z), axis=0)
    gamma_hat = np.nanmean(z, axis=0)
    if z.shape[0] < 2:  # one patient: location only (sva's mean.only for a batch of one)
        return gamma_hat, np.ones_like(gamma_hat)
    delta_hat = np.nanvar(z, axis=0, ddof=1)
    gamma_bar, tau2 = np.nanmean(gamma_hat), np.nanvar(gamma_hat, ddof=1)
    a, b = _priors(delta_hat)
    gamma_old, delta_old = gamma_hat, delta_hat
    for _ in range(1000):
        gamma_new = (tau2 * n * gamma_hat + delta_old * gamma_bar) / (tau2 * n + delta_old)
        sum2 = np.nansum((z - gamma_new) ** 2, axis=0)
        delta_new = (0.5 * sum2 + b) / (n / 2 + a - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.nanmax(
                np.concatenate([np.abs(gamma_new - gamma_old) / gamma_old, np.abs(delta_new - delta_old) / delta_old])
            )
        gamma_old, delta_old = gamma_new, delta_new
        if change <= tolerance:
            break
    return gamma_old, delta_old


class ComBat(TransformerMixin, BaseEstimator):
    """Harmonise ``columns`` across the centres in ``batch_column`` (dropped from the output).

    Fitted on the training fold only (it sits in the model pipeline); centres seen in fitting get their learned
    location/scale; a centre not seen follows ``unseen`` (``own`` or ``none``). Features with no spread in training
    are passed through unchanged.
    """

    def __init__(self, columns: Sequence[str] = (), batch_column: str = "center", unseen: str = "own"):
        self.columns = columns
        self.batch_column = batch_column
        self.unseen = unseen

    def _check(self, X: pd.DataFrame) -> tuple[list[str], np.ndarray]:
        if self.unseen not in UNSEEN:
            raise ValidationError(f"harmonization.unseen must be one of {list(UNSEEN)}; got {self.unseen!r}.")
        if self.batch_column not in X:
            raise ValidationError(
                f"ComBat harmonisation needs the {self.batch_column!r} column (the centre of each patient); add it to "
                "the manifest or feature table, or turn harmonization off."
            )
        batch = X[self.batch_column].astype(str).to_numpy()
        return [c for c in self.columns if c in X], batch

    def fit(self, X: pd.DataFrame, y=None) -> ComBat:
        columns, batch = self._check(X)
        values = X[columns].to_numpy(float)
        self.batches_ = sorted(set(batch))
        counts = np.array([np.sum(batch == b) for b in self.batches_])
        means = np.vstack([np.nanmean(values[batch == b], axis=0) for b in self.batches_])
        self.grand_mean_ = counts @ means / counts.sum()
        residual = values - means[[self.batches_.index(b) for b in batch]]
        self.pooled_var_ = np.nanmean(residual**2, axis=0)
        self.kept_ = self.pooled_var_ > 0
        z = self._standardise(values)
        self.gamma_, self.delta_ = {}, {}
        for name in self.batches_:
            self.gamma_[name], self.delta_[name] = _shrink(z[batch == name][:, self.kept_])
        self.columns_ = columns
        self.feature_names_in_ = np.array(list(X.columns), dtype=object)
        return self

    def _standardise(self, values: np.ndarray) -> np.ndarray:
        scale = np.sqrt(np.where(self.pooled_var_ > 0, self.pooled_var_, 1.0))
        return (values - self.grand_mean_) / scale

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        _, batch = self._check(X)
        values = X[self.columns_].to_numpy(float)
        z = self._standardise(values)[:, self.kept_]
        adjusted = values.copy()
        scale = np.sqrt(self.pooled_var_[self.kept_])
        for name in np.unique(batch):
            rows = batch == name
            if name in self.gamma_:
                gamma, delta = self.gamma_[name], self.delta_[name]
            elif self.unseen == "none":
                continue
            elif rows.sum() < 2:
                raise ValidationError(
                    f"ComBat: centre {name!r} was not in the training data and has {int(rows.sum())} patient here; "
                    "its own location and scale need at least 2 patients (score the centre's patients together, "
                    "or set harmonization.unseen: none)."
                )
            else:
                gamma, delta = _shrink(z[rows])
            adjusted[np.ix_(rows, np.flatnonzero(self.kept_))] = (z[rows] - gamma) / np.sqrt(
                delta
            ) * scale + self.grand_mean_[self.kept_]
        kept = [c for c in X.columns if c != self.batch_column]
        others = X[[c for c in kept if c not in set(self.columns_)]]
        harmonised = pd.DataFrame(adjusted, index=X.index, columns=self.columns_)
        return pd.concat([others, harmonised], axis=1)[kept]  # one block, not one column assignment per feature

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.array([c for c in self.feature_names_in_ if c != self.batch_column], dtype=object)


def combat_step(
    frame: pd.DataFrame,
    families: Mapping[str, Sequence[str]],
    model_families: Sequence[str],
    settings: Mapping[str, Any] | None,
) -> ComBat | None:
    """The one ComBat step of a model, for both grids (grid.harmonization: ``families``, ``unseen``): the columns of
    the model's families that are harmonised, by centre; None when the model has none. The classifier grid runs it
    first in its preprocessing branch (then imputation and scaling); the survival grid first in the pipeline (its
    estimators impute and scale themselves). Fitted inside every training fold either way."""
    wanted = [f for f in model_families if f in set((settings or {}).get("families", ()))]
    if not wanted:
        return None
    if "center" not in frame or frame["center"].nunique() < 2:
        raise ValidationError(
            "harmonization needs a center column with at least two centres; add one, or set "
            "grid.harmonization.families: []."
        )
    columns = [c for family in wanted for c in families[family]]
    return ComBat(columns=columns, batch_column="center", unseen=settings.get("unseen", "own"))
