"""Models: interpretable regression models (logistic, Cox, LASSO-Cox) with summary tables; the classifier grid."""

from engine.models.regression import CoxModel, LassoCoxModel, LogisticModel

__all__ = ["CoxModel", "LassoCoxModel", "LogisticModel"]
