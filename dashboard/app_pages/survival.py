import streamlit as st

from dashboard import cached
from dashboard.state import cohort_picker, download_figure, download_table, require_study
from engine import plots
from engine.errors import ValidationError
from engine.predictions import model_names, survival_as_predictions

study = require_study()
st.title("Survival: risk groups, C-index, time-dependent AUC")
if not study.endpoints:
    st.info("This study has no time-to-event endpoint (<name>_time and <name>_event columns).")
    st.stop()
endpoint = st.selectbox("Endpoint", study.endpoints, format_func=lambda e: e.upper() or "time/event", key="survival_endpoint")
predictions = study.predictions
source_key = "binary"
survival_models = study.run.get("survival") if study.run is not None else None
if survival_models is not None and endpoint in set(survival_models["endpoint"]):
    source = st.radio("Risk score from", ["binary models (probability)", "survival models (Cox / LASSO-Cox / RSF)"], horizontal=True, key="survival_source")
    if source.startswith("survival"):
        source_key = "survival"
        predictions = survival_as_predictions(survival_models[survival_models["patient_id"].isin(study.predictions["patient_id"])], endpoint)
models = model_names(predictions)
preferred = [m for m in models if m.split(" (")[0] in ("Combined", "Rad")]
model = st.selectbox("Risk score of model", models, index=models.index(preferred[0]) if preferred else 0, key=f"survival_model_{source_key}")
split = cohort_picker(study, "survival_split", "Cohort shown")
methods = ["median", "youden", "maxstat", "slider"] if predictions is study.predictions else ["median", "youden", "maxstat"]
method = st.radio("Cutoff (learned on the training cohort)", methods, horizontal=True, key="survival_method")
time_column = f"{endpoint}_time" if endpoint else "time"
horizon = None
cutoff = None
if method == "youden":
    horizon = st.number_input("Horizon for the status (same units as time)", value=float(predictions[time_column].median()), key="survival_horizon")
if method == "slider":
    cutoff = st.slider("Cutoff on the model's probability", 0.0, 1.0, 0.5, 0.01, key="survival_cutoff")
stored = study.run.get("cutoffs") if study.run is not None else None
if stored is not None and cutoff is None and not study.filters:
    match = stored[(stored["endpoint"] == endpoint) & (stored["source"] == source_key) & (stored["method"] == method) & (stored["model"] == model)]
    if len(match) and match["cutoff"].notna().all():
        cutoff = float(match["cutoff"].iloc[0])
        st.caption(f"Cutoff {cutoff:.4g} ({method}): learned on the training cohort when the run was built and stored with it"
                   + (f"; search-adjusted p = {match['p_value_adjusted'].iloc[0]:.3g}" if method == "maxstat" else "") + ".")
elif study.filters and method != "slider":
    st.caption("What-if filters are on: the cutoff is re-learned on the filtered training cohort.")
try:
    learned, result = cached.survival_stratification(predictions, model, endpoint, split, "median" if method == "slider" else method, cutoff, horizon)
except ValidationError as error:
    st.error(str(error))
    st.stop()
text = f"log-rank p = {result.logrank_p:.3g}<br>HR (high vs low) {result.hr:.2f} ({result.hr_ci_low:.2f}-{result.hr_ci_high:.2f})"
figure = plots.km_figure(result.curves, result.at_risk, title=f"{endpoint.upper()} by {model} risk group, {split} cohort (cutoff {result.cutoff:.3f})",
                         annotation=text, time_label=time_column)
st.plotly_chart(figure, width="stretch")
download_figure(figure, f"km_{endpoint}_{split}", "survival_km")
if learned is not None and learned.method == "maxstat":
    st.info(f"maxstat cutoff: naive log-rank p {learned.p_value_unadjusted:.3g} is optimistic after a cutpoint search; "
            f"adjusted ({learned.adjustment}) p = {learned.p_value_adjusted:.3g}.")
st.subheader("C-index (Harrell) by cohort")
c_table = cached.concordance_table(predictions, endpoint, models)
st.dataframe(c_table.round(3), width="stretch", hide_index=True)
download_table(c_table, f"c_index_{endpoint}", "survival_c")
st.subheader("Time-dependent AUC")
default = [round(q, 1) for q in predictions[time_column].quantile([0.25, 0.5, 0.75])]
text = st.text_input("Horizons (comma-separated)", ", ".join(str(v) for v in default), key="survival_horizons")
chosen = st.multiselect("Models", models, default=models[:3], key=f"survival_td_models_{source_key}")
if not chosen:
    st.info("Pick at least one model.")
    st.stop()
try:
    horizons = [float(v) for v in text.split(",") if v.strip()]
    table = cached.time_auc_table(predictions, endpoint, split, chosen, horizons, 100)
    figure = plots.line_figure(table, x="time", y="auc", group="model", title=f"Cumulative/dynamic AUC, {split} cohort", y_title="AUC")
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"td_auc_{endpoint}_{split}", "survival_td")
    download_table(table, f"td_auc_{endpoint}_{split}", "survival_td_table")
except (ValidationError, ValueError) as error:
    st.error(str(error))
