"""HCC imaging-study workbench: `streamlit run dashboard/app.py` (the README's `make demo` starts it)."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import state  # noqa: E402

st.set_page_config(page_title="HCC study workbench", layout="wide")
PAGES = Path(__file__).parent / "app_pages"
navigation = st.navigation(
    [
        st.Page(PAGES / "overview.py", title="Overview", default=True),
        st.Page(PAGES / "clinical_factors.py", title="Clinical factors"),
        st.Page(PAGES / "roc.py", title="ROC"),
        st.Page(PAGES / "delong.py", title="DeLong"),
        st.Page(PAGES / "reclassification.py", title="NRI / IDI"),
        st.Page(PAGES / "calibration.py", title="Calibration"),
        st.Page(PAGES / "decision_curves.py", title="Decision curves"),
        st.Page(PAGES / "survival.py", title="Survival"),
        st.Page(PAGES / "nomogram.py", title="Nomogram"),
        st.Page(PAGES / "features.py", title="Features"),
        st.Page(PAGES / "explanations.py", title="Explanations"),
        st.Page(PAGES / "case_viewer.py", title="Case viewer"),
    ]
)
st.sidebar.title("HCC study workbench")
st.session_state["study"] = state.study()
navigation.run()
