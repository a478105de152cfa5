import numpy as np
import streamlit as st

from dashboard import cached
from dashboard.state import cohort_picker, download_figure, download_table, p_adjust_picker, require_study, show_table
from engine.errors import ValidationError
from engine.common.predictions import filterable_columns, model_names, survival_as_predictions

study = require_study()
st.title("Survival: risk groups, C-index, time-dependent AUC")
if not study.endpoints:
    st.info("This study has no time-to-event endpoint (<name>_time and <name>_event columns).")
    st.stop()
endpoint = st.selectbox(
    "Endpoint", study.endpoints, format_func=lambda e: e.upper() or "time/event", key="survival_endpoint"
)
predictions = study.predictions
source_key = "binary"
survival_models = study.run.get("survival") if study.run is not None else None
if survival_models is not None and endpoint in set(survival_models["endpoint"]):
    source = st.radio(
        "Risk score from",
        ["binary models (probability)", "survival models (Cox / LASSO-Cox / RSF)"],
        horizontal=True,
        key="survival_source",
    )
    if source.startswith("survival"):
        source_key = "survival"
        predictions = survival_as_predictions(
            survival_models[survival_models["patient_id"].isin(study.predictions["patient_id"])], endpoint
        )
models = model_names(predictions)
split = cohort_picker(study, "survival_split", "Cohort shown")
time_column = f"{endpoint}_time" if endpoint else "time"
unit = f" ({study.time_unit})" if study.time_unit else " (same units as time)"


@st.fragment
def risk_groups() -> None:
    """The Kaplan-Meier risk groups of one model at a cutoff: choosing the model, the cutoff rule, the horizon or
    moving the cutoff slider reruns only this part (the C-index and time-dependent AUC below stay)."""
    preferred = [m for m in models if m.split(" (")[0] in ("Combined", "Rad")]
    model = st.selectbox(
        "Risk score of model",
        models,
        index=models.index(preferred[0]) if preferred else 0,
        key=f"survival_model_{source_key}",
    )
    methods = (
        ["median", "youden", "maxstat", "slider"]
        if predictions is study.predictions
        else ["median", "youden", "maxstat"]
    )
    method = st.radio("Cutoff (learned on the training cohort)", methods, horizontal=True, key="survival_method")
    horizon = None
    cutoff = None
    if method == "youden":
        default_horizon = study.horizons[0] if study.horizons else float(predictions[time_column].median())
        horizon = st.number_input(f"Horizon for the status{unit}", value=default_horizon, key="survival_horizon")
    if method == "slider":
        cutoff = st.slider("Cutoff on the model's probability", 0.0, 1.0, 0.5, 0.01, key="survival_cutoff")
    stored = study.run.get("cutoffs") if study.run is not None else None
    if stored is not None and cutoff is None and not study.filters:
        match = stored[
            (stored["endpoint"] == endpoint)
            & (stored["source"] == source_key)
            & (stored["method"] == method)
            & (stored["model"] == model)
        ]
        if len(match) and match["cutoff"].notna().all():
            cutoff = float(match["cutoff"].iloc[0])
            st.caption(
                f"Cutoff {cutoff:.4g} ({method}): learned on the training cohort when the run was built and stored "
                "with it"
                + (f"; search-adjusted p = {match['p_value_adjusted'].iloc[0]:.3g}" if method == "maxstat" else "")
                + "."
            )
    elif study.filters and method != "slider":
        st.caption("What-if filters are on: the cutoff is re-learned on the filtered training cohort.")
    try:
        learned, result = cached.survival_stratification(
            predictions, model, endpoint, split, "median" if method == "slider" else method, cutoff, horizon
        )
    except ValidationError as error:
        st.error(str(error))
        return
    hr_ci = f"{result.hr_ci_low:.2f}-{result.hr_ci_high:.2f}"
    text = f"log-rank p = {result.logrank_p:.3g}<br>HR (high vs low) {result.hr:.2f} ({hr_ci})"
    figure = cached.km_figure(
        result.curves,
        result.at_risk,
        title=f"{endpoint.upper()} by {model} risk group, {split} cohort (cutoff {result.cutoff:.3f})",
        annotation=text,
        time_label=study.time_label(time_column),
    )
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"km_{endpoint}_{split}", "survival_km")
    if learned is not None and learned.method == "maxstat":
        st.info(
            f"maxstat cutoff: naive log-rank p {learned.p_value_unadjusted:.3g} is optimistic after a cutpoint search; "
            f"adjusted ({learned.adjustment}) p = {learned.p_value_adjusted:.3g}."
        )


risk_groups()
st.subheader("C-index (Harrell) by cohort")
c_table = cached.concordance_table(predictions, endpoint, models)
show_table(c_table)
download_table(c_table, f"c_index_{endpoint}", "survival_c")
st.subheader("Time-dependent AUC")
default = study.horizons or [round(q, 1) for q in predictions[time_column].quantile([0.25, 0.5, 0.75])]
text = st.text_input(f"Horizons{unit}, comma-separated", ", ".join(f"{v:g}" for v in default), key="survival_horizons")
chosen = st.multiselect("Models", models, default=models[:3], key=f"survival_td_models_{source_key}")
if not chosen:
    st.info("Pick at least one model.")
    st.stop()
try:
    horizons = [float(v) for v in text.split(",") if v.strip()]
    table = cached.time_auc_table(predictions, endpoint, split, chosen, horizons, 100)
    figure = cached.line_figure(
        table,
        x="time",
        y="auc",
        group="model",
        title=f"Cumulative/dynamic AUC, {split} cohort",
        y_title="AUC",
        x_title=study.time_label(time_column),
    )
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"td_auc_{endpoint}_{split}", "survival_td")
    download_table(table, f"td_auc_{endpoint}_{split}", "survival_td_table")
except (ValidationError, ValueError) as error:
    st.error(str(error))

try:
    horizons = [float(v) for v in text.split(",") if v.strip()]
except ValueError:
    horizons = []
if not horizons:
    st.stop()
horizon = st.selectbox(
    f"Horizon for the curves below{unit}", horizons, format_func=lambda h: f"{h:g}", key="survival_curve_horizon"
)
at = f"{horizon:g} {study.time_unit}".strip()  # e.g. "24 months"
st.subheader(f"Time-dependent ROC at {at}")
try:
    curves, labels = cached.horizon_roc_curves(predictions, endpoint, split, chosen, horizon)
    figure = cached.roc_figure(
        curves, labels, title=f"{endpoint.upper()} by {at}, {split} cohort (cumulative/dynamic, IPCW)"
    )
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"td_roc_{endpoint}_{split}_{horizon:g}", "survival_td_roc")
except (ValidationError, ValueError) as error:
    st.error(str(error))

st.subheader("Comparing C-indexes")
adjust = p_adjust_picker("survival_c_adjust", "p-value adjustment")
try:
    pairs = cached.c_index_pairs(predictions, endpoint, split, chosen, adjust)
    show_table(pairs)
    download_table(pairs, f"c_index_pairs_{endpoint}_{split}", "survival_c_pairs")
    st.caption(
        "Paired test of Harrell's C on the same patients (infinitesimal-jackknife covariance, as R's "
        "survival::concordance(fit_a, fit_b)); diff = C(model_a) - C(model_b)."
    )
except ValidationError as error:
    st.info(str(error))
columns = [
    c
    for c in filterable_columns(study.predictions)
    if c not in ("split", "label") and study.predictions[c].nunique() <= 8
]
if columns:
    column = st.selectbox("C-index by subgroup of", columns, key="survival_c_subgroup")
    forest = cached.subgroup_c_index(predictions, endpoint, split, column, chosen)
    if len(forest):
        figure = cached.forest_figure(
            forest, title=f"{endpoint.upper()}: Harrell's C by {column}, {split} cohort", x_title="C-index (95% CI)"
        )
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, f"c_index_forest_{endpoint}_{column}", "survival_c_forest")

st.subheader(f"Calibration and net benefit at {at}")
if source_key != "survival":
    st.info(
        "A binary model's probability is a risk score, not a risk by the horizon: calibration and decision curves at a "
        "horizon need a survival model. Choose 'survival models' above (the study config's survival.horizons)."
    )
    st.stop()
try:
    calibrated = st.selectbox("Calibration of model", chosen, key="survival_calibration_model")
    table = cached.horizon_calibration(predictions, endpoint, split, calibrated, horizon)
    figure = cached.calibration_figure(
        {calibrated: table},
        title=f"{endpoint.upper()} at {at}, {split} cohort",
        x_title=f"Predicted survival at {at}",
        y_title="Observed survival (Kaplan-Meier)",
    )
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"survival_calibration_{endpoint}_{horizon:g}", "survival_calibration")
    show_table(table)
    for note in table.loc[table["note"] != "", "note"]:
        st.warning(f"A risk group's {note}.")
    curves = cached.horizon_decision_curves(
        predictions, endpoint, split, chosen, horizon, np.round(np.arange(0, 0.96, 0.01), 2)
    )
    figure = cached.decision_curve_figure(curves, title=f"Net benefit at {at}, {split} cohort")
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"survival_dca_{endpoint}_{horizon:g}", "survival_dca")
    download_table(curves, f"survival_dca_{endpoint}_{horizon:g}", "survival_dca_table")
    missing = curves[curves["note"] != ""]
    if len(missing):
        st.caption(
            f"Not estimable at thresholds {missing['threshold'].min():.2f} and above for some models: the "
            "test-positive "
            "group's follow-up ends before the horizon (no extrapolation)."
        )
except ValidationError as error:
    st.error(str(error))
