"""Case viewer: one patient's images (tumour and ring contours per phase, Grad-CAM, radiomics voxel map), the
predictions against each model's training cutoff, risk groups and the SHAP waterfall; exported as one figure."""

import json
from pathlib import Path

import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, require_study, show_table
from engine.views.case import case_predictions, case_risk_groups, run_manifest, voxel_feature_choices
from engine.common.data_root import inside
from engine.errors import ValidationError
from engine.plots import case as figures

study = require_study()
st.title("Case viewer")
table = study.predictions
left, right = st.columns(2)
split = left.selectbox("Cohort", study.splits, index=min(1, len(study.splits) - 1), key="case_split")
patients = sorted(table.loc[table["split"] == split, "patient_id"].astype(str).unique())
patient = right.selectbox("Patient", patients, key="case_patient")

predictions = case_predictions(table, study.training_cutoffs(), patient)
outcome = predictions["outcome"].iloc[0] if "outcome" in predictions else "not given"
st.caption(f"Patient {patient}, {split} cohort; observed outcome: {outcome}.")

slices, gradcam, voxel = [], None, None
if study.run is None:
    st.info("An uploaded predictions table has no images: the case shows the predictions only.")
else:
    config = study.run.get("config") or {}
    provenance = study.run["provenance"]
    run = cached.store().load(study.run_id)
    manifest = run_manifest(run)
    if manifest is None and config.get("cohort", {}).get("manifest"):
        demo = cached.demo_manifest()
        typed = st.text_input(
            f"Manifest of this run's images (runs trained before the engine recorded it), in the data folder "
            f"{cached.DATA_ROOT.resolve()}",
            str(demo) if demo.exists() else "",
            key="case_manifest",
        )
        try:  # the demo's own manifest, or a file inside the data folder: nothing else on the server is read
            manifest = demo.resolve() if typed and Path(typed) == demo else inside(cached.DATA_ROOT, typed or ".")
        except ValidationError as error:
            st.error(str(error))
            manifest = None
        manifest = manifest if manifest is not None and manifest.is_file() else None
    if manifest is None:
        st.info("This run has no images to show (a feature-table study, or its manifest is not reachable here).")
    else:
        key = (str(manifest), tuple(provenance.get("clinical", [])), config.get("cohort", {}).get("roi"))
        rings = tuple(sorted(((config.get("radiomics") or {}).get("rings_mm") or {}).items()))
        try:
            slices = cached.case_slices(*key, patient, rings)
            gradcam = cached.case_gradcam(study.run_id, *key, patient)
        except ValidationError as error:
            st.error(str(error))
        if slices:
            st.subheader("Images")
            columns = st.columns(len(slices))
            for column, case_slice in zip(columns, slices):
                column.plotly_chart(figures.slice_figure(case_slice), width="stretch", key=f"case_{case_slice.phase}")
            st.caption(
                "Each phase at the slice of the largest tumour cross-section; liver window -100 to 250 HU; red: the "
                "tumour mask, yellow: the outer edge of the peritumoral ring used for radiomics."
            )
            image_left, image_right = st.columns(2)
            if gradcam is not None:
                from engine.plots import gradcam_figure

                figure = gradcam_figure(*gradcam, "Grad-CAM on the network's input crop")
                figure.update_layout(width=None, height=360)
                image_left.plotly_chart(figure, width="stretch", key="case_gradcam")
                image_left.caption(
                    "Grad-CAM of the stored deep network (its last convolutional stage) for the event logit, or for "
                    "the evidence against the event where nothing in the crop supports it."
                )
            features = run.features()
            choices = voxel_feature_choices(list(features.columns) if features is not None else [])
            chosen = study.run["selected"]
            chosen = (
                chosen[chosen["model"] == "Rad"] if "model" in chosen and (chosen["model"] == "Rad").any() else chosen
            )
            selected = [f for f in chosen.get("feature", []) if f in choices]
            if choices:
                default = choices.index(selected[0]) if selected else 0
                feature = image_right.selectbox("Voxel map of", choices, index=default, key="case_voxel_feature")
                from engine.config import parse_config
                from engine.features.radiomics import extraction_options

                params = extraction_options(parse_config(config).radiomics)["params"]
                try:
                    plane, values, _ = cached.voxel_map(*key, patient, feature, json.dumps(params))
                    voxel = (plane, values, feature)
                    image_right.plotly_chart(
                        figures.voxel_map_figure(voxel[0], voxel[1], feature), width="stretch", key="case_voxel"
                    )
                    image_right.caption(
                        "PyRadiomics voxel-based extraction (3 x 3 in-plane kernel) over the tumour and a 10 mm "
                        "neighbourhood, on the phase and slice the feature names."
                    )
                except (ValidationError, ValueError) as error:
                    image_right.info(f"No voxel map: {error}")

st.subheader("Predictions")
figure = figures.probability_figure(predictions, title=f"Patient {patient}: probability per model")
st.plotly_chart(figure, width="stretch")
show_table(predictions.rename(columns={"prob": "score"}))
st.caption(
    "Each cutoff was learned on the training cohort (stored with the run) and is applied unchanged here; high risk "
    "means probability (or a reference's raw score) at or above it. Reference staging systems are raw scores and are "
    "not drawn on the probability axis."
)
if study.run is not None:
    groups = case_risk_groups(study.run.get("cutoffs"), study.unfiltered, study.run.get("survival"), patient)
    groups = groups[groups["model"].isin(study.default_models)]
    if len(groups):
        st.subheader("Risk groups per survival endpoint")
        show_table(groups.assign(endpoint=groups["endpoint"].str.upper()))
        st.caption(
            "Cutoffs learned on the training cohort: median or maximally selected rank statistic (maxstat) of the "
            "model's probability (source binary) or of its survival model's risk (source survival); high risk means "
            "above the cutoff."
        )
    models = cached.explainable_models(study.run_id)
    if models:
        from engine.plots.explanations import waterfall_figure

        st.subheader("Why: SHAP contributions")
        default = models.index("Combined") if "Combined" in models else len(models) - 1
        model = st.selectbox("Model", models, index=default, key="case_shap_model")
        explanation = cached.explanation(study.run_id, model)
        st.plotly_chart(waterfall_figure(explanation, patient, title=f"{model}: patient {patient}"), width="stretch")

if study.has_binary and "train" in study.splits:
    from engine.views.case import default_nomogram_terms, nomogram_values
    from engine.common.predictions import filterable_columns
    from engine.stats.nomogram import patient_points

    columns = [c for c in filterable_columns(study.predictions) if c not in ("split", "center")]
    predictors, scores = default_nomogram_terms(columns, study.models)
    if predictors or scores:
        st.subheader("Nomogram points")
        try:
            _, nomogram, _ = cached.nomogram(study.predictions, tuple(predictors), tuple(scores), None, (), "")
            values = nomogram_values(study.predictions, patient, predictors, scores)
            interval = nomogram.interval(values).iloc[0]
            show_table(patient_points(nomogram, values))
            st.caption(
                f"The Nomogram page's default nomogram (logistic, fitted on the training cohort: "
                f"{', '.join([*predictors, *[f'{m}-score' for m in scores]])}): predicted probability "
                f"{interval['estimate']:.3f} (95% CI {interval['ci_low']:.3f} to {interval['ci_high']:.3f})."
            )
        except ValidationError as error:
            st.info(f"No nomogram points: {error}")

st.subheader("Export the case")
figure = figures.case_figure(
    slices, predictions, gradcam=gradcam, voxel=voxel, title=f"Patient {patient} ({split}; outcome: {outcome})"
)
download_figure(figure, f"case_{patient}", "case_export")
