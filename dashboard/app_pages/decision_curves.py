import numpy as np
import streamlit as st

from dashboard import cached
from dashboard.state import (
    reference_note,
    binary_study,
    probability_model_picker,
    cohort_picker,
    download_figure,
    download_table,
)

study = binary_study("Decision curves")
split = cohort_picker(study, "dca_split")
models = probability_model_picker(study, "dca_models")
if not models:
    st.stop()


@st.fragment
def curves() -> None:
    """The threshold range, the measure shown and the bootstrap bands rerun only the curves (not the sidebar, the
    cohort and the model pickers)."""
    low, high = st.slider("Threshold range", 0.0, 0.99, (0.0, 0.8), 0.01, key="dca_range")
    y = st.radio(
        "Show",
        ["net_benefit", "net_interventions_avoided"],
        horizontal=True,
        key="dca_y",
        format_func={"net_benefit": "net benefit", "net_interventions_avoided": "net interventions avoided"}.get,
    )
    bands = st.toggle("Bootstrap 95% bands (200 resamples)", key="dca_bands")
    thresholds = np.round(np.arange(low, high + 1e-9, 0.01), 2)
    table = cached.decision_curves(study.predictions, split, models, thresholds, 200 if bands else 0)
    figure = cached.decision_curve_figure(
        table, threshold=st.session_state.get("chosen_threshold"), y=y, title=f"{split} cohort"
    )
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"decision_curve_{split}", "dca_figure")
    download_table(table, f"decision_curve_{split}", "dca_table")
    reference_note(models)


curves()
