import streamlit as st

from dashboard import cached
from dashboard.state import cohort_picker, download_figure, download_table, require_study, show_table
from engine.errors import ValidationError
from engine.views.performance import LABELS as PERFORMANCE_COLUMNS
from engine.common.predictions import cohort_columns
from engine.views.summary import flowchart, study_sentence


def cutoff_rule(study) -> str:
    setting = ((study.run or {}).get("config") or {}).get("grid", {}).get("cutoff") or {}
    method = setting.get("method", "youden")
    return "maximal Youden's J" if method == "youden" else f"the first reaching {method} {setting.get('target')}"


study = require_study()
st.title("Overview")
st.markdown(study_sentence(study.unfiltered, (study.run or {}).get("provenance"), study.source))
st.caption(f"Source: {study.source}")
report_label = (
    "Build the report (HTML: methods, numbered figures and tables, checklists; the tables as DOCX; the figure files; "
    "zipped)"
)
if study.filters:
    report_label += "; restricted to the what-if sub-cohort"
if st.toggle(report_label, key="overview_report"):
    anchors = ()
    if study.has_binary and len(study.models) > 2:
        anchors = tuple(
            st.multiselect(
                "DeLong tests in the report: every model against",
                study.models,
                default=[],
                placeholder="the best model (training AUC) and the clinical model",
                key="overview_report_anchors",
            )
        )
    pdf = st.checkbox("With a PDF print of the report (Chromium; a few seconds more)", key="overview_report_pdf")
    try:
        if study.run is not None:
            report = cached.report(study.run_id, study.filters, anchors, pdf)
        else:
            report = cached.upload_report(
                study.unfiltered, study.source.removeprefix("upload "), study.filters, anchors, pdf
            )
        st.download_button(
            "Download report.zip",
            report,
            file_name=f"report_{study.run_id or 'upload'}.zip",
            key="overview_report_download",
        )
    except ValidationError as error:
        st.error(str(error))
st.subheader("Cohorts")
flow = flowchart(study.unfiltered, (study.run or {}).get("provenance"))
figure = cached.flowchart_figure(flow)
st.plotly_chart(figure, width="stretch", config={"displayModeBar": False})
st.caption(
    "Cohort flowchart: patients in the manifest, those left out with the reason (cohort.exclude_incomplete), and "
    "each cohort. For an upload or an older run: the patients of the table."
)
download_figure(figure, "flowchart", "overview_flowchart")
st.dataframe(cached.cohort_counts(study.predictions), width="stretch")
patient_columns = cohort_columns(study.predictions)
if patient_columns and study.predictions["split"].nunique() > 1:
    st.subheader("Table 1 by cohort")
    table = cached.table_one(study.predictions, patient_columns)
    st.dataframe(table, width="stretch", hide_index=True)
    download_table(table, "table1", "overview_table1")
if study.has_binary:
    cutoffs = study.training_cutoffs()
    if (study.run or {}).get("provenance", {}).get("strata"):
        st.info(
            "A stratified run: each stratum has its own models, cutoffs and clinical tables. Pick a stratum in the "
            "sidebar "
            "for its performance table; this view pools the strata (each patient scored by its own stratum's models)."
        )
    if cutoffs:
        st.subheader("Performance by cohort at each model's training cutoff")
        performance = cached.performance_table(study.predictions, cutoffs)
        shown = st.multiselect(
            "Columns",
            list(PERFORMANCE_COLUMNS),
            default=["auc", "sensitivity", "specificity"],
            format_func=PERFORMANCE_COLUMNS.get,
            key="overview_performance_columns",
        )
        table = cached.paper_table(performance, tuple(shown or ["auc"]))
        st.dataframe(
            table,
            width="stretch",
            height=35 * (len(table) + 2) + 3,
            column_config={"Model": st.column_config.TextColumn(width="medium")},
        )
        st.caption(
            f"Each model's cutoff ({cutoff_rule(study)}) is learned on its training predictions (out-of-fold) and "
            "applied "
            "unchanged to the internal and every external cohort; (95% CI): DeLong for the AUC, Wilson for proportions."
        )
        download_table(performance, "performance", "overview_performance")
    st.subheader("Discrimination by model and cohort")
    split = cohort_picker(study, "overview_split")
    metrics = cached.model_metrics(study.predictions, split, study.models)
    show_table(metrics)
    download_table(metrics, f"auc_{split}", "overview_metrics")
    if study.run is not None and len(study.run["grid"]):
        grid = study.run["grid"]
        st.subheader("The model grid")
        shown = ["cv_auc", "train_auc", *[f"{s}_auc" for s in study.splits if s != "train" and f"{s}_auc" in grid]]
        column = st.radio("AUC shown", shown, horizontal=True, key="overview_grid_column")
        figure = cached.grid_heatmap(grid, column)
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, "model_grid", "overview_grid")
        flagged = grid[grid["chosen"] & grid["overfit"]]
        if len(flagged):
            st.warning(
                "Overfitting flag (training AUC exceeds internal AUC by more than 0.1): " + ", ".join(flagged["model"])
            )
    candidates = [c for c in patient_columns if c != "label" and study.predictions[c].nunique() <= 8]
    if candidates:
        st.subheader("Subgroups")
        column = st.selectbox("Subgroup by", candidates, key="overview_subgroup")
        chosen = st.multiselect("Models", study.models, default=study.default_models, key="overview_subgroup_models")
        forest = cached.subgroup_aucs(study.predictions, split, column, chosen)
        if len(forest):
            figure = cached.forest_figure(forest)
            st.plotly_chart(figure, width="stretch")
            download_figure(figure, f"subgroups_{column}", "overview_forest")
        else:
            st.info("No subgroup has enough events and non-events for an AUC.")
