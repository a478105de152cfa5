"""The model grid: feature families x classifiers, tuned by cross-validation on the training split only.

For each model (a named combination of feature families, e.g. ``Clinical+Rad``) and each classifier, a Pipeline
(impute -> scale -> the selection steps, by default variance -> correlation -> univariate -> LASSO -> classifier)
is tuned on the training split by stratified k-fold CV (optionally repeated): a randomised search, then, with
``search="refined"``, a second search on a small grid around the best candidate (log-scale parameters x/÷ 2,
integers ± 1). The classifier with the best CV AUC is the model's choice (never chosen on a test cohort). Its
training predictions are out-of-fold; internal and external patients get the pipeline refitted on the whole
training split. Models with deep features are cross-validated on the CNN's folds (engine.models.deep_folds). A
late-fusion model stacks the family models' out-of-fold probabilities with a logistic regression.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV, RepeatedStratifiedKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from engine.common.cluster import Serial, again_if_lost
from engine.errors import ValidationError
from engine.models.spaces import classifier_space, refined_space  # noqa: F401 - re-exported
from engine.features.harmonize import combat_step
from engine.models.deep_folds import FoldedDeepFeatures, deep_cv, fold_columns, has_deep_folds
from engine.common.names import ALL_CLASSIFIERS, DEFAULT_MODELS, DEFAULT_SELECTION, SELECTION_STEPS  # noqa: F401 - re-exported
from engine.common.predictions import held_out_splits
from engine.selection.clinical import NO_CLINICAL, ClinicalSelector, PresentColumns
from engine.selection import CorrelationFilter, LassoSelector, RFESelector, UnivariateFilter, VarianceFilter
from engine.stats import auc

OVERFIT_GAP = 0.1


@dataclasses.dataclass(frozen=True)
class Selection:
    """The selection steps (engine.common.names.SELECTION_STEPS) and their settings."""

    steps: Sequence[str] = DEFAULT_SELECTION
    correlation_threshold: float = 0.8
    univariate_p: float = 0.05
    rfe_features: int = 10

    def transformers(self, seed: int) -> list[tuple[str, Any]]:
        unknown = [s for s in self.steps if s not in SELECTION_STEPS]
        if unknown:
            raise ValidationError(f"selection steps must be among {list(SELECTION_STEPS)}; got {unknown}.")
        make = {
            "variance": lambda: VarianceFilter(),
            "correlation": lambda: CorrelationFilter(self.correlation_threshold),
            "univariate": lambda: UnivariateFilter(self.univariate_p, min_features=2),
            "lasso": lambda: LassoSelector(cv=5, min_features=1, seed=seed),
            "rfe": lambda: RFESelector(self.rfe_features, seed=seed),
        }
        return [(step, make[step]()) for step in self.steps]


@dataclasses.dataclass(frozen=True)
class FeatureTable:
    """Features per patient with the family of each column, outcome and split."""

    frame: pd.DataFrame  # patient_id, split, label, <outcome columns>, features...
    families: Mapping[str, Sequence[str]]  # family -> columns

    def columns(self, families: Sequence[str]) -> list[str]:
        missing = [f for f in families if f not in self.families]
        if missing:
            raise ValidationError(f"model asks for feature families {missing}; the study has {list(self.families)}.")
        return [c for f in families for c in self.families[f]]


def preprocessor(
    frame: pd.DataFrame, columns: Sequence[str], *, after_clinical_selection: bool = False, harmonize: Any = None
) -> ColumnTransformer:
    """Impute and scale numeric columns, impute and one-hot encode categorical ones. ``after_clinical_selection``:
    the columns are picked by name among those still present (a ClinicalSelector before it drops some).
    ``harmonize`` (a ComBat step): its columns, with the centre, go through it before imputation and scaling (one
    branch of this step, so the pipeline's cache hashes the input once)."""
    categorical = [c for c in columns if frame[c].dtype == object or isinstance(frame[c].dtype, pd.CategoricalDtype)]
    numeric = [c for c in columns if c not in categorical]
    parts = []
    if harmonize is not None:
        harmonized = [c for c in numeric if c in set(harmonize.columns)]
        numeric = [c for c in numeric if c not in set(harmonized)]
        branch = make_pipeline(harmonize, SimpleImputer(strategy="median"), StandardScaler())
        parts.append(("harmonized", branch, [harmonize.batch_column, *harmonized]))
    if after_clinical_selection:
        numeric, categorical = PresentColumns([*numeric, NO_CLINICAL]), PresentColumns(categorical)
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric))
    if categorical:
        parts.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(drop="if_binary", handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            )
        )
    return ColumnTransformer(parts, verbose_feature_names_out=False)


def model_pipeline(
    frame: pd.DataFrame,
    columns: Sequence[str],
    classifier: Any,
    *,
    seed: int = 0,
    memory: Any = None,
    smote: bool = False,
    deep_folds: bool = False,
    selection: Selection = Selection(),
    clinical: ClinicalSelector | None = None,
    harmonize: Any = None,
) -> Pipeline:
    """Preprocessing, selection and classifier: every step learns from the training fold only. ``smote=True``
    oversamples the minority class (imbalanced-learn SMOTE) after selection, during fitting only. ``deep_folds``
    puts :class:`FoldedDeepFeatures` first (deep features learned per fold; see engine.models.deep_folds);
    ``clinical`` chooses the clinical predictors (engine.selection.clinical) before preprocessing; ``harmonize``
    (engine.features.harmonize.ComBat) harmonises features across centres inside the preprocessing step."""
    steps = [
        *([("deep_folds", FoldedDeepFeatures())] if deep_folds else []),
        *([("clinical", clinical)] if clinical is not None else []),
        ("prepare", preprocessor(frame, columns, after_clinical_selection=clinical is not None, harmonize=harmonize)),
        *selection.transformers(seed),
    ]
    if smote:
        from imblearn.over_sampling import SMOTE
        from imblearn.pipeline import Pipeline as ResamplingPipeline

        return ResamplingPipeline(
            [*steps, ("smote", SMOTE(random_state=seed)), ("classifier", classifier)], memory=memory
        )
    return Pipeline([*steps, ("classifier", classifier)], memory=memory)


@dataclasses.dataclass
class GridResult:
    predictions: pd.DataFrame  # long form: patient_id, split, model, classifier, prob, label (+ outcome columns)
    grid: (
        pd.DataFrame
    )  # model, classifier, cv_auc, cv_auc_sd, train_auc, <cohort>_auc per validation cohort, search, chosen, overfit
    selected: pd.DataFrame  # model, feature, coefficient (LASSO step of the chosen pipeline)
    pipelines: dict[str, Pipeline]
    timings: dict[str, float]
    classifier_predictions: pd.DataFrame = dataclasses.field(
        default_factory=pd.DataFrame
    )  # every classifier, held-out cohorts


def run_grid(
    table: FeatureTable,
    *,
    models: Mapping[str, Sequence[str]] | None = None,
    classifiers: Sequence[str] = ("LR", "SVM", "RF", "XGBoost"),
    n_iter: int = 4,
    folds: int = 5,
    repeats: int = 1,
    search: str = "random",
    selection: Selection = Selection(),
    seed: int = 0,
    device: str = "cpu",
    stacking: bool = True,
    smote: bool = False,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    clinical_selection: Mapping[str, Any] | None = None,
    harmonization: Mapping[str, Any] | None = None,
) -> GridResult:
    """Tune every classifier for every model on the training split; return predictions for every cohort.
    ``repeats`` > 1 repeats the tuning CV with new shuffles (training predictions stay out-of-fold from one
    k-fold partition); ``search`` is ``random`` or ``refined``; ``n_jobs`` worker processes share the
    cross-validation fits (joblib). ``clinical_selection`` ({method: multivariable | backward_aic, enter_p,
    stay_p}) chooses the clinical predictors inside every fit of a model with the clinical family; the clinical
    model then skips the generic selection steps (the clinical selection is its selection). ``harmonization``
    ({families, unseen}) puts ComBat across centres first in every pipeline of a model with those families."""
    if search not in ("random", "refined"):
        raise ValidationError(f"search must be 'random' or 'refined'; got {search!r}.")
    frame = table.frame
    if "split" not in frame or "label" not in frame:
        raise ValidationError("the feature table needs split and label columns.")
    train = (frame["split"] == "train").to_numpy()
    y = frame["label"].astype(int).to_numpy()
    if train.sum() < 20 or len(np.unique(y[train])) < 2:
        raise ValidationError(
            f"the training split must hold at least 20 patients of both classes; got {int(train.sum())}."
        )
    models = dict(models or {k: v for k, v in DEFAULT_MODELS.items() if all(f in table.families for f in v)})
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    tuning_cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed) if repeats > 1 else cv
    grid_rows, prediction_frames, selected_rows, classifier_frames = [], [], [], []
    held_out = (frame["split"] != "train").to_numpy()
    pipelines, timings, oof = {}, {}, {}
    outcome_columns = [c for c in frame.columns if c == "label" or c.endswith(("_time", "_event"))]
    cohort_columns = [c for c in ("center", *table.families.get("clinical", [])) if c in frame]  # for what-if filters
    with tempfile.TemporaryDirectory() as cache_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inputs, cells = {}, []  # per model: (X, its CV); per (model, classifier): the task tuning that cell
        for model_name, families in models.items():
            columns = table.columns(families)
            folded = has_deep_folds(frame) and any(c in table.families.get("deep", ()) for c in columns)
            harmonize = combat_step(table.frame, table.families, families, harmonization)
            extra = ["center"] if harmonize is not None else []
            X = frame[columns + extra + (fold_columns(frame) if folded else [])]
            model_cv = deep_cv(frame, train) if folded else cv  # deep features: the network's folds, not repeatable
            inputs[model_name] = (X, model_cv)
            clinical = _clinical_step(table, families, clinical_selection)
            steps = Selection(steps=()) if clinical is not None and list(families) == ["clinical"] else selection
            for classifier_name in classifiers:
                estimator, space = classifier_space(classifier_name, seed=seed, device=device)
                pipeline = model_pipeline(
                    frame,
                    columns,
                    estimator,
                    seed=seed,
                    memory=cache_dir,
                    smote=smote,
                    deep_folds=folded,
                    selection=steps,
                    clinical=clinical,
                    harmonize=harmonize,
                )
                space = {f"classifier__{k}": v for k, v in space.items()}
                search_cv = model_cv if folded else tuning_cv
                cells.append((model_name, classifier_name, pipeline, space, search_cv))
        start = time.perf_counter()
        # every model's first cell before any model's second: that first cell fits the model's selection steps
        # (cached for its other cells), so two workers never fit the same selection side by side
        order = sorted(range(len(cells)), key=lambda i: (classifiers.index(cells[i][1]), i))
        submitted = again_if_lost(  # every cell is one task: its searches run inside it, one fit after another
            lambda: _with_progress(
                Parallel(n_jobs=n_jobs, return_as="generator", batch_size=1)(
                    delayed(Serial(_tune_cell))(
                        pipeline, space, n_iter, search_cv, seed, search, inputs[name][0], y, train
                    )
                    for name, _, pipeline, space, search_cv in (cells[i] for i in order)
                ),
                [f"{cells[i][0]} x {cells[i][1]}" for i in order],
                progress or (lambda label: None),
            )
        )
        tuned = [result for _, result in sorted(zip(order, submitted), key=lambda pair: pair[0])]
        best = {}
        for (model_name, classifier_name, *_), (found_row, fitted, prob) in zip(cells, tuned):
            row = {"model": model_name, "classifier": classifier_name, **found_row}
            for split in held_out_splits(frame["split"]):
                mask = (frame["split"] == split).to_numpy()
                row[f"{split}_auc"] = (
                    auc(y[mask], prob[mask]) if mask.any() and len(np.unique(y[mask])) == 2 else np.nan
                )
            grid_rows.append(row)
            classifier_frames.append(_long(frame[held_out], ["label"], model_name, classifier_name, prob[held_out], []))
            if model_name not in best or row["cv_auc"] > best[model_name][0]["cv_auc"]:
                best[model_name] = (row, fitted, prob)
        out_of_fold = again_if_lost(
            lambda: Parallel(n_jobs=n_jobs)(
                delayed(Serial(cross_val_predict))(
                    clone(best[name][1]), inputs[name][0][train], y[train], cv=inputs[name][1], method="predict_proba"
                )
                for name in best
            )
        )
        for model_name, oof_prob in zip(best, out_of_fold):
            row, fitted, prob = best[model_name]
            prob = prob.copy()
            prob[train] = oof_prob[:, 1]
            oof[model_name] = prob
            pipelines[model_name] = fitted
            prediction_frames.append(_long(frame, outcome_columns, model_name, row["classifier"], prob, cohort_columns))
            selected_rows += _selected(fitted, model_name)
        timings["grid"] = time.perf_counter() - start
        if stacking:
            families = [m for m in ("Clinical", "Rad", "DL") if m in oof]
            if len(families) >= 2:
                stacked = np.column_stack([oof[m] for m in families])
                logit = np.log(np.clip(stacked, 1e-6, 1 - 1e-6) / (1 - np.clip(stacked, 1e-6, 1 - 1e-6)))
                stacker = LogisticRegression(max_iter=2000).fit(logit[train], y[train])
                prob = stacker.predict_proba(logit)[:, 1]
                prob[train] = cross_val_predict(
                    LogisticRegression(max_iter=2000), logit[train], y[train], cv=cv, method="predict_proba"
                )[:, 1]
                name = "Stacked(" + "+".join(families) + ")"
                prediction_frames.append(_long(frame, outcome_columns, name, "LR-stack", prob, cohort_columns))
                selected_rows += [
                    {"model": name, "feature": f"logit({m})", "coefficient": float(c)}
                    for m, c in zip(families, stacker.coef_.ravel())
                ]
    grid = pd.DataFrame(grid_rows)
    grid["chosen"] = grid.groupby("model")["cv_auc"].transform("max") == grid["cv_auc"]
    grid["overfit"] = (grid["train_auc"] - grid["internal_auc"]) > OVERFIT_GAP if "internal_auc" in grid else False
    classifier_predictions = pd.concat(classifier_frames, ignore_index=True) if classifier_frames else pd.DataFrame()
    return GridResult(
        pd.concat(prediction_frames, ignore_index=True),
        grid,
        pd.DataFrame(selected_rows),
        pipelines,
        timings,
        classifier_predictions,
    )


def _clinical_step(
    table: FeatureTable, families: Sequence[str], settings: Mapping[str, Any] | None
) -> ClinicalSelector | None:
    if not settings or settings.get("method", "none") == "none" or "clinical" not in families:
        return None
    return ClinicalSelector(
        list(table.families["clinical"]),
        settings["method"],
        settings.get("enter_p", 0.05),
        settings.get("stay_p", 0.05),
    )


def _tune_cell(
    pipeline: Pipeline,
    space: Mapping[str, Any],
    n_iter: int,
    cv: Any,
    seed: int,
    search: str,
    X: pd.DataFrame,
    y: np.ndarray,
    train: np.ndarray,
) -> tuple[dict[str, Any], Pipeline, np.ndarray]:
    """One (model, classifier) cell: the randomised search on the training patients (then the refined one when it
    scores higher), and the best pipeline's probabilities for every patient. Runs as one task (a local worker
    process or a Dask worker) under ``run_grid``'s warning filters (``Serial``); every fit inside it runs one after
    another."""
    found, stage = _search(pipeline, space, n_iter, cv, seed, 1, X[train], y[train]), "random"
    if search == "refined":
        refined = _search(pipeline, refined_space(space, found.best_params_), n_iter, cv, seed, 1, X[train], y[train])
        if refined.best_score_ > found.best_score_:
            found, stage = refined, "refined"
    fitted = with_probabilities(found.best_estimator_, X[train], y[train])
    prob = fitted.predict_proba(X)[:, 1]
    row = {
        "cv_auc": float(found.best_score_),
        "cv_auc_sd": float(found.cv_results_["std_test_score"][found.best_index_]),
        "train_auc": auc(y[train], prob[train]),
        "search": stage,
        "params": str(found.best_params_),
    }
    return row, fitted, prob


def with_probabilities(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray) -> Pipeline:
    """The pipeline itself, or, when its classifier gives no probabilities (an SVM), the pipeline refitted with the
    classifier inside Platt scaling: a sigmoid of its decision function fitted on 5-fold cross-validated decisions
    of the training patients, the SVM itself refitted on all of them (scikit-learn's CalibratedClassifierCV,
    ensemble=False: what SVC(probability=True), deprecated in scikit-learn 1.9, did inside libsvm). The search
    scores candidates by their decision function, so only the chosen candidate pays for the extra fits. The sigmoid
    keeps the decision's order (its slope is fitted; it is increasing whenever the decisions rank the training
    patients better than chance), so the AUCs are the decision function's."""
    from sklearn.calibration import CalibratedClassifierCV

    classifier = pipeline.named_steps["classifier"]
    if hasattr(classifier, "predict_proba"):
        return pipeline
    calibrated = CalibratedClassifierCV(clone(classifier), method="sigmoid", cv=5, ensemble=False)
    return clone(pipeline).set_params(classifier=calibrated).fit(X, y)


def _with_progress(results: Any, labels: Sequence[str], progress: Callable[[str], None]) -> list[Any]:
    """The results of a joblib generator in order, announcing each cell when its result arrives."""
    collected = []
    for label, result in zip(labels, results):
        progress(label)
        collected.append(result)
    return collected


def _search(
    pipeline: Pipeline,
    space: Mapping[str, Any],
    n_iter: int,
    cv: Any,
    seed: int,
    n_jobs: int,
    X: pd.DataFrame,
    y: np.ndarray,
) -> RandomizedSearchCV:
    """Randomised search (every combination when the space is a grid no larger than ``n_iter``)."""
    return RandomizedSearchCV(
        pipeline, space, n_iter=n_iter, scoring="roc_auc", cv=cv, random_state=seed, n_jobs=n_jobs, error_score=np.nan
    ).fit(X, y)


def _long(
    frame: pd.DataFrame, outcome_columns: list[str], model: str, classifier: str, prob: np.ndarray, extra: list[str]
) -> pd.DataFrame:
    out = frame[["patient_id", "split", *outcome_columns, *extra]].copy()
    out.insert(2, "model", model)
    out.insert(3, "classifier", classifier)
    out.insert(4, "prob", prob)
    return out


def _selected(pipeline: Pipeline, model_name: str) -> list[dict[str, Any]]:
    """Features surviving every selection step, with the LASSO coefficients (standardised scale; NaN when the
    selection has no LASSO step, e.g. RFE only)."""
    names = np.asarray(pipeline.named_steps["prepare"].get_feature_names_out())
    coefficients = np.full(len(names), np.nan)
    intercept = None
    for step in [s for s in pipeline.named_steps if s in SELECTION_STEPS]:
        selector = pipeline.named_steps[step]
        if step == "lasso":
            coefficients, intercept = selector.coef_, selector.intercept_
        elif coefficients.size == len(names):
            coefficients = coefficients[selector.support_]
        names = names[selector.support_]
    rows = [
        {"model": model_name, "feature": str(n), "coefficient": float(c)} for n, c in zip(names, coefficients) if c != 0
    ]
    if intercept is not None:
        rows.append({"model": model_name, "feature": "(intercept)", "coefficient": intercept})
    return rows
