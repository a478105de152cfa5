"""Human column labels and number formats for tables shown to readers (pages, report): "AUC", "95% CI low",
"Hosmer–Lemeshow p"; p-values as "< 0.001" (engine.common.tables.format_p), other numbers to 3 decimals. Downloads keep
the code names (data)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.common.tables import format_p

COLUMN_LABELS = {
    "model": "Model",
    "model_a": "Model A",
    "model_b": "Model B",
    "classifier": "Classifier",
    "split": "Cohort",
    "cohort": "Cohort",
    "n": "n",
    "patients": "Patients",
    "event rate": "Event rate",
    "variable": "Variable",
    "level": "Level",
    "events": "Events",
    "n_pos": "Events",
    "n_neg": "Non-events",
    "note": "Note",
    "auc": "AUC",
    "auc_a": "AUC A",
    "auc_b": "AUC B",
    "diff": "Difference",
    "se": "SE",
    "z": "z",
    "ci_low": "95% CI low",
    "ci_high": "95% CI high",
    "p_value": "p",
    "p_adjusted": "p (adjusted)",
    "intercept": "Calibration intercept",
    "slope": "Calibration slope",
    "citl": "Calibration-in-the-large",
    "brier": "Brier score",
    "spiegelhalter_z": "Spiegelhalter z",
    "spiegelhalter_p": "Spiegelhalter p",
    "eavg": "Mean abs. error (Eavg)",
    "e90": "90th pct abs. error (E90)",
    "emax": "Max abs. error (Emax)",
    "hl_statistic": "Hosmer–Lemeshow χ²",
    "hl_dof": "Hosmer–Lemeshow df",
    "hl_p": "Hosmer–Lemeshow p",
    "c_index": "C-index",
    "cv_auc": "CV AUC",
    "cv_auc_sd": "CV AUC SD",
    "train_auc": "Training AUC",
    "estimate": "Estimate",
    "statistic": "Statistic",
    "coef": "Coefficient",
    "coefficient": "Coefficient",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "ppv": "PPV",
    "npv": "NPV",
    "accuracy": "Accuracy",
    "f1": "F1",
    "threshold": "Threshold",
    "feature": "Feature",
    "family": "Family",
    "score": "Score",
    "predictor": "Predictor",
    "item": "Item",
    "topic": "Topic",
    "reported": "Reported (this run) or for the author",
    "value": "Value",
    "points": "Points",
    "cutoff": "Training cutoff",
    "prediction": "Prediction",
    "outcome": "Outcome",
    "scale": "Scale",
    "endpoint": "Endpoint",
    "method": "Method",
    "source": "Source",
    "group": "Risk group",
    "mean_abs_shap": "Mean |SHAP value|",
    "mean_abs_contribution": "Mean |contribution|",
    "share": "Share",
    "hr": "HR",
    "hazard_ratio": "HR",
    "odds_ratio": "OR",
    "term": "Term",
    "or": "OR",
    "predicted": "Predicted",
    "observed": "Observed",
}
P_COLUMNS = {"p", "p (adjusted)", "Spiegelhalter p", "Hosmer–Lemeshow p"}


def readable(table: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """The table with human column labels, p-values formatted and other floats rounded to ``decimals``."""
    out = table.rename(columns=lambda c: COLUMN_LABELS.get(str(c), str(c).replace("_", " ")))
    for column in out.columns:
        values = out[column]
        if column in P_COLUMNS or str(column).endswith((" p", " p-value")):
            out[column] = [format_p(v) if isinstance(v, (int, float, np.floating)) else v for v in values]
        elif pd.api.types.is_float_dtype(values):
            out[column] = values.round(decimals)
    return out


def cohort_words(split: str) -> str:
    """'train' -> 'training cohort', 'internal' -> 'internal validation cohort', 'external_C3' -> 'external cohort
    C3' (section titles and captions)."""
    if split == "train":
        return "training cohort"
    if split == "internal":
        return "internal validation cohort"
    if split.startswith("external"):
        centre = split.removeprefix("external").lstrip("_")
        return f"external cohort {centre}".strip()
    return f"cohort {split}"
