"""Deep features learned inside cross-validation, used without leakage by the model grid.

A CNN's penultimate-layer features have no fixed meaning: each network (one per fold, and the final one trained
on the whole training split) lays out its own feature space, so out-of-fold features from different fold
networks cannot share one column. ``engine.features.deep.deep_features`` therefore returns, besides the final
network's features ``dl_*`` for every patient, each fold network's features of every training patient
(``dlfold<k>_*``) and the fold of each training patient (``deep_fold``, -1 outside training).

:class:`FoldedDeepFeatures` is the first step of a pipeline that uses the deep family. When it is fitted on the
training patients of every fold but fold ``k`` (a cross-validation fit on the deep folds), it keeps fold network
``k``'s features, which never saw fold ``k``'s labels; when fitted on all training patients (the final fit), it
keeps the final network's. The same choice is applied at prediction time, so a cross-validation fit is scored on
features from a network that did not see the scored patients. :func:`deep_cv` gives the matching splitter.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.model_selection import PredefinedSplit

FOLD_COLUMN = "deep_fold"
_FOLD_BLOCK = re.compile(r"^dlfold(\d+)_(\d+)$")


def has_deep_folds(frame: pd.DataFrame) -> bool:
    return FOLD_COLUMN in frame


def fold_columns(frame: pd.DataFrame) -> list[str]:
    """The per-fold feature columns and the fold column (what a pipeline with :class:`FoldedDeepFeatures` needs)."""
    return [c for c in frame if _FOLD_BLOCK.match(c)] + ([FOLD_COLUMN] if FOLD_COLUMN in frame else [])


def deep_cv(frame: pd.DataFrame, train: np.ndarray) -> PredefinedSplit:
    """Cross-validation on the training rows whose folds are the deep network's folds."""
    return PredefinedSplit(frame.loc[train, FOLD_COLUMN].to_numpy(int))


class FoldedDeepFeatures(BaseEstimator, TransformerMixin):
    """Replace ``dl_*`` by the features of the network that did not see the rows left out of this fit."""

    def fit(self, X: pd.DataFrame, y=None) -> FoldedDeepFeatures:
        self.block_ = None
        if FOLD_COLUMN in X:
            folds = {int(f) for f in X[FOLD_COLUMN].dropna().unique() if f >= 0}
            every = {int(m.group(1)) for c in X for m in [_FOLD_BLOCK.match(c)] if m}
            missing = every - folds
            if len(missing) == 1:
                self.block_ = missing.pop()
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        if self.block_ is not None:
            for column in [c for c in X if _FOLD_BLOCK.match(c) and int(_FOLD_BLOCK.match(c).group(1)) == self.block_]:
                out[f"dl_{_FOLD_BLOCK.match(column).group(2)}"] = X[column].to_numpy()
        return out.drop(columns=fold_columns(X))
