"""Typed access to what the sidebar chose: the data source, the filters, the current predictions."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import cached
from engine import plots
from engine.errors import ValidationError
from engine.views.uploads import read_predictions, upload_roles
from engine.common.predictions import (
    filter_predictions,
    headline_models,
    model_names,
    ordered_splits,
    survival_endpoints,
)


@dataclasses.dataclass(frozen=True)
class Study:
    """What every page works on: the filtered long predictions table and, for a run, its other tables."""

    source: str
    predictions: pd.DataFrame
    unfiltered: pd.DataFrame
    run: dict[str, Any] | None
    filters: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def run_id(self) -> str | None:
        return self.source.split()[-1] if self.run is not None else None

    @property
    def models(self) -> list[str]:
        return model_names(self.predictions)

    @property
    def default_models(self) -> list[str]:
        """The single-family models and the full fusion when the study has them (else the first three)."""
        return headline_models(self.models)

    @property
    def splits(self) -> list[str]:
        return ordered_splits(self.predictions)

    @property
    def endpoints(self) -> list[str]:
        return survival_endpoints(self.predictions)

    @property
    def time_unit(self) -> str:
        """The unit of the time columns ('' when the source does not say, e.g. an upload)."""
        return str(((self.run or {}).get("provenance") or {}).get("time_unit", ""))

    @property
    def horizons(self) -> list[float]:
        """The run's reporting horizons (in time_unit); [] when it has none."""
        return [float(h) for h in ((self.run or {}).get("provenance") or {}).get("horizons", [])]

    def time_label(self, column: str = "time") -> str:
        return f"Time ({self.time_unit})" if self.time_unit else column

    @property
    def has_binary(self) -> bool:
        return "label" in self.predictions

    def training_cutoffs(self) -> dict[str, float]:
        """Each model's cutoff learned on the training cohort: stored with a run, or learned on an upload's train
        split (out-of-fold predictions are the user's responsibility there); {} when there is no training cohort."""
        stored = (self.run or {}).get("performance")
        if stored is not None and "stratum" in stored:
            return {}  # each stratum has its own cutoffs: pick a stratum in the sidebar
        if stored is not None and len(stored):
            return dict(zip(stored["model"], stored["cutoff"]))
        if not self.has_binary or "train" not in set(self.unfiltered["split"]):
            return {}
        cutoffs = cached.learn_cutoffs(self.unfiltered)
        return dict(zip(cutoffs["model"], cutoffs["cutoff"]))


def _source() -> tuple[str, pd.DataFrame | None, dict | None]:
    opened = st.session_state.pop("open_run", None)  # a page asked to open a run (the Jobs page's "Open its run")
    if opened:
        cached.runs.clear()
        st.session_state["sidebar_source"] = "Run in the store"
        st.session_state["sidebar_run"] = opened
    runs = cached.runs()
    options = ["Run in the store", "Upload a predictions table"]
    choice = st.sidebar.radio("Data", options, index=0 if len(runs) else 1, key="sidebar_source")
    if choice == options[0]:
        if not len(runs):
            st.sidebar.info("No run in the store yet: run `make demo`, or upload a table.")
            return "none", None, None
        ids = list(runs["run_id"])
        labels = {
            r.run_id: f"{r.name} ({r.run_id[:8]})" + (" - damaged" if r.status != "ok" else "")
            for r in runs.itertuples()
        }
        run_id = st.sidebar.selectbox("Run", ids, index=_default_run(runs), format_func=labels.get, key="sidebar_run")
        try:
            tables = cached.run_tables(run_id)
        except ValidationError as error:  # a damaged run: say which file and how to rebuild; the others stay usable
            st.sidebar.error("This run is damaged: the page says which file and how to rebuild or remove it.")
            st.error(f"{error} The other runs in the store are not affected: pick one in the sidebar.")
            return "error", None, None
        strata = tables["provenance"].get("strata") or {}
        if strata:
            pooled = "all strata (each patient scored by its stratum's models)"
            level = st.sidebar.selectbox(
                f"Stratum ({tables['provenance'].get('strata_column')})", [pooled, *strata], key="sidebar_stratum"
            )
            if level != pooled:
                return (
                    f"run {strata[level]}",
                    cached.run_tables(strata[level])["predictions"],
                    cached.run_tables(strata[level]),
                )
        return f"run {run_id}", tables["predictions"], tables
    file = st.sidebar.file_uploader(
        "Predictions (CSV or XLSX; wide or long)", type=["csv", "xlsx"], key="sidebar_upload"
    )
    if file is None:
        st.sidebar.caption(
            "Wide: patient_id, label and/or time/event, optional split and cohort columns, one probability column "
            "per model."
        )
        return "none", None, None
    try:
        scores = tuple(st.session_state.get("upload_score_columns", ()))
        parsed = _parsed_upload(file.getvalue(), file.name, scores)
        _upload_roles(parsed)
        return f"upload {file.name}", parsed, None
    except ValidationError as error:
        st.sidebar.error(str(error))
        st.session_state["upload_error"] = str(error)
        return "error", None, None


def _default_run(runs: pd.DataFrame) -> int:
    """The demo run when it is there and intact, else the first intact run."""
    demo = cached.STORE / "DEMO_RUN"
    ids, intact = list(runs["run_id"]), list(runs["status"] == "ok")
    wanted = demo.read_text(encoding="utf-8").strip() if demo.exists() else None
    if wanted in ids and intact[ids.index(wanted)]:
        return ids.index(wanted)
    return intact.index(True) if True in intact else 0


def _parsed_upload(data: bytes, name: str, scores: tuple[str, ...] = ()) -> pd.DataFrame:
    """The upload parsed as data (engine.common.predictions; no pickle, no eval), kept in this browser session only;
    ``scores``: cohort columns the user turned into raw-score models."""
    digest = (hashlib.sha256(data).hexdigest(), scores)
    kept = st.session_state.get("upload_parsed")
    if kept is None or kept[0] != digest:
        kept = (digest, read_predictions(data, name, score_columns=scores))
        st.session_state["upload_parsed"] = kept
    return kept[1]


def _upload_roles(predictions: pd.DataFrame) -> None:
    """What each column of the upload became (so that nothing changes role silently), and a picker that turns
    numeric cohort columns (a Cox linear predictor, points, a stage) into raw-score models."""
    roles = upload_roles(predictions)
    with st.sidebar.expander("What the upload became", expanded=True):
        for role, columns in roles.items():
            if columns:
                st.markdown(f"**{role[0].upper() + role[1:]}**: {', '.join(columns)}")
        chosen = list(st.session_state.get("upload_score_columns", ()))
        numeric = [c for c in roles["cohort columns"] if pd.api.types.is_numeric_dtype(predictions[c])]
        st.multiselect(
            "Treat as raw risk scores (models)",
            sorted({*numeric, *chosen}),
            key="upload_score_columns",
            help="A numeric column that is a risk score but not a probability (a Cox linear predictor, nomogram "
            "points, a stage). Columns named '<name> (score)' are taken as raw scores without asking.",
        )


def _filters(predictions: pd.DataFrame) -> dict[str, Any]:
    chosen: dict[str, Any] = {}
    with st.sidebar.expander("What-if: narrow the cohort", expanded=False):
        for column, (kind, values) in cached.filter_choices(predictions).items():  # found once per table
            if kind == "categorical":
                picked = st.multiselect(column, values, default=values, key=f"filter_{column}")
                if len(picked) < len(values):
                    chosen[column] = picked
            else:
                low, high = values
                picked = st.slider(column, low, high, (low, high), key=f"filter_{column}")
                if picked != (low, high):
                    chosen[column] = picked
    return chosen


def study() -> Study | None:
    """Render the sidebar and return the current study (None when there is no data yet)."""
    source, predictions, run = _source()
    if predictions is None:
        return None
    filters = _filters(predictions)
    if not filters:
        filtered = predictions
    elif source.startswith("run "):  # one shared table per run and filter set (its digest is computed once)
        filtered = cached.filtered(source.split()[-1], filters)
    else:
        filtered = filter_predictions(predictions, filters)
    n = filtered["patient_id"].nunique()
    st.sidebar.caption(f"{n} of {predictions['patient_id'].nunique()} patients" + (" (filtered)" if filters else ""))
    return Study(source=source, predictions=filtered, unfiltered=predictions, run=run, filters=filters)


def require_study() -> Study:
    current = st.session_state.get("study")
    if current is None:
        st.info("Choose a run in the sidebar (`make demo` builds the demo study) or upload a predictions table.")
        st.stop()
    return current


def binary_study(
    title: str, *, min_models: int = 1, missing: str = "This table has no binary label; see the Survival page."
) -> Study:
    """The page title and the study, stopping with ``missing`` when it has no binary label (or too few models)."""
    study = require_study()
    st.title(title)
    if not study.has_binary or len(study.models) < min_models:
        st.info(missing)
        st.stop()
    return study


def reference_note(models) -> None:
    """Say how reference scores (staging systems) and uploaded raw scores enter a page that needs probabilities."""
    from engine.models.reference import is_reference

    shown = [m for m in models if is_reference(m)]
    if shown:
        st.caption(
            f"{', '.join(shown)}: the raw score mapped to a probability by a logistic recalibration fitted on the "
            "training cohort (stored with the run) and applied unchanged to every cohort."
        )
    study = st.session_state.get("study")
    raw = set(upload_roles(study.predictions)["raw risk scores, recalibrated on the training cohort"]) if study else ()
    shown = [m for m in models if m in raw]
    if shown:
        st.caption(
            f"{', '.join(shown)}: uploaded as a raw risk score; shown here through a logistic recalibration fitted on "
            "the training cohort and applied unchanged to every cohort (ROC, DeLong and survival pages use the raw "
            "score)."
        )


def p_adjust_picker(key: str, label: str = "Adjust p-values") -> str:
    """Holm (default), Benjamini-Hochberg or no adjustment of a table of pairwise p-values."""
    names = {"holm": "Holm", "bh": "Benjamini-Hochberg", "none": "none"}
    return st.radio(label, list(names), horizontal=True, key=key, format_func=names.get)


def probability_model_picker(study: Study, key: str) -> list[str]:
    """A models multiselect for a page that needs probabilities (raw scores without recalibration left out)."""
    options = probability_models(study)
    return st.multiselect("Models", options, default=[m for m in study.default_models if m in options], key=key)


def probability_models(study: Study) -> list[str]:
    """The models a page that needs probabilities can show; each raw score without a training recalibration is
    left out with the reason and the fix."""
    from engine.models.reference import without_probabilities

    refused = without_probabilities(study.predictions)
    for reason in refused.values():
        st.warning(reason)
    return [m for m in study.models if m not in refused]


def cohort_picker(study: Study, key: str, label: str = "Cohort") -> str:
    """A cohort (split) selectbox defaulting to the internal validation cohort when there is one."""
    return st.selectbox(label, study.splits, index=min(1, len(study.splits) - 1), key=key)


def download_figure(figure, name: str, key: str) -> None:
    """PNG (300 dpi), SVG and PDF buttons, each file rendered only when its button is clicked (Chromium, on a
    thread beside the page: a rerun does no export work); without chromium, say how to get it. When the server's
    last export failed (Chromium found but broken), the reason and the fix show above the buttons: the browser only
    says "Failed to generate file for download" for five seconds."""
    from engine.plots import chromium_path

    if chromium_path() is None:
        st.caption(
            "Static export needs Chromium: `apt-get install -y chromium` (or set BROWSER_PATH). The figure above "
            "stays interactive."
        )
        return
    failed = EXPORT_FAILURE.get("message")
    if failed:
        st.warning(f"The last figure download failed: {failed}")
    for column, fmt in zip(st.columns(3), ("png", "svg", "pdf")):
        column.download_button(
            f"Download {fmt.upper()}",
            functools.partial(export_figure, figure, fmt),
            file_name=f"{name}.{fmt}",
            key=f"{key}_{fmt}",
            on_click="ignore",
        )


# the server's last figure-export failure (Chromium is the server's, not a session's): shown beside every figure's
# download buttons until an export succeeds
EXPORT_FAILURE: dict[str, str] = {}


def export_figure(figure, fmt: str) -> bytes:
    """engine.plots.export_figure for a download button, remembering a failure's message for the next page run."""
    try:
        data = plots.export_figure(figure, fmt)
    except ValidationError as error:
        EXPORT_FAILURE["message"] = str(error)
        raise
    EXPORT_FAILURE.pop("message", None)
    return data


def show_table(table: pd.DataFrame, **kwargs) -> None:
    """A table as a paper prints it: human column labels, p < 0.001, 3 decimals padded (0.050), whole numbers
    without decimals (engine.common.labels); the columns stay numbers, so they sort as numbers."""
    from engine.common.labels import readable

    shown = readable(table)
    decimals = {
        column: st.column_config.NumberColumn(format="%.3f")
        for column in shown.columns
        if pd.api.types.is_float_dtype(shown[column]) and not (shown[column].dropna() % 1 == 0).all()
    }
    st.dataframe(shown, width="stretch", hide_index=True, column_config=decimals, **kwargs)


def download_table(table: pd.DataFrame, name: str, key: str) -> None:
    """CSV and XLSX buttons, each file written only when its button is clicked; text cells that a spreadsheet would
    run as formulas are neutralised (engine.common.exports)."""
    left, right = st.columns(2)
    left.download_button(
        "CSV", functools.partial(_csv, table), file_name=f"{name}.csv", key=f"{key}_csv", on_click="ignore"
    )
    right.download_button(
        "XLSX", functools.partial(_xlsx, table), file_name=f"{name}.xlsx", key=f"{key}_xlsx", on_click="ignore"
    )


def _csv(table: pd.DataFrame) -> bytes:
    from engine.common.exports import spreadsheet_safe

    return spreadsheet_safe(table).to_csv(index=False).encode()


def _xlsx(table: pd.DataFrame) -> bytes:
    from engine.common.exports import spreadsheet_safe

    buffer = io.BytesIO()
    spreadsheet_safe(table).to_excel(buffer, index=False)
    return buffer.getvalue()
