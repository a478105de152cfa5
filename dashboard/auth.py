"""Sign-in, set by HCC_AUTH: ``off`` (the default: the demo on one's own machine), ``oidc`` (Streamlit's st.login
with the hospital's identity provider, configured in .streamlit/secrets.toml [auth]: deploy/secrets.example.toml),
or ``proxy`` (the reverse proxy signs users in and passes who it is in a header, HCC_AUTH_HEADER, default
X-Forwarded-Email, e.g. oauth2-proxy). With sign-in on, nothing of the studies shows before it: not the sidebar, not
a run's name. The signed-in user is recorded with each job they start."""

from __future__ import annotations

import os

import streamlit as st

MODES = ("off", "oidc", "proxy")
ANONYMOUS = "browser"  # the user recorded when sign-in is off


def mode() -> str:
    chosen = os.environ.get("HCC_AUTH", "off").strip().lower() or "off"
    if chosen not in MODES:
        st.error(f"HCC_AUTH must be one of {list(MODES)}; got {chosen!r}. Set it and restart the dashboard.")
        st.stop()
    return chosen


def signed_in_user() -> str | None:
    """Who is signed in (an e-mail address or name), ANONYMOUS when sign-in is off, None when nobody is."""
    chosen = mode()
    if chosen == "off":
        return ANONYMOUS
    if chosen == "proxy":
        return st.context.headers.get(os.environ.get("HCC_AUTH_HEADER", "X-Forwarded-Email")) or None
    if not st.user.get("is_logged_in", False):  # (AppTest's user has no such key: anonymous)
        return None
    return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))


def require_sign_in() -> str:
    """The signed-in user; otherwise only the sign-in page is drawn and the script stops here."""
    user = signed_in_user()
    if user:
        return user
    st.title("HCC study workbench")
    if mode() == "proxy":
        st.error(
            "This dashboard is served behind a signing-in proxy, but the request carries no user "
            f"({os.environ.get('HCC_AUTH_HEADER', 'X-Forwarded-Email')} header). Open it through the proxy's address."
        )
        st.stop()
    if not _configured():
        st.error(
            "Sign-in (HCC_AUTH=oidc) needs the identity provider's settings in .streamlit/secrets.toml, section "
            "[auth] (see deploy/secrets.example.toml); none were found. Add them and restart the dashboard."
        )
        st.stop()
    st.write("Sign in with your hospital account to see the studies.")
    st.button("Sign in", type="primary", on_click=st.login, key="auth_sign_in")
    st.stop()


def _configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml at all
        return False


def sign_out_button() -> None:
    """In the sidebar, for an OIDC user."""
    if mode() == "oidc":
        st.sidebar.button("Sign out", on_click=st.logout, key="auth_sign_out")
