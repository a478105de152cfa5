"""Predict: new patients scored by a stored run's frozen pipelines (the same features, no refitting), each model's
probability with the risk group at the run's training cutoff; downloads as CSV or XLSX (formula-safe)."""

import uuid

import streamlit as st

from dashboard import cached
from dashboard.state import download_table
from engine.common.data_root import inside, tables_in
from engine.errors import ValidationError
from engine.pipeline.new_patients import predict_new

st.title("Predict")
st.caption(
    "New patients are scored by a run's stored pipelines, learned on its training cohort: nothing is refitted. "
    "Their table must carry the columns the run's models use, with the codes and levels of training."
)
runs = cached.runs()
runs = runs[runs["status"] == "ok"] if len(runs) else runs
if not len(runs):
    st.info("No run in the store yet: train one on the New study page (or run `make demo`).")
    st.stop()
labels = {r.run_id: f"{r.name} ({r.run_id[:8]})" for r in runs.itertuples()}
ids = list(runs["run_id"])
chosen = st.session_state.get("sidebar_run")
run_id = st.selectbox(
    "Run", ids, index=ids.index(chosen) if chosen in ids else 0, format_func=labels.get, key="predict_run"
)
run = cached.store().load(run_id)
images = bool((run.config.get("cohort") or {}).get("manifest"))
session = st.session_state.setdefault("new_study_session", uuid.uuid4().hex)  # this browser session's upload folder
path = None
try:
    if images:
        choices = tables_in(cached.DATA_ROOT) if cached.DATA_ROOT.is_dir() else []
        if not choices:
            st.info(f"This run was trained on images: put the new patients' manifest in {cached.DATA_ROOT.resolve()}.")
        else:
            path = inside(cached.DATA_ROOT, st.selectbox("Manifest of the new patients", choices, key="predict_table"))
    else:
        file = st.file_uploader(
            "New patients' feature table (CSV, XLSX or Parquet)", type=["csv", "xlsx", "parquet"], key="predict_upload"
        )
        if file is not None:
            folder = cached.STORE / "uploads" / session  # seen by this session only
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / file.name
            path.write_bytes(file.getvalue())
except ValidationError as error:
    st.error(str(error))
if path is None:
    st.stop()
if st.button("Predict", type="primary", key="predict_go"):
    try:
        with st.spinner("Scoring the new patients with the run's pipelines..."):
            st.session_state["predict_result"] = (run_id, predict_new(run, path, workers=1))
    except ValidationError as error:
        st.session_state.pop("predict_result", None)
        st.error(str(error))
result = st.session_state.get("predict_result")
if result is not None and result[0] == run_id:
    table = result[1]
    st.success(f"{table['patient_id'].nunique()} new patients scored by {table['model'].nunique()} models.")
    st.dataframe(
        table,
        column_config={
            "patient_id": "Patient",
            "model": "Model",
            "prob": st.column_config.NumberColumn("Probability (or score)", format="%.3f"),
            **{
                column: f"Risk group ({column.removesuffix('_risk_group').upper()})"
                for column in table.columns
                if column.endswith("_risk_group")
            },
        },
        hide_index=True,
        width="stretch",
    )
    st.caption("Risk groups: high when the prediction is above the run's training median of that model.")
    download_table(table, f"predictions_{run_id[:8]}", "predict_download")
