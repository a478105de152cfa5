import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, download_table, require_study
from engine import plots
from engine.errors import ValidationError

study = require_study()
st.title("Calibration")
if not study.has_binary:
    st.info("This table has no binary label.")
    st.stop()
split = st.selectbox("Cohort", study.splits, index=min(1, len(study.splits) - 1), key="calibration_split")
models = st.multiselect("Models", study.models, default=study.models[:3], key="calibration_models")
method = st.radio("Curve", ["bins", "lowess"], horizontal=True, key="calibration_method")
bins = st.slider("Risk groups (curve and Hosmer-Lemeshow)", 3, 15, 10, key="calibration_bins")
if not models:
    st.stop()
try:
    curves, table, values = cached.calibration(study.predictions, split, models, method, bins)
except ValidationError as error:
    st.error(str(error))
    st.stop()
figure = plots.calibration_figure(curves, values, title=f"Calibration, {split} cohort (apparent)")
st.plotly_chart(figure, width="stretch")
download_figure(figure, f"calibration_{split}", "calibration_figure")
shown = table[["model", "intercept", "slope", "citl", "brier", "spiegelhalter_z", "spiegelhalter_p", "eavg", "e90", "emax", "hl_statistic", "hl_dof", "hl_p"]]
st.dataframe(shown.round(4), width="stretch", hide_index=True)
download_table(shown, f"calibration_{split}", "calibration_table")
st.caption("Curves are apparent calibration of stored predictions; training-cohort predictions are out-of-fold. "
           "engine.stats.calibration_bootstrap gives the bias-corrected curve when the feature matrix is at hand.")
