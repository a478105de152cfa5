"""Views that refit a stored run's chosen model on its training patients: the optimism-corrected calibration
(bootstrap) with its caveat, and the LASSO path of the model's selection step."""

from __future__ import annotations


import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.selection.clinical import input_columns


def bias_corrected_calibration(run, model: str, *, n_boot: int = 40, seed: int = 0, n_jobs: int = 1):
    """rms::calibrate-style apparent and bias-corrected curves of a stored model, refitting its whole pipeline
    (selection included) on bootstrap resamples of the training cohort."""
    from engine.stats import calibration_bootstrap

    features = run.features()
    if features is None:
        raise ValidationError("this run does not keep its training features; re-run it with this engine version.")
    pipeline = run.pipeline(model)
    columns = input_columns(pipeline)
    train = features[features["split"] == "train"]
    return calibration_bootstrap(
        pipeline, train[columns], train["label"].to_numpy(int), n_boot=n_boot, seed=seed, n_jobs=n_jobs
    )


def refit_caveat(run, model: str) -> str:
    """What a bootstrap refit of a stored model does not repeat ('' when it repeats everything)."""
    if "deep_folds" in run.pipeline(model).named_steps:
        return (
            "The refits reuse the deep features of the final network (trained on every training patient) instead of "
            "retraining the CNN per resample, so the optimism of the deep-feature learning is not corrected for."
        )
    return ""


def lasso_path(run, model: str, *, n_penalties: int = 40):
    """The LASSO step of a stored model: coefficients over the penalty path (refitted on the training patients'
    features as they reach the LASSO, i.e. after the earlier selection steps) and its cross-validated AUC per
    penalty. Returns (path: log_lambda, feature, coefficient; cv: log_lambda, cv_auc, cv_auc_sd; chosen
    log_lambda). Penalties on glmnet's scale, lambda = 1 / (C n)."""
    from sklearn.linear_model import LogisticRegression

    features = run.features()
    if features is None:
        raise ValidationError("this run does not keep its training features; re-run it with this engine version.")
    pipeline = run.pipeline(model)
    names = list(pipeline.named_steps)
    if "lasso" not in names or not hasattr(pipeline.named_steps["lasso"], "cv_auc_"):
        raise ValidationError(
            f"model {model} has no LASSO step with a stored penalty search; re-run it with this engine version."
        )
    lasso = pipeline.named_steps["lasso"]
    before = pipeline[: names.index("lasso")]
    columns = input_columns(pipeline)
    train = features[features["split"] == "train"]
    X = np.asarray(before.transform(train[columns]), dtype=float)
    y = train["label"].to_numpy(int)
    feature_names = np.asarray(pipeline.named_steps["prepare"].get_feature_names_out())
    for step in names[names.index("prepare") + 1 : names.index("lasso")]:
        feature_names = feature_names[pipeline.named_steps[step].support_]
    n = len(y)
    penalties = np.union1d(np.geomspace(lasso.Cs_.min(), lasso.Cs_.max(), n_penalties), [lasso.C_])
    rows = []
    for C in penalties:
        fit = LogisticRegression(l1_ratio=1.0, C=C, solver="liblinear", max_iter=2000, random_state=lasso.seed).fit(
            X, y
        )
        rows += [
            {"log_lambda": float(np.log(1 / (C * n))), "feature": str(f), "coefficient": float(c)}
            for f, c in zip(feature_names, fit.coef_.ravel())
        ]
    cv = pd.DataFrame(
        {"log_lambda": np.log(1 / (lasso.Cs_ * n)), "cv_auc": lasso.cv_auc_, "cv_auc_sd": lasso.cv_auc_sd_}
    )
    return pd.DataFrame(rows), cv, float(np.log(1 / (lasso.C_ * n)))
