import streamlit as st

from dashboard import cached
from dashboard.state import binary_study, cohort_picker, download_figure, download_table
from engine.errors import ValidationError

study = binary_study("ROC curves")
stored = study.training_cutoffs()
MODES = {
    "training": "each model's training cutoff (stored)",
    "fixed": "one threshold (slider)",
    "youden": "Youden on this cohort (optimistic)",
    "sensitivity": "target sensitivity on this cohort (optimistic)",
    "specificity": "target specificity on this cohort (optimistic)",
}
top = st.columns(2)
with top[0]:
    split = cohort_picker(study, "roc_split")
with top[1]:
    models = st.multiselect("Models", study.models, default=study.models, key="roc_models")
if not models:
    st.info("Pick at least one model.")
    st.stop()


@st.fragment
def operating_point() -> None:
    """The threshold, the curves with their operating points and the metrics at it: a threshold move reruns only
    this part of the page (the sidebar, the cohort and model pickers and the classifier comparison stay)."""
    left, right = st.columns([1, 2])
    with left:
        modes = [m for m in MODES if m != "training" or stored]
        mode = st.radio("Threshold", modes, format_func=MODES.get, key="roc_mode")
        value, reference = None, None
        if mode == "fixed":
            value = st.slider("Threshold probability", 0.0, 1.0, 0.5, 0.01, key="roc_threshold")
        elif mode != "training":
            reference = st.selectbox("Threshold found on model", models, key="roc_reference")
            if mode in ("sensitivity", "specificity"):
                value = st.slider(f"Target {mode}", 0.5, 1.0, 0.9, 0.01, key="roc_target")
            if split != "train":
                st.warning(
                    f"The threshold is re-learned on the {split} cohort it is evaluated on: its sensitivity and "
                    "specificity are optimistic. Report the training cutoffs for validation cohorts."
                )
    try:
        view = cached.operating_point(
            study.predictions, split, tuple(models), mode, value, reference, tuple(sorted(stored.items()))
        )
    except ValidationError as error:
        st.error(str(error))
        return
    if mode != "training":
        st.session_state["chosen_threshold"] = view.threshold
    with right:
        st.plotly_chart(view.figure, width="stretch")
        download_figure(view.figure, f"roc_{split}", "roc_figure")
    for note in view.notes:
        st.warning(note)
    if mode == "training":
        st.subheader("Operating points at the training cutoffs")
        st.caption(
            "Each model's cutoff maximises Youden's J on its training predictions (out-of-fold) and is applied "
            f"unchanged to every cohort. {view.cutoffs}"
        )
    else:
        st.subheader(f"Operating point: probability >= {view.threshold:.3f}")
    st.dataframe(view.shown, hide_index=True, width="stretch")
    st.caption("Each cell: the estimate (95% CI) at the threshold above.")
    download_table(view.table, f"threshold_metrics_{split}", "roc_metrics")
    st.caption("Confusion matrices at the threshold above (patients; event = label 1):")
    st.dataframe(view.counts, hide_index=True, width="stretch")  # every model in one table: compared at a glance
    st.plotly_chart(view.radar, width="stretch")


operating_point()
every = (study.run or {}).get("classifier_predictions")
if every is not None and len(every) and split != "train":
    st.subheader("Classifiers within a model")
    chosen_by_cv = study.run["grid"].query("chosen").set_index("model")["classifier"].to_dict()
    model = st.selectbox("Model", [m for m in study.models if m in set(every["model"])], key="roc_classifier_model")
    rows = every[(every["model"] == model) & (every["patient_id"].isin(study.predictions["patient_id"]))]
    rows = rows.assign(
        model=rows["classifier"].where(rows["classifier"] != chosen_by_cv.get(model), rows["classifier"] + " (chosen)")
    )
    try:
        curves, labels, _ = cached.roc_curves(rows, split, list(dict.fromkeys(rows["model"])))
        figure = cached.roc_figure(curves, labels, title=f"{model}: every classifier, {split} cohort")
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, f"roc_classifiers_{model}_{split}", "roc_classifiers_figure")
    except ValidationError as error:
        st.error(str(error))
    st.caption(
        "The model's classifier was chosen by cross-validated AUC on the training cohort, never on this cohort; the "
        "other classifiers' held-out curves are shown for the algorithm comparison only."
    )
