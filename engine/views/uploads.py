"""An uploaded predictions table (CSV or XLSX, wide or long) read into the long form (DESIGN.md).

Wide uploads have one probability column per model (a float column at least half within [0, 1]; other columns are
cohort columns for the what-if filters). Every problem is reported in one message (engine.validation); files are
parsed as data only (no pickle, no eval). A raw risk score is recalibrated on the training cohort
(engine.models.reference).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from engine.errors import ValidationError
from engine.validation import TableRoles, check_table, read_table_described
from engine.validation.rules import event_column as event_column, time_column as time_column  # the survival columns

from engine.common.predictions import (
    OUTCOME,
    cohort_columns,
    ordered_splits,
    outcome_columns,
    survival_endpoints,
)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def read_predictions(data: bytes, filename: str, *, score_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Parse an uploaded predictions table (CSV or XLSX, wide or long; engine.validation) and validate it."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError(
            f"the upload must be at most {MAX_UPLOAD_BYTES // 2**20} MB; got {len(data) / 2**20:.1f} MB."
        )
    frame, parsed_as = read_table_described(data, filename, what="upload")
    if "patient_id" not in frame.columns:
        problems = check_table(frame, TableRoles("upload", configured=False)).problems
        raise ValidationError(f"{filename} (read with {parsed_as}): {problems[0]}")
    return to_long(frame, score_columns=score_columns)


def _looks_like_probabilities(values: pd.Series) -> bool:
    """A wide table's model column: floats, mostly (at least half) within [0, 1]. Cohort columns such as age are not;
    a model column with a few values outside [0, 1] is, and those values are reported."""
    if not pd.api.types.is_float_dtype(values):
        return False
    numbers = values.dropna()
    return len(numbers) > 0 and float(numbers.between(0, 1).mean()) >= 0.5


SCORE_SUFFIX = " (score)"  # a wide column named e.g. "Cox LP (score)" is a raw risk score whatever its values


def to_long(
    frame: pd.DataFrame, *, model_columns: Sequence[str] | None = None, score_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Validate a wide or long predictions table and return the long form (with ``classifier`` and ``split``).

    Wide: the model columns are the probability-like columns (``model_columns`` when given), the columns named
    ``<name> (score)`` and ``score_columns``. A model whose values leave [0, 1], or that is named or listed as a
    score, is a raw risk score (classifier ``raw score``; engine.models.reference): ROC/AUC, DeLong, C-index and
    Kaplan-Meier take it as it is; the probability pages take its logistic recalibration on the training cohort."""
    from engine.models.reference import RAW_SCORE, recalibrate_raw_scores

    frame = frame.copy()
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = []
    has_binary = OUTCOME in frame
    if not has_binary and not survival_endpoints(frame):
        problems.append("an outcome is required: a label column (0/1) and/or time and event columns")
    long_form = {"model", "prob"} <= set(frame.columns)
    reserved = {"patient_id", "split", "center", OUTCOME, "classifier", *outcome_columns(frame)}
    unknown = [c for c in score_columns if c not in frame or c in reserved]
    if unknown:
        problems.append(f"score_columns {unknown} are not cohort columns of the table")
    if long_form:
        models = sorted(frame["model"].astype(str).unique())
    else:
        detected = [c for c in frame.columns if c not in reserved and _looks_like_probabilities(frame[c])]
        named = [c for c in frame.columns if c.endswith(SCORE_SUFFIX) or c in score_columns]
        models = list(dict.fromkeys([*(model_columns or detected), *[c for c in named if c not in reserved]]))
        if not models:
            problems.append(
                "no model column: give one probability column per model (floats between 0 and 1), or name a raw "
                f"risk score column '<name>{SCORE_SUFFIX}'"
            )
    if "split" not in frame:
        frame["split"] = "all"
    scored = ["prob"] if long_form else [c for c in models if c in frame]
    checked = check_table(
        frame,
        TableRoles(
            "upload",
            binary=(OUTCOME,) * has_binary,
            survival=tuple(survival_endpoints(frame)),
            features=tuple(scored),
            split_names=False,
            unique_within="model" if long_form else None,
            configured=False,
        ),
    )
    frame, problems = checked.table, checked.problems + problems
    for column in scored:
        if frame[column].isna().any():
            problems.append(
                f"{column}: {int(frame[column].isna().sum())} missing values; every patient needs a prediction "
                "(drop the patients the model did not score)"
            )
    if has_binary and not problems:
        for split, group in frame.groupby("split"):
            if group[OUTCOME].nunique() < 2:
                problems.append(
                    f"split {split!r} has a single class (label = {group[OUTCOME].iloc[0]}); ROC needs both"
                )
    if problems:
        raise ValidationError(f"the predictions table has {len(problems)} problem(s):\n  - " + "\n  - ".join(problems))
    if long_form:
        long = frame if "classifier" in frame else frame.assign(classifier="")
    else:
        keep = [c for c in frame.columns if c not in models]
        long = frame.melt(id_vars=keep, value_vars=models, var_name="model", value_name="prob").assign(classifier="")
        named = {c for c in models if c.endswith(SCORE_SUFFIX) or c in score_columns}
        long.loc[long["model"].isin(named), "classifier"] = RAW_SCORE
    long["prob"] = pd.to_numeric(long["prob"])
    outside = long.groupby("model")["prob"].transform(lambda v: bool(((v < 0) | (v > 1)).any()))
    long.loc[outside & long["classifier"].ne("reference"), "classifier"] = RAW_SCORE
    return recalibrate_raw_scores(long)


def upload_roles(predictions: pd.DataFrame) -> dict[str, list[str]]:
    """What each column of an upload became, so that nothing changes role silently: probability models, raw risk
    scores (with or without a training recalibration), outcomes and cohort columns."""
    from engine.models.reference import RAW_SCORE

    kinds = predictions.drop_duplicates("model").set_index("model")["classifier"]
    recalibrated = set()
    if "recalibrated" in predictions:
        recalibrated = set(predictions.loc[predictions["recalibrated"].notna(), "model"])
    raw = [str(m) for m, kind in kinds.items() if kind == RAW_SCORE]
    return {
        "probability models": [str(m) for m, kind in kinds.items() if kind != RAW_SCORE],
        "raw risk scores, recalibrated on the training cohort": [m for m in raw if m in recalibrated],
        "raw risk scores, not recalibrated (no training cohort with both classes)": [
            m for m in raw if m not in recalibrated
        ],
        "outcomes": outcome_columns(predictions),
        "cohort columns": [c for c in cohort_columns(predictions) if c != OUTCOME],
        "cohorts (split)": ordered_splits(predictions),
    }
