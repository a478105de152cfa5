"""Predict: new patients scored by a stored run's frozen pipelines (the same features, no refitting), each model's
probability with the risk group at the run's training cutoff; downloads as CSV or XLSX (formula-safe)."""

import uuid

import streamlit as st

from dashboard import cached
from dashboard.state import download_table
from engine.common.data_root import inside, tables_in
from engine.errors import ValidationError
from engine.pipeline.inputs import run_config
from engine.pipeline.new_patients import score_new_patients
from engine.views.case import run_manifest

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
        demo_new = cached.demo_new_patients()  # `engine demo`'s patients without outcomes
        demo_choice = f"the demo's new patients ({demo_new})"
        trained = run_manifest(run)  # the demo's run, or one trained on its cohort from New study
        on_demo = trained is not None and trained.resolve() == cached.demo_manifest().resolve()
        if on_demo and demo_new.exists():
            choices = [demo_choice, *choices]
        if not choices:
            st.info(f"This run was trained on images: put the new patients' manifest in {cached.DATA_ROOT.resolve()}.")
        else:
            picked = st.selectbox(
                "Manifest of the new patients",
                choices,
                key="predict_table",
                help=f"Manifests (CSV, XLSX, Parquet) in the data folder {cached.DATA_ROOT.resolve()}; their image "
                "paths are relative to the manifest's folder.",
            )
            path = demo_new.resolve() if picked == demo_choice else inside(cached.DATA_ROOT, picked)
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
        bar = st.progress(0.0, text="Scoring the new patients with the run's pipelines...")

        def progress(stage: str, done: int, total: int) -> None:  # radiomics of an image run: one step per patient
            bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{stage}: {done} of {total}")

        with st.spinner("Scoring the new patients with the run's pipelines..."):
            st.session_state["predict_result"] = (
                run_id,
                score_new_patients(run, path, workers=1, progress=progress),
            )
        bar.empty()
    except ValidationError as error:
        st.session_state.pop("predict_result", None)
        st.error(str(error))
result = st.session_state.get("predict_result")
if result is None or result[0] != run_id:
    st.stop()
scores = result[1]
table = scores.predictions
config = run_config(run.config)
endpoint = config.endpoint
st.success(f"{table['patient_id'].nunique()} new patients scored by {table['model'].nunique()} models.")
st.subheader("Each model's prediction")
st.dataframe(
    table,
    column_config={
        "patient_id": "Patient",
        "model": "Model",
        "prob": st.column_config.NumberColumn("Probability (or score)", format="%.3f"),
        "recalibrated": st.column_config.NumberColumn("Recalibrated probability", format="%.3f"),
        "cutoff": st.column_config.NumberColumn("Cutoff (learned on training)", format="%.3f"),
        f"{endpoint}_call": f"At the cutoff ({endpoint})",
        **{
            column: f"Risk group ({column.removesuffix('_risk_group').upper()})"
            for column in table.columns
            if column.endswith("_risk_group")
        },
    },
    hide_index=True,
    width="stretch",
)
rule = config.grid.cutoff
st.caption(
    f"At the cutoff: positive when the probability is at or above the model's cutoff, learned on the training cohort "
    f"({rule.method}{f', target {rule.target:g}' if rule.target else ''}) and stored with the run. Risk groups: high "
    "when the prediction is above the training median of that model. The grid's models give a point probability; "
    "the nomogram below gives an interval."
)
download_table(table, f"predictions_{run_id[:8]}", "predict_download")
if scores.nomogram is not None:
    st.subheader("Nomogram")
    st.caption(
        f"The run's default nomogram ({', '.join(scores.nomogram_terms)}), a logistic regression refitted on its "
        "training cohort as on the Nomogram page: each predictor's points, the total and the probability with its "
        "95% confidence interval (Wald, on the logit)."
    )
    nomogram = scores.nomogram
    st.dataframe(
        nomogram,
        column_config={
            "patient_id": "Patient",
            **{c: st.column_config.NumberColumn(c, format="%.1f") for c in nomogram if c.endswith("points")},
            "total_points": st.column_config.NumberColumn("Total points", format="%.1f"),
            "probability": st.column_config.NumberColumn("Probability", format="%.3f"),
            "ci_low": st.column_config.NumberColumn("95% CI low", format="%.3f"),
            "ci_high": st.column_config.NumberColumn("95% CI high", format="%.3f"),
            "note": "Note",
        },
        hide_index=True,
        width="stretch",
    )
    download_table(nomogram, f"nomogram_{run_id[:8]}", "predict_nomogram_download")
