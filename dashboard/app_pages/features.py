import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, download_table, require_study, show_table
from engine import plots
from engine.errors import ValidationError

study = require_study()
st.title("Selected features")
if study.run is None:
    st.info("Selected features come with a run from the store (an uploaded predictions table has none).")
    st.stop()
if not len(study.run["selected"]):
    st.info("This run has no classifier grid (a survival-only study): its survival models are on the Survival page.")
else:
    selected = study.run["selected"]
    model = st.selectbox("Model", list(dict.fromkeys(selected["model"])), key="features_model")
    rows = selected[selected["model"] == model]
    terms = rows[rows["feature"] != "(intercept)"].sort_values("coefficient", key=abs, ascending=False)
    show_table(terms)
    download_table(terms, f"selected_{model}", "features_table")
    intercept = rows.loc[rows["feature"] == "(intercept)", "coefficient"]
    if len(intercept):
        formula = f"{intercept.iloc[0]:+.4f} " + " ".join(
            f"{c:+.4f} x {f}" for f, c in zip(terms["feature"], terms["coefficient"])
        )
        st.subheader(f"{model}-score (LASSO linear predictor, standardised features)")
        st.code(f"{model}-score = {formula}", language=None)
    if model in set(study.run["predictions"]["model"]) and not model.startswith("Stacked"):
        with st.expander("LASSO path (coefficients and cross-validated AUC over the penalty)"):
            try:
                path, cv, chosen = cached.lasso_path(study.run_id, model)
                figure = cached.lasso_path_figure(path, cv, chosen, title=f"LASSO path, {model} (training cohort)")
                st.plotly_chart(figure, width="stretch")
                download_figure(figure, f"lasso_path_{model}", "features_lasso_path")
            except ValidationError as error:
                st.info(str(error))
gallery = study.run.get("gradcam")
if gallery is not None:
    st.subheader("Grad-CAM of the deep model (internal and external patients)")
    from engine.report import deep_objective_text

    config = study.run.get("config") or {}
    st.caption(
        deep_objective_text(config.get("deep") or {}, config) + " The maps show what drives the network's output "
        "(the event logit, or the log-risk for a Cox-trained network); a title ending 'against' shows the evidence "
        "against the event, for a crop where nothing supports it."
    )
    columns = st.columns(4)
    for index in range(min(len(gallery["patient_id"]), 12)):
        with columns[index % 4]:
            figure = plots.gradcam_figure(
                gallery["crop"][index],
                gallery["heatmap"][index],
                f"{gallery['patient_id'][index]} ({'event' if gallery['label'][index] else 'no event'})"
                + (", against" if "against" in gallery and gallery["against"][index] else ""),
            )
            st.plotly_chart(figure, width="stretch", key=f"features_gradcam_{index}", config={"displayModeBar": False})
provenance = study.run["provenance"]
st.subheader("Provenance")
st.json(
    {k: provenance[k] for k in ("created", "seed", "device", "timings_s", "packages", "families") if k in provenance}
)
