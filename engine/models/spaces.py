"""Each classifier of the grid with its hyperparameter distributions (randomised search), and the refined grid
around a search's best candidate."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scipy.stats import loguniform, randint
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from engine.errors import ValidationError
from engine.common.names import ALL_CLASSIFIERS, DEFAULT_MODELS, DEFAULT_SELECTION, SELECTION_STEPS  # noqa: F401 - re-exported


def classifier_space(name: str, *, seed: int = 0, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """The estimator and its hyperparameter distributions for randomised search."""
    spaces: dict[str, Callable[[], tuple[Any, dict[str, Any]]]] = {
        "LR": lambda: (LogisticRegression(max_iter=5000), {"C": loguniform(1e-3, 1e2)}),
        "SVM": lambda: (
            SVC(random_state=seed),  # probabilities for the chosen candidate only (engine.models.grid)
            {"C": loguniform(1e-2, 1e2), "gamma": loguniform(1e-4, 1e-1)},
        ),
        "RF": lambda: (
            RandomForestClassifier(n_estimators=150, random_state=seed, n_jobs=1),
            {"max_depth": [2, 3, 5, None], "min_samples_leaf": randint(1, 10), "max_features": ["sqrt", 0.3]},
        ),
        "KNN": lambda: (KNeighborsClassifier(), {"n_neighbors": randint(5, 40), "weights": ["uniform", "distance"]}),
        "DT": lambda: (
            DecisionTreeClassifier(random_state=seed),
            {"max_depth": randint(2, 6), "min_samples_leaf": randint(3, 20)},
        ),
        "MLP": lambda: (
            MLPClassifier(max_iter=2000, random_state=seed),
            {"alpha": loguniform(1e-4, 1e0), "hidden_layer_sizes": [(16,), (32,), (32, 16)]},
        ),
        "AdaBoost": lambda: (
            AdaBoostClassifier(random_state=seed),
            {"n_estimators": randint(50, 200), "learning_rate": loguniform(0.01, 1)},
        ),
        "GBDT": lambda: (
            GradientBoostingClassifier(random_state=seed),
            {"n_estimators": randint(50, 200), "max_depth": randint(1, 4), "learning_rate": loguniform(0.01, 0.3)},
        ),
        "XGBoost": lambda: _xgboost(seed, device),
        "LightGBM": lambda: _lightgbm(seed),
    }
    if name not in spaces:
        raise ValidationError(f"classifier must be one of {list(spaces)}; got {name!r}.")
    return spaces[name]()


def _xgboost(seed: int, device: str):
    from xgboost import XGBClassifier

    return (
        XGBClassifier(n_estimators=150, tree_method="hist", device=device, random_state=seed, n_jobs=1, verbosity=0),
        {
            "max_depth": randint(2, 5),
            "learning_rate": loguniform(0.01, 0.3),
            "subsample": [0.7, 1.0],
            "reg_lambda": loguniform(0.1, 10),
        },
    )


def _lightgbm(seed: int):
    from lightgbm import LGBMClassifier

    return (
        LGBMClassifier(n_estimators=150, random_state=seed, n_jobs=1, verbose=-1),
        {"num_leaves": randint(4, 32), "learning_rate": loguniform(0.01, 0.3), "min_child_samples": randint(5, 30)},
    )


def refined_space(space: Mapping[str, Any], best: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A small grid around the best candidate of a randomised search: log-uniform parameters x 1/2, 1, 2 and
    integer parameters -1, 0, +1 (both kept inside the distribution's support); list parameters stay at the
    best value."""
    refined = {}
    for name, distribution in space.items():
        value = best[name]
        if isinstance(distribution, list) or not hasattr(distribution, "support"):
            refined[name] = [value]
            continue
        low, high = distribution.support()
        if distribution.dist.name == "randint":
            candidates = [value - 1, value, value + 1]
        else:
            candidates = [value / 2, value, value * 2]
        refined[name] = sorted({type(value)(min(max(c, low), high)) for c in candidates})
    return refined
