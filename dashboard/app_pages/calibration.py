import streamlit as st

from dashboard import cached
from dashboard.state import (
    reference_note,
    binary_study,
    probability_model_picker,
    cohort_picker,
    download_figure,
    download_table,
    show_table,
)
from engine.errors import ValidationError

study = binary_study("Calibration")
split = cohort_picker(study, "calibration_split")
models = probability_model_picker(study, "calibration_models")
if not models:
    st.stop()


@st.fragment
def curves_and_tests() -> None:
    """The curve method, the number of risk groups and the bias-corrected curve rerun only the curves and the
    table (not the sidebar, the cohort and the model pickers)."""
    method = st.radio("Curve", ["bins", "lowess"], horizontal=True, key="calibration_method")
    bins = st.slider("Risk groups (curve and Hosmer-Lemeshow)", 3, 15, 10, key="calibration_bins")
    try:
        curves, table, values = cached.calibration(study.predictions, split, models, method, bins)
    except ValidationError as error:
        st.error(str(error))
        return
    if study.run is not None and split == "train":
        chosen = st.selectbox("Bias-corrected curve for", models, key="calibration_corrected_model")
        if st.toggle(
            "Compute the bias-corrected curve (rms::calibrate style: 40 bootstrap refits of the whole pipeline; about "
            "a minute)",
            key="calibration_corrected",
        ):
            try:
                corrected, caveat = cached.bias_corrected(study.run_id, chosen, 40)
                curve = corrected.curve
                curves = {
                    **curves,
                    f"{chosen} apparent (in-sample refit)": curve[["predicted"]].assign(observed=curve["apparent"]),
                    f"{chosen} bias-corrected": curve[["predicted"]].assign(observed=curve["bias_corrected"]),
                }
                st.caption(
                    f"Bias-corrected mean absolute error {corrected.mean_abs_error:.3f} (90th percentile "
                    f"{corrected.e90:.3f}); "
                    f"{corrected.n_boot} resamples, {corrected.n_failed} skipped."
                )
                if caveat:
                    st.warning(caveat)
            except ValidationError as error:
                st.error(str(error))
    figure = cached.calibration_figure(curves, values, title=f"Calibration, {split} cohort")
    st.plotly_chart(figure, width="stretch")
    download_figure(figure, f"calibration_{split}", "calibration_figure")
    shown = table[
        [
            "model",
            "intercept",
            "slope",
            "citl",
            "brier",
            "spiegelhalter_z",
            "spiegelhalter_p",
            "eavg",
            "e90",
            "emax",
            "hl_statistic",
            "hl_dof",
            "hl_p",
        ]
    ]
    show_table(shown)
    download_table(shown, f"calibration_{split}", "calibration_table")
    reference_note(models)
    st.caption(
        "Curves are apparent calibration of stored predictions; training-cohort predictions are out-of-fold. "
        "engine.stats.calibration_bootstrap gives the bias-corrected curve when the feature matrix is at hand."
    )


curves_and_tests()
