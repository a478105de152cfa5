import streamlit as st

from dashboard import cached
from dashboard.state import binary_study, cohort_picker, download_figure, download_table
from engine import plots
from engine.errors import ValidationError

study = binary_study("ROC curves")
left, right = st.columns([1, 2])
with left:
    split = cohort_picker(study, "roc_split")
    models = st.multiselect("Models", study.models, default=study.models, key="roc_models")
    mode = st.radio("Threshold", ["fixed", "youden", "sensitivity", "specificity"], horizontal=True, key="roc_mode",
                    format_func={"fixed": "slider", "youden": "Youden", "sensitivity": "target sensitivity", "specificity": "target specificity"}.get)
    reference = st.selectbox("Threshold found on model", models or study.models, key="roc_reference")
    value = None
    if mode == "fixed":
        value = st.slider("Threshold probability", 0.0, 1.0, 0.5, 0.01, key="roc_threshold")
    elif mode in ("sensitivity", "specificity"):
        value = st.slider(f"Target {mode}", 0.5, 1.0, 0.9, 0.01, key="roc_target")
if not models:
    st.info("Pick at least one model.")
    st.stop()
try:
    threshold = cached.choose_threshold(study.predictions, split, reference, mode, value)
    curves, labels, metrics = cached.roc_curves(study.predictions, split, models)
    table, matrices, points = cached.metrics_at_threshold(study.predictions, split, list(curves), threshold)
except ValidationError as error:
    st.error(str(error))
    st.stop()
st.session_state["chosen_threshold"] = threshold
with right:
    figure = plots.roc_figure(curves, labels, points=points, title=f"{split} cohort, threshold {threshold:.3f}")
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"roc_{split}", "roc_figure")
for note in metrics.loc[metrics["note"] != "", "note"]:
    st.warning(note)
st.subheader(f"Operating point: probability >= {threshold:.3f}")
pivot = table.pivot(index="model", columns="metric", values="estimate")[["sensitivity", "specificity", "ppv", "npv", "accuracy", "f1"]]
with_ci = table.assign(value=table.apply(lambda r: f"{r.estimate:.3f}" + (f" ({r.ci_low:.3f}-{r.ci_high:.3f})" if r.ci_low == r.ci_low else ""), axis=1))
st.dataframe(with_ci.pivot(index="model", columns="metric", values="value")[pivot.columns], width="stretch")
download_table(table, f"threshold_metrics_{split}", "roc_metrics")
columns = st.columns(min(len(matrices), 4))
for index, (model, matrix) in enumerate(matrices.items()):
    with columns[index % len(columns)]:
        st.caption(model)
        st.dataframe(matrix, width="stretch")
radar = table[table["metric"].isin(["sensitivity", "specificity", "ppv", "npv", "accuracy", "f1"])]
figure = plots.radar_figure(radar)
st.plotly_chart(figure, width="stretch")
