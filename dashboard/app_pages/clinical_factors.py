import streamlit as st

from dashboard import cached
from dashboard.state import download_table, require_study
from engine.errors import ValidationError
from engine.common.predictions import filterable_columns
from engine.common.tables import regression_paper_table

study = require_study()
st.title("Clinical factors")
stored = (study.run or {}).get("clinical_tables")
outcomes = (["label"] if study.has_binary else []) + list(study.endpoints)
if not outcomes:
    st.info("This table has no outcome to regress on.")
    st.stop()
endpoint = st.radio(
    "Outcome",
    outcomes,
    horizontal=True,
    key="clinical_endpoint",
    format_func=lambda e: "binary endpoint (odds ratios)" if e == "label" else f"{e.upper()} (hazard ratios)",
)
if stored is not None and not study.filters and endpoint in set(stored[0]["endpoint"]):
    univariable, multivariable = (table[table["endpoint"] == endpoint].drop(columns="endpoint") for table in stored)
    selection = (study.run.get("config") or {}).get("grid", {}).get("clinical_selection", {})
    method = selection.get("method", "none")
    chosen = study.run["provenance"].get("clinical_selection", {})
    st.caption(
        "Fitted on the training cohort (stored with the run). Predictors with a univariable p below "
        f"{selection.get('enter_p', 0.05):g} entered the multivariable model"
        + (
            f"; clinical selection '{method}' (refitted inside every cross-validation fold) chose for the clinical "
            "model: "
            f"{', '.join(chosen.get('Clinical', [])) or 'no predictor'}."
            if method != "none"
            else "; the clinical models used every clinical predictor (grid.clinical_selection: none)."
        )
    )
else:
    candidates = [c for c in filterable_columns(study.unfiltered) if c not in ("split", "center")]
    predictors = st.multiselect("Predictors", candidates, default=candidates[:8], key="clinical_predictors")
    if not predictors:
        st.stop()
    try:
        univariable, multivariable, where = cached.regression_tables(
            study.predictions, tuple(predictors), None if endpoint == "label" else endpoint
        )
    except ValidationError as error:
        st.error(str(error))
        st.stop()
    st.caption(
        f"Fitted on the {where}"
        + (" of the what-if sub-cohort" if study.filters else "")
        + "; predictors with a univariable p below 0.05 entered the multivariable model."
    )
measure = "odds ratio" if endpoint == "label" else "hazard ratio"
st.subheader(f"Univariable and multivariable {measure}s")
paper = regression_paper_table(univariable, multivariable)
st.dataframe(paper.drop(columns="Note"), width="stretch", hide_index=True, height=35 * (len(paper) + 1) + 3)
for row in paper[paper["Note"] != ""].itertuples():
    st.warning(f"{row.Variable}: {row.Note}")
if "Chosen" in paper:
    st.caption(
        "Chosen: the predictors the clinical selection kept on the whole training cohort (the final clinical model)."
    )
download_table(paper, f"clinical_factors_{endpoint}", "clinical_paper")
with st.expander("Tidy tables (every column, for further analysis)"):
    st.dataframe(univariable, width="stretch", hide_index=True)
    download_table(univariable, f"univariable_{endpoint}", "clinical_univariable")
    if multivariable is not None and len(multivariable):
        st.dataframe(multivariable, width="stretch", hide_index=True)
        download_table(multivariable, f"multivariable_{endpoint}", "clinical_multivariable")
