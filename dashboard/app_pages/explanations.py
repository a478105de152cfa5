"""SHAP explanations of a run's models: global importance (bar, beeswarm), family shares, one patient's waterfall."""

import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, download_table, require_study, show_table
from engine.errors import ValidationError
from engine.views.explain import FAMILY_NAMES, default_model, family_shares, importance
from engine.plots import explanations as figures

study = require_study()
st.title("Explanations (SHAP)")
if study.run is None:
    st.info("Explanations need the fitted models of a run from the store (an uploaded predictions table has none).")
    st.stop()
models = cached.explainable_models(study.run_id)
if not models:
    st.info("This run has no fitted classifier pipelines to explain (a survival-only study or an older run).")
    st.stop()
left, right = st.columns(2)
model = left.selectbox("Model", models, index=models.index(default_model(models)), key="explain_model")
try:
    explanation = cached.explanation(study.run_id, model)
except ValidationError as error:
    st.error(str(error))
    st.stop()
cohorts = [s for s in study.splits if s in set(explanation.split)]
split = right.selectbox("Cohort for the global view", cohorts, key="explain_split")
st.caption(
    f"{explanation.method}. Values are contributions to the {explanation.scale} of the event, on the "
    f"{len(explanation.features)} features that reach the classifier (after imputation, scaling and selection "
    "learned on the training cohort; feature values standardised). Outcomes are never used: every cohort is "
    "explained against the training background."
)

shares = family_shares(explanation, split)
if len(shares) > 1:
    st.subheader("Share of each feature family")
    figure = figures.family_share_figure(explanation, split, title=f"{model}: family shares, {split}")
    st.plotly_chart(figure, width="stretch")
    st.caption(
        "A family's contribution to a patient is the sum of its features' SHAP values; the share is its mean "
        "absolute contribution over the cohort, relative to the families' total."
    )
    show_table(shares.assign(family=shares["family"].map(lambda f: FAMILY_NAMES.get(f, f))))
    download_figure(figure, f"shap_families_{model}_{split}", "explain_families")

st.subheader("Global importance")


@st.fragment
def global_importance() -> None:
    """The number of features shown reruns only the importance figures (not the model's SHAP values above)."""
    top = st.slider("Features shown", 5, max(5, min(30, len(explanation.features))), 15, key="explain_top")
    bar, swarm = st.tabs(["Mean |SHAP| (bar)", "Beeswarm"])
    with bar:
        figure = figures.importance_figure(explanation, split, top, title=f"{model}: mean |SHAP|, {split}")
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, f"shap_importance_{model}_{split}", "explain_bar")
    with swarm:
        figure = figures.beeswarm_figure(explanation, split, top, title=f"{model}: SHAP values, {split}")
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, f"shap_beeswarm_{model}_{split}", "explain_swarm")
    table = importance(explanation, split)
    download_table(table, f"shap_importance_{model}_{split}", "explain_table")


global_importance()


@st.fragment
def one_patient() -> None:
    """Another patient reruns only the waterfall."""
    st.subheader("One patient")
    patients = [p for p, s in zip(explanation.patient_id, explanation.split) if s == split]
    patient = st.selectbox("Patient", patients, key="explain_patient")
    figure = figures.waterfall_figure(explanation, patient, title=f"{model}: patient {patient} ({split})")
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"shap_waterfall_{model}_{patient}", "explain_waterfall")


one_patient()
