"""New study: a feature table (uploaded, or picked in the data folder) or a manifest of images and masks (in the data
folder: its paths are relative to it) -> each column's role -> the settings -> the YAML the CLI reads -> Train (a
job: see the Jobs page)."""

import uuid

import pandas as pd
import streamlit as st

from dashboard import cached
from engine.common.data_root import inside, tables_in
from engine.common.names import ALL_CLASSIFIERS
from engine.errors import ValidationError
from engine.pipeline.setup import ROLES, config_from_roles, propose_roles, study_yaml
from engine.validation import read_table_bytes, read_table_file

st.title("New study")
st.caption(
    "A feature table (one row per patient: patient_id, outcomes, clinical columns, features computed elsewhere) "
    "becomes a study: confirm each column's role, choose the settings, and train it as a job."
)
session = st.session_state.setdefault("new_study_session", uuid.uuid4().hex)  # this browser session's upload folder
on_server = tables_in(cached.DATA_ROOT) if cached.DATA_ROOT.is_dir() else []
source = st.radio(
    "Table",
    ["Upload a feature table", "A table in the data folder"],
    index=1 if on_server else 0,  # tables already in the data folder are offered first
    horizontal=True,
    key="new_study_source",
)
table, folder, name = None, None, None
try:
    if source == "Upload a feature table":
        file = st.file_uploader(
            "Feature table (CSV, XLSX or Parquet)", type=["csv", "xlsx", "parquet"], key="new_study_upload"
        )
        if file is not None:
            table = read_table_bytes(file.getvalue(), file.name, what="feature table", parquet=True)
            folder = cached.STORE / "uploads" / session  # seen by this session only
            folder.mkdir(parents=True, exist_ok=True)
            (folder / file.name).write_bytes(file.getvalue())
            name = file.name
    else:
        choices = on_server
        if not choices:
            st.info(f"No table in the data folder {cached.DATA_ROOT.resolve()} (set HCC_DATA_ROOT to another folder).")
        else:
            picked = st.selectbox("Table in the data folder", choices, key="new_study_table")
            path = inside(cached.DATA_ROOT, picked)
            table = read_table_file(path, what="feature table", parquet=True)
            folder, name = path.parent, path.name
except ValidationError as error:
    st.error(str(error))
    table = None

if table is None:
    st.stop()

st.subheader("1. What each column is")
proposed = propose_roles(table)
edited = st.data_editor(
    pd.DataFrame(
        {
            "column": list(proposed),
            "role": list(proposed.values()),
            "example": [str(table[c].dropna().iloc[0]) if table[c].notna().any() else "" for c in proposed],
        }
    ),
    column_config={
        "column": st.column_config.TextColumn("Column", disabled=True),
        "role": st.column_config.SelectboxColumn("Role", options=list(ROLES), required=True),
        "example": st.column_config.TextColumn("First value", disabled=True),
    },
    hide_index=True,
    use_container_width=True,
    key="new_study_roles",
)
roles = dict(zip(edited["column"], edited["role"]))
counts = pd.Series(roles).value_counts()
st.caption(" · ".join(f"{role}: {n}" for role, n in counts.items()))

st.subheader("2. Settings")
left, middle, right = st.columns(3)
study_name = left.text_input("Study name", value=str(name).rsplit(".", 1)[0], key="new_study_name")
classifiers = left.multiselect("Classifiers", ALL_CLASSIFIERS, default=["LR", "SVM", "RF"], key="new_study_classifiers")
folds = middle.number_input("Cross-validation folds", min_value=2, max_value=10, value=5, key="new_study_folds")
n_iter = middle.number_input("Search candidates per classifier", 1, 50, value=4, key="new_study_n_iter")
centres = sorted(table["center"].dropna().astype(str).unique()) if "center" in table else []
external = right.multiselect("External cohorts (centres)", centres, key="new_study_external")
time_unit = right.selectbox("Time unit of the survival times", ["months", "days", "years"], key="new_study_time_unit")
seed = right.number_input("Seed", min_value=0, value=0, key="new_study_seed")
settings = {
    "name": study_name,
    "cohort": {"external_centers": external},
    "grid": {"classifiers": classifiers, "folds": int(folds), "n_iter": int(n_iter)},
    "survival": {"time_unit": time_unit},
    "seed": int(seed),
}
try:
    kind = "manifest" if {"image", "mask"} & set(roles.values()) else "feature_table"  # images: radiomics + deep
    config = config_from_roles(roles, source=str(name), kind=kind, settings=settings)
except ValidationError as error:
    st.error(str(error))
    st.stop()

st.subheader("3. The study's config")
text = study_yaml(config)
st.code(text, language="yaml")
st.download_button(
    "Download the YAML (hcc-study train --config)", text, file_name="study.yaml", key="new_study_download_yaml"
)
if st.button("Train", type="primary", key="new_study_train"):
    try:
        job = cached.job_queue(str(cached.STORE)).submit(config, folder, user=st.session_state.get("user", "browser"))
    except ValidationError as error:
        st.error(str(error))
    else:
        st.success(f"Queued as job {job.job_id}: follow it on the Jobs page.")
        st.session_state["jobs_latest"] = job.job_id
