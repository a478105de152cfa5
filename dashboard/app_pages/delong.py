import streamlit as st

from dashboard import cached
from dashboard.state import binary_study, cohort_picker, download_figure, download_table, p_adjust_picker, show_table
from engine.errors import ValidationError

study = binary_study("DeLong tests")
split = cohort_picker(study, "delong_split")
models = st.multiselect("Models", study.models, default=study.models, key="delong_models")
adjust = p_adjust_picker("delong_adjust")
try:
    diff, text, pairs = cached.pairwise_delong(study.predictions, split, models, adjust)
except ValidationError as error:
    st.error(str(error))
    st.stop()
figure = cached.pairwise_heatmap(diff, text, title=f"AUC difference (row - column), {split} cohort", colorbar="ΔAUC")
st.plotly_chart(figure, width="stretch")
download_figure(figure, f"delong_{split}", "delong_figure")
show_table(pairs)
download_table(pairs, f"delong_{split}", "delong_table")
