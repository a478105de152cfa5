"""HCC imaging-study workbench: `streamlit run dashboard/app.py` (the README's `make demo` starts it)."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboard import auth, cached, state  # noqa: E402
from dashboard.pages import SECTIONS  # noqa: E402

st.set_page_config(page_title="HCC study workbench", layout="wide")
cached.idle_cleanup()  # started once per server
cached.sockets_without_delay()  # once per server
cached.page_ran()
st.session_state["user"] = auth.require_sign_in()  # with sign-in on, nothing below shows before it
FOLDER = Path(__file__).parent / "app_pages"
navigation = st.navigation(
    {
        section: [st.Page(FOLDER / f"{name}.py", title=title, default=name == "overview") for name, title in pages]
        for section, pages in SECTIONS.items()
    },
    expanded=True,  # every page listed: no "View 5 more" hiding New study, Jobs and Predict
)
st.sidebar.title("HCC study workbench")
if st.session_state["user"] != auth.ANONYMOUS:
    st.sidebar.caption(f"Signed in as {st.session_state['user']}")
    auth.sign_out_button()
st.session_state["study"] = state.study()
navigation.run()
