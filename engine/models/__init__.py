"""Models: interpretable regression models (logistic, Cox, LASSO-Cox) with summary tables; the classifier grid."""

from typing import Any

__all__ = ["CoxModel", "LassoCoxModel", "LogisticModel"]


def __getattr__(name: str) -> Any:  # lazy: importing engine.common.names must not pull in scikit-learn
    if name in __all__:
        from engine.stats import regression_models

        return getattr(regression_models, name)
    raise AttributeError(name)
