"""New study: a feature table (uploaded, or picked in the data folder) or a manifest of images and masks (in the data
folder: its paths are relative to it) -> each column's role -> the settings -> the YAML the CLI reads -> Train (a
job: see the Jobs page)."""

import uuid

import pandas as pd
import streamlit as st

from dashboard import cached
from dashboard.settings_form import settings_form
from engine.common.data_root import inside, tables_in
from engine.errors import ValidationError
from engine.pipeline.setup import (
    ROLES,
    available_models,
    config_from_roles,
    family_names,
    propose_roles,
    roles_by_kind,
    study_yaml,
)
from engine.pipeline.setup_form import demo_settings, form_settings, settings_from_form
from engine.validation import read_table_bytes, read_table_file

st.title("New study")
st.caption(
    "A feature table (one row per patient: patient_id, outcomes, clinical columns, features computed elsewhere) "
    "becomes a study: confirm each column's role, choose the settings, and train it as a job."
)
session = st.session_state.setdefault("new_study_session", uuid.uuid4().hex)  # this browser session's upload folder
on_server = tables_in(cached.DATA_ROOT) if cached.DATA_ROOT.is_dir() else []
UPLOAD, DATA_FOLDER, DEMO = "Upload a feature table", "A table in the data folder", "The demo's cohort (images)"
demo_manifest = cached.demo_manifest()  # `python -m engine demo`'s synthetic cohort, to try a study on
sources = [UPLOAD, DATA_FOLDER, *([DEMO] if demo_manifest.exists() else [])]
source = st.radio(
    "Table",
    sources,
    index=1 if on_server else 0,  # tables already in the data folder are offered first
    horizontal=True,
    key="new_study_source",
)
table, folder, name = None, None, None
try:
    if source == UPLOAD:
        file = st.file_uploader(
            "Feature table (CSV, XLSX or Parquet)", type=["csv", "xlsx", "parquet"], key="new_study_upload"
        )
        if file is not None:
            table = read_table_bytes(file.getvalue(), file.name, what="feature table", parquet=True)
            folder = cached.STORE / "uploads" / session  # seen by this session only
            folder.mkdir(parents=True, exist_ok=True)
            (folder / file.name).write_bytes(file.getvalue())
            name = file.name
    elif source == DEMO:
        table = read_table_file(demo_manifest, what="manifest")
        folder, name = demo_manifest.parent.resolve(), demo_manifest.name
        st.caption(
            f"{len(table)} synthetic patients with three CT phases and masks ({demo_manifest}); the demo's run was "
            "trained on it (assets/demo_study.yaml), and the settings below open with the demo's: trained as they "
            "open, 54 s on 2 cores (the demo's radiomics are reused). Change them and train your own (the template's "
            "defaults, 6,738 radiomics features a patient against the demo's 486 and a refined search: 11 minutes)."
        )
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
    width="stretch",
    key="new_study_roles",
)
roles = dict(zip(edited["column"], edited["role"]))
counts = pd.Series(roles).value_counts()
st.caption(" · ".join(f"{role}: {n}" for role, n in counts.items()))

st.subheader("2. Settings")
st.caption("Defaults and help texts are the config template's; hover over a setting's (?) for what it does.")
stem = str(name).rsplit(".", 1)[0]
if source == DEMO:
    stem = "demo cohort"
elif source == DATA_FOLDER and stem == "manifest":  # a manifest in the data folder: its folder names the study
    stem = folder.name
study_name = st.text_input("Study name", value=stem, key="new_study_name")
kind = "manifest" if {"image", "mask"} & set(roles.values()) else "feature_table"  # images: radiomics + deep
by_role = roles_by_kind(roles)
form = "new_study_demo" if source == DEMO else "new_study"  # the demo's form opens with the demo's settings
deep_on = st.session_state.get(f"{form}_deep.enabled", True)
clinical = by_role.get("clinical", [])
settings = form_settings(
    models=list(available_models(family_names(by_role, kind, deep=deep_on))),
    centres=sorted(table["center"].dropna().astype(str).unique()) if "center" in table else [],
    clinical=[c for c in clinical if pd.api.types.is_numeric_dtype(table[c])],
    survival=bool(by_role.get("survival time")),
    images=kind == "manifest",
    second_reader=bool(by_role.get("second reader mask")),
    start=demo_settings() if source == DEMO else None,
)
values = settings_form(settings, key=form)
orders = {}
for column in by_role.get("reference score", []):
    if not pd.api.types.is_numeric_dtype(table[column]):  # ordered categories: the user gives the order
        levels = ", ".join(sorted(table[column].dropna().astype(str).unique()))
        text = st.text_input(f"Order of {column} (lowest risk first)", levels, key=f"new_study_order_{column}")
        orders[column] = {"column": column, "order": [v.strip() for v in text.split(",") if v.strip()]}
try:
    chosen = settings_from_form(settings, values)
    chosen.update(name=study_name, **({"reference_scores": orders} if orders else {}))
    config = config_from_roles(roles, source=str(name), kind=kind, settings=chosen)
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
