"""Comparisons computed from a predictions table: what the dashboard and the report show, computed here so that
they never compute a statistic themselves. Every number comes from ``engine.stats``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests

from engine.errors import ValidationError
from engine.models.reference import as_probabilities
from engine.common.predictions import event_column, ordered_splits, time_column, wide
from engine.stats import (
    auc_ci,
    calibration_curve,
    calibration_stats,
    concordance_index,
    decision_curve,
    delong_test,
    hosmer_lemeshow,
    idi,
    nri,
    roc_curve,
    stratify,
    risk_cutoff,
    threshold_for_target,
    threshold_metrics,
    time_dependent_auc,
    youden_threshold,
)


def rows_of(predictions: pd.DataFrame, split: str, model: str) -> pd.DataFrame:
    rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
    if rows.empty:
        raise ValidationError(f"no predictions for model {model!r} in cohort {split!r} (after filters).")
    return rows


def model_metrics(predictions: pd.DataFrame, split: str, models: Sequence[str]) -> pd.DataFrame:
    """AUC with DeLong 95% CI per model in one cohort; a model whose rows cannot give an AUC gets the reason."""
    out = []
    for model in models:
        rows = predictions[(predictions["split"] == split) & (predictions["model"] == model)]
        row = {"model": model, "n": len(rows), "events": int(rows["label"].sum()) if len(rows) else 0}
        try:
            result = auc_ci(rows["label"], rows["prob"])
            row.update(auc=result.auc, ci_low=result.ci_low, ci_high=result.ci_high, note="")
        except ValidationError as error:
            row.update(auc=np.nan, ci_low=np.nan, ci_high=np.nan, note=str(error))
        out.append(row)
    return pd.DataFrame(out)


def roc_curves(
    predictions: pd.DataFrame, split: str, models: Sequence[str]
) -> tuple[dict[str, pd.DataFrame], dict[str, str], pd.DataFrame]:
    """ROC curve per model, legend labels with AUC (95% CI), and the metrics table."""
    metrics = model_metrics(predictions, split, models)
    curves, labels = {}, {}
    for row in metrics.itertuples():
        if np.isnan(row.auc):
            continue
        rows = rows_of(predictions, split, row.model)
        curves[row.model] = roc_curve(rows["label"], rows["prob"])
        labels[row.model] = f"{row.model}: AUC {row.auc:.3f} ({row.ci_low:.3f}-{row.ci_high:.3f})"
    return curves, labels, metrics


def choose_threshold(predictions: pd.DataFrame, split: str, model: str, mode: str, value: float | None = None) -> float:
    """A threshold on ``model``'s probability: ``fixed`` (value), ``youden``, ``sensitivity`` or ``specificity``
    (the target value), found on the cohort ``split``."""
    if mode == "fixed":
        return float(value)
    rows = rows_of(predictions, split, model)
    if mode == "youden":
        return youden_threshold(rows["label"], rows["prob"]).threshold
    if mode in ("sensitivity", "specificity"):
        return threshold_for_target(rows["label"], rows["prob"], **{mode: value}).threshold
    raise ValidationError(f"mode must be fixed, youden, sensitivity or specificity; got {mode!r}.")


def metrics_at_threshold(
    predictions: pd.DataFrame, split: str, models: Sequence[str], threshold: float | Mapping[str, float]
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame], dict[str, tuple[float, float]]]:
    """Tidy metric table (model, metric, estimate, CI), confusion matrices and ROC operating points, at one
    threshold for every model or at each model's own (``{model: cutoff}``, e.g. the stored training cutoffs)."""
    frames, matrices, points = [], {}, {}
    for model in models:
        rows = rows_of(predictions, split, model)
        cutoff = threshold.get(model, np.nan) if isinstance(threshold, Mapping) else threshold
        if not np.isfinite(cutoff):
            raise ValidationError(
                f"model {model!r} has no cutoff; its training cohort gave none. Pick another threshold mode."
            )
        result = threshold_metrics(rows["label"], rows["prob"], cutoff)
        frames.append(result.to_frame().assign(model=model))
        matrices[model] = pd.DataFrame(
            [[result.tp, result.fn], [result.fp, result.tn]],
            index=["event", "no event"],
            columns=["predicted event", "predicted no event"],
        )
        points[model] = (1 - result.specificity, result.sensitivity)
    return pd.concat(frames, ignore_index=True), matrices, points


def pairwise_table(
    table: pd.DataFrame, models: Sequence[str], compare, adjust: str = "holm", pairs: Sequence | None = None
) -> pd.DataFrame:
    """Every pair of ``models`` (columns of a wide table), or only ``pairs``, compared by ``compare(a, b)`` (a result
    object with a ``p_value``): one row per pair with the result's fields and the Holm or Benjamini-Hochberg adjusted
    p (adjusted across the pairs compared)."""
    models = [m for m in models if m in table]
    if len(models) < 2:
        raise ValidationError("pick at least two models present for the same patients to compare.")
    chosen = (
        list(itertools.combinations(models, 2))
        if pairs is None
        else [(a, b) for a, b in pairs if a in models and b in models and a != b]
    )
    if not chosen:
        raise ValidationError(f"none of the pairs to compare has both models among {models}; pick other pairs.")
    rows = [
        {"model_a": a, "model_b": b, **{k: v for k, v in compare(a, b).to_dict().items() if k != "level"}}
        for a, b in chosen
    ]
    pairs = pd.DataFrame(rows)
    method = {"holm": "holm", "bh": "fdr_bh", "none": None}[adjust]
    pairs["p_adjusted"] = multipletests(pairs["p_value"], method=method)[1] if method else pairs["p_value"]
    return pairs


def pairwise_delong(
    predictions: pd.DataFrame, split: str, models: Sequence[str], adjust: str = "holm", pairs: Sequence | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """AUC differences (row - column), adjusted p-values (Holm or Benjamini-Hochberg) and the pairs table (every
    pair of ``models``, or only ``pairs``)."""
    table = wide(predictions, split)
    pairs = pairwise_table(
        table, models, lambda a, b: delong_test(table["label"], table[a], table[b]), adjust, pairs=pairs
    )
    models = list(dict.fromkeys([*pairs["model_a"], *pairs["model_b"]]))
    diff = pd.DataFrame(0.0, index=models, columns=models)
    text = pd.DataFrame("", index=models, columns=models)
    for row in pairs.itertuples():
        diff.loc[row.model_a, row.model_b], diff.loc[row.model_b, row.model_a] = row.diff, -row.diff
        label = f"{row.diff:+.3f}<br>p={row.p_adjusted:.3g}"
        text.loc[row.model_a, row.model_b] = label
        text.loc[row.model_b, row.model_a] = f"{-row.diff:+.3f}<br>p={row.p_adjusted:.3g}"
    return diff, text, pairs


def reclassification(
    predictions: pd.DataFrame, split: str, old: str, new: str, cutoffs: Sequence[float] | None
) -> dict[str, object]:
    """Category-free NRI, categorical NRI (with ``cutoffs``) and IDI of ``new`` over ``old`` (reference scores as
    their training recalibration)."""
    table = wide(as_probabilities(predictions, [old, new]), split)
    for model in (old, new):
        if model not in table:
            raise ValidationError(f"model {model!r} has no predictions in cohort {split!r}.")
    out: dict[str, object] = {
        "continuous": nri(table["label"], table[old], table[new]),
        "idi": idi(table["label"], table[old], table[new]),
    }
    if cutoffs:
        out["categorical"] = nri(table["label"], table[old], table[new], cutoffs=cutoffs)
    return out


def calibration(
    predictions: pd.DataFrame, split: str, models: Sequence[str], method: str = "bins", bins: int = 10
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, dict[str, np.ndarray]]:
    """Calibration curves, a statistics table (HL, intercept, slope, Brier, Spiegelhalter, Eavg, Emax) and the
    predictions for histograms. Reference scores enter as their training recalibration (a probability)."""
    predictions = as_probabilities(predictions, models)
    curves, stats_rows, values = {}, [], {}
    for model in models:
        rows = rows_of(predictions, split, model)
        curves[model] = calibration_curve(rows["label"], rows["prob"], method=method, bins=bins)
        values[model] = rows["prob"].to_numpy()
        summary = calibration_stats(rows["label"], rows["prob"]).to_dict()
        try:
            hl = hosmer_lemeshow(rows["label"], rows["prob"], groups=bins)
            summary.update(hl_statistic=hl.statistic, hl_dof=hl.dof, hl_p=hl.p_value)
        except ValidationError as error:
            summary.update(hl_statistic=np.nan, hl_dof=np.nan, hl_p=np.nan, notes=(str(error),))
        stats_rows.append({"model": model, **{k: v for k, v in summary.items() if not isinstance(v, (list, tuple))}})
    return curves, pd.DataFrame(stats_rows), values


def decision_curves(
    predictions: pd.DataFrame, split: str, models: Sequence[str], thresholds: np.ndarray, n_boot: int = 0
) -> pd.DataFrame:
    """Net benefit per model (reference scores as their training recalibration), treat-all and treat-none."""
    table = wide(as_probabilities(predictions, models), split)
    return decision_curve(
        table["label"], {m: table[m] for m in models if m in table}, thresholds=thresholds, n_boot=n_boot, seed=0
    )


def subgroup_aucs(predictions: pd.DataFrame, split: str, column: str, models: Sequence[str]) -> pd.DataFrame:
    """AUC (95% CI) of each model within each level of ``column``; levels too small for a CI are left out."""
    return subgroup_table(predictions, split, column, models, lambda part: auc_ci(part["label"], part["prob"]), "auc")


def subgroup_table(
    predictions: pd.DataFrame, split: str, column: str, models: Sequence[str], measure, estimate: str
) -> pd.DataFrame:
    """``measure(rows)`` (a result with the attribute ``estimate``, ci_low and ci_high) of each model within each
    level of ``column`` in the ``split`` cohort, as the forest plot takes it (the estimate in the column ``auc``); a
    level the measure refuses (a ValidationError: too few patients or events) is left out."""
    rows = []
    subset = predictions[predictions["split"] == split]
    for level, group in subset.groupby(column, sort=True):
        for model in models:
            part = group[group["model"] == model]
            try:
                result = measure(part)
            except ValidationError:
                continue
            rows.append(
                {
                    "subgroup": f"{column} = {level}",
                    "model": model,
                    "n": len(part),
                    "auc": getattr(result, estimate),
                    "ci_low": result.ci_low,
                    "ci_high": result.ci_high,
                }
            )
    return pd.DataFrame(rows, columns=["subgroup", "model", "n", "auc", "ci_low", "ci_high"])


def survival_stratification(
    predictions: pd.DataFrame,
    model: str,
    endpoint: str,
    split: str,
    *,
    method: str = "median",
    cutoff: float | None = None,
    horizon: float | None = None,
    at_risk_times: Sequence[float] | None = None,
):
    """Risk groups of ``model`` for ``endpoint``: the cutoff is learned on the training cohort (or given) and applied
    unchanged to ``split``. Returns (CutoffResult or None, StratificationResult)."""
    t, e = time_column(endpoint), event_column(endpoint)
    train = predictions[(predictions["split"] == "train") & (predictions["model"] == model)]
    learned = None
    if cutoff is None:
        if train.empty:
            raise ValidationError(
                "the predictions have no training cohort to learn a cutoff on; set the cutoff by hand."
            )
        learned = risk_cutoff(train[t], train[e], train["prob"], method=method, horizon=horizon)
        cutoff = learned.cutoff
    rows = rows_of(predictions, split, model)
    return learned, stratify(rows[t], rows[e], rows["prob"], cutoff, at_risk_times=at_risk_times)


def training_cutoffs(
    predictions: pd.DataFrame,
    endpoints: Sequence[str],
    *,
    source: str = "binary",
    methods: Sequence[str] = ("median", "maxstat"),
) -> pd.DataFrame:
    """Risk cutoffs of every model for every endpoint, learned on the training cohort (stored with a run so that the
    same cutoff is applied to later cohorts and new patients). One row per endpoint, model and method."""
    rows = []
    for endpoint in endpoints:
        t, e = time_column(endpoint), event_column(endpoint)
        if t not in predictions:
            continue
        for model, train in predictions[predictions["split"] == "train"].groupby("model", sort=False):
            for method in methods:
                try:
                    learned = risk_cutoff(train[t], train[e], train["prob"], method=method)
                except ValidationError as error:
                    rows.append(
                        {
                            "endpoint": endpoint,
                            "source": source,
                            "model": model,
                            "method": method,
                            "cutoff": np.nan,
                            "note": str(error),
                        }
                    )
                    continue
                rows.append(
                    {
                        "endpoint": endpoint,
                        "source": source,
                        "model": model,
                        "method": method,
                        "cutoff": learned.cutoff,
                        "n_train": len(train),
                        "p_value_adjusted": learned.p_value_adjusted,
                        "note": "",
                    }
                )
    return pd.DataFrame(rows)


def concordance_table(predictions: pd.DataFrame, endpoint: str, models: Sequence[str]) -> pd.DataFrame:
    """Harrell's C (95% CI) of each model in each cohort, models in the given order, cohorts in reading order."""
    out = []
    chosen = predictions[predictions["model"].isin(models)]
    for model in [m for m in models if m in set(chosen["model"])]:
        for split in ordered_splits(chosen):
            rows = chosen[(chosen["model"] == model) & (chosen["split"] == split)]
            if rows.empty:
                continue
            out.append(_c_index_row(rows, endpoint, split, model))
    return pd.DataFrame(out)


def _c_index_row(rows: pd.DataFrame, endpoint: str, split: str, model: str) -> dict:
    try:
        c = concordance_index(rows[time_column(endpoint)], rows[event_column(endpoint)], rows["prob"])
        return {"split": split, "model": model, "c_index": c.c_index, "ci_low": c.ci_low, "ci_high": c.ci_high}
    except ValidationError as error:
        return {"split": split, "model": model, "c_index": np.nan, "note": str(error)}


def time_auc_table(
    predictions: pd.DataFrame,
    endpoint: str,
    split: str,
    models: Sequence[str],
    horizons: Sequence[float],
    n_boot: int = 100,
) -> pd.DataFrame:
    frames = []
    for model in models:
        rows = rows_of(predictions, split, model)
        frames.append(
            time_dependent_auc(
                rows[time_column(endpoint)], rows[event_column(endpoint)], rows["prob"], horizons, n_boot=n_boot, seed=0
            ).assign(model=model)
        )
    return pd.concat(frames, ignore_index=True)


def model_score(probability):
    """A model's probability as a nomogram term: its logit (probabilities clipped to [1e-6, 1 - 1e-6])."""
    p = np.clip(probability, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_nomogram(
    predictions: pd.DataFrame,
    predictors: Sequence[str],
    score_models: Sequence[str],
    *,
    endpoint: str | None = None,
    horizons: Sequence[float] = (),
    time_unit: str = "",
):
    """A logistic (binary endpoint) or Cox (``endpoint`` given) nomogram on the training cohort, with clinical
    ``predictors`` from the table and each of ``score_models`` as a score (its logit probability, e.g. Rad-score)."""
    from engine.models import CoxModel, LogisticModel
    from engine.stats import nomogram

    predictions = as_probabilities(predictions, score_models)
    table = wide(predictions, "train")
    extra = predictions[predictions["split"] == "train"].drop_duplicates("patient_id").set_index("patient_id")
    data = pd.DataFrame(index=table["patient_id"])
    for column in predictors:
        data[column] = extra.loc[table["patient_id"], column].to_numpy()
    for model in score_models:
        data[f"{model}-score"] = model_score(table[model].to_numpy(float))
    if data.shape[1] == 0:
        raise ValidationError("pick at least one predictor or model score for the nomogram.")
    data = data.reset_index(drop=True)
    if endpoint is None:
        fitted = LogisticModel().fit(data, table["label"].to_numpy())
        return fitted, nomogram(fitted, data), data
    y = pd.DataFrame(
        {"time": table[time_column(endpoint)].to_numpy(), "event": table[event_column(endpoint)].to_numpy()}
    )
    fitted = CoxModel().fit(data, y)
    unit = {"days": "day", "months": "month", "years": "year"}.get(time_unit, "unit")
    return (
        fitted,
        nomogram(fitted, data, horizons=horizons, horizon_labels=[f"{h:g}-{unit} survival" for h in horizons]),
        data,
    )


def regression_tables(
    predictions: pd.DataFrame, predictors: Sequence[str], endpoint: str | None = None, *, enter_p: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Univariable and multivariable OR (binary label) or HR (``endpoint``) tables of ``predictors`` on the training
    cohort (all patients when the table has no training cohort, said in the returned note); the multivariable
    model holds the predictors with a univariable p below ``enter_p``."""
    from engine.stats import select_clinical

    patients = predictions.drop_duplicates("patient_id")
    note = "training cohort"
    if "train" in set(patients["split"]):
        patients = patients[patients["split"] == "train"]
    else:
        note = "all patients (the table has no training cohort)"
    outcome = (
        {"outcome": "label"} if endpoint is None else {"time": time_column(endpoint), "event": event_column(endpoint)}
    )
    chosen = select_clinical(patients, list(predictors), method="multivariable", enter_p=enter_p, stay_p=1.0, **outcome)
    return chosen.univariable, chosen.multivariable, note


def cohort_counts(predictions: pd.DataFrame) -> pd.DataFrame:
    """Patients per cohort (split, in the order train, internal, external), with events and event rate of the
    binary label and the events of each survival endpoint."""
    from engine.common.predictions import survival_endpoints

    patients = predictions.drop_duplicates("patient_id")
    order = ordered_splits(patients)
    counts = patients.groupby("split").agg(patients=("patient_id", "size")).reindex(order)
    if "label" in patients:
        counts["events"] = patients.groupby("split")["label"].sum().reindex(order)
        counts["event rate"] = (counts["events"] / counts["patients"]).round(3)
    for endpoint in survival_endpoints(patients):
        counts[f"{endpoint or 'survival'} events"] = (
            patients.groupby("split")[event_column(endpoint)].sum().reindex(order)
        )
    return counts


def table_one(predictions: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Table 1 of the cohort by split, columns in the order train, internal, external (tableone): n (%) with the
    chi-squared test for categorical variables; mean (SD) with ANOVA, or for skewed variables (|skewness| > 1,
    e.g. AFP) median [Q1,Q3] with the Kruskal-Wallis test."""
    from tableone import TableOne

    patients = predictions.drop_duplicates("patient_id")
    columns = [c for c in columns if c in patients]
    categorical = [c for c in columns if not pd.api.types.is_numeric_dtype(patients[c]) or patients[c].nunique() <= 4]
    skewed = [c for c in columns if c not in categorical and abs(patients[c].skew()) > 1]
    order = ordered_splits(patients)
    one = TableOne(
        patients,
        columns=columns,
        categorical=categorical,
        nonnormal=skewed,
        groupby="split",
        order={"split": order},
        pval=patients["split"].nunique() > 1,
        missing=False,
    )
    table = one.tableone
    table.columns = [c[-1] if isinstance(c, tuple) else str(c) for c in table.columns]
    table = table.reset_index()
    table.columns = ["variable", "level", *table.columns[2:]]
    return table.astype(str)
