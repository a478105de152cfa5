import pandas as pd
import streamlit as st

from dashboard import cached
from dashboard.state import reference_note, binary_study, probability_models, cohort_picker, download_table, show_table

study = binary_study(
    "Reclassification: NRI and IDI", min_models=2, missing="Needs a binary label and at least two models."
)
split = cohort_picker(study, "nri_split")
options = probability_models(study)
if len(options) < 2:
    st.info("NRI and IDI need two models with probabilities.")
    st.stop()
old = st.selectbox("Reference (old) model", options, index=0, key="nri_old")
new = st.selectbox("New model", options, index=1, key="nri_new")
text = st.text_input("Risk cutoffs for the categorical NRI (comma-separated)", "0.2, 0.5", key="nri_cutoffs")
try:
    cutoffs = tuple(float(v) for v in text.split(",") if v.strip())
    results = cached.reclassification(study.predictions, split, old, new, cutoffs or None)
except ValueError as error:
    st.error(f"cutoffs must be numbers between 0 and 1 separated by commas ({error}).")
    st.stop()
rows = []
for name, key in (("Category-free NRI", "continuous"), ("Categorical NRI", "categorical")):
    if key in results:
        r = results[key]
        rows.append(
            {
                "statistic": name,
                "estimate": r.nri,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "events component": r.nri_events,
                "non-events component": r.nri_nonevents,
            }
        )
i = results["idi"]
rows.append(
    {
        "statistic": "IDI",
        "estimate": i.idi,
        "ci_low": i.ci_low,
        "ci_high": i.ci_high,
        "p_value": i.p_value,
        "events component": i.improvement_events,
        "non-events component": i.improvement_nonevents,
    }
)
summary = pd.DataFrame(rows)
show_table(summary)
download_table(summary, f"nri_idi_{split}", "nri_summary")
reference_note([old, new])
if "categorical" in results:
    st.subheader("Reclassification table")
    table = results["categorical"].table
    for outcome in ("event", "non-event"):
        st.caption(f"{outcome}s: rows = {old} category, columns = {new} category")
        st.dataframe(table[table["outcome"] == outcome].pivot(index="old", columns="new", values="n"), width="stretch")
