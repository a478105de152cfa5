"""Sign-in (dashboard.auth): with HCC_AUTH=oidc an anonymous session sees only the sign-in page (no sidebar, no run
name); missing identity-provider settings and a proxy without its user header are said, not ignored; a signed-in
user's job is recorded with their name; with sign-in off (the demo) nothing changes."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from engine.pipeline.jobs import JobQueue
from tests.dashboard.test_app import APP
from tests.dashboard.test_new_study_and_jobs import own_caches, page  # noqa: F401 - the fixture is used here too
from tests.system.test_table_checks import breast_table

SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "hcc-dashboard",
    "client_secret": "secret",
    "server_metadata_url": "https://login.example.org/.well-known/openid-configuration",
}


def visit(store, monkeypatch, auth: str, secrets: dict | None = None) -> AppTest:
    from dashboard import cached

    monkeypatch.setenv("HCC_STORE", str(store))
    monkeypatch.setenv("HCC_AUTH", auth)
    monkeypatch.setattr(cached, "STORE", store)
    at = AppTest.from_file(str(APP), default_timeout=120)
    if secrets is not None:
        at.secrets["auth"] = secrets
    return at.run()


def everything_shown(at: AppTest) -> str:
    """Every text, label and value the session was sent (main area and sidebar)."""
    return json.dumps([str(node.proto) for node in at.main] + [str(node.proto) for node in at.sidebar])


def test_an_anonymous_session_sees_only_the_sign_in_page(app_store, monkeypatch):
    at = visit(app_store, monkeypatch, "oidc", SECRETS)
    assert not at.exception, at.exception
    assert at.title[0].value == "HCC study workbench" and at.button(key="auth_sign_in").label == "Sign in"
    assert len(at.sidebar) == 0  # no data source, no run picker, no filters
    shown = everything_shown(at)
    from engine.store import RunStore

    runs = RunStore(app_store).list()
    assert len(runs) and not any(r.run_id[:8] in shown or r.name in shown for r in runs.itertuples())
    at.switch_page("app_pages/roc.py").run()  # a page's address does not get round it
    assert at.button(key="auth_sign_in") and len(at.sidebar) == 0 and not at.get("plotly_chart")


@pytest.mark.parametrize(
    ("auth", "secrets", "message"),
    [
        ("oidc", None, "needs the identity provider's settings in .streamlit/secrets.toml, section [auth]"),
        ("proxy", None, "the request carries no user (X-Forwarded-Email header)"),
        ("sso", None, "HCC_AUTH must be one of ['off', 'oidc', 'proxy']; got 'sso'"),
    ],
)
def test_a_sign_in_that_cannot_work_says_why(app_store, monkeypatch, auth, secrets, message):
    at = visit(app_store, monkeypatch, auth, secrets)
    assert message in at.error[0].value and len(at.sidebar) == 0


def test_a_signed_in_users_job_carries_their_name(tmp_path, monkeypatch):
    from dashboard import auth

    monkeypatch.setenv("HCC_AUTH", "oidc")
    monkeypatch.setattr(auth, "signed_in_user", lambda: "ana@hospital.org")
    at = page(tmp_path, monkeypatch, "new_study", upload=breast_table().to_csv(index=False).encode())
    assert "Signed in as ana@hospital.org" in [c.value for c in at.sidebar.caption]
    at.multiselect(key="new_study_grid.classifiers").set_value(["LR"]).run()
    at.button(key="new_study_train").click().run()
    (job,) = JobQueue(tmp_path / "store").list()
    assert job.user == "ana@hospital.org"


def test_with_sign_in_off_the_demo_opens_as_before(app_store, monkeypatch):
    at = visit(app_store, monkeypatch, "off")
    assert not at.exception and at.sidebar.radio(key="sidebar_source") and at.session_state["user"] == "browser"
