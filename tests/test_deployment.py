"""The lab deployment (deploy/): the compose file's services fit together as the README says (the replicas never
train, the runner is its own service, sign-in is on, the proxy uses the repository's nginx config), and the nginx
config keeps a session on one replica and carries websockets. (Docker itself is not run by the tests; the nginx
config is run by benchmarks/load_test.py --replicas.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_the_compose_services_fit_together():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"proxy", "dashboard", "runner", "demo"}
    dashboard, runner = services["dashboard"], services["runner"]
    assert dashboard["environment"]["HCC_JOB_RUNNER"] == "0" and dashboard["environment"]["HCC_AUTH"] == "oidc"
    assert "dashboard.warm_up" in dashboard["command"] and "streamlit run dashboard/app.py" in dashboard["command"]
    assert runner["command"].startswith("python -m engine jobs run --store /data/store")
    store = dashboard["environment"]["HCC_STORE"]
    for service in (dashboard, runner, services["demo"]):  # one store for all
        assert any(volume.startswith(f"store:{store}") for volume in service["volumes"])
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    assert any(volume.endswith("/app/.streamlit/secrets.toml:ro") for volume in dashboard["volumes"])


def test_the_proxy_is_sticky_and_carries_websockets():
    config = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert re.search(r"upstream dashboards \{\s*hash \$route consistent;\s*server dashboard:8501;", config)
    assert 'add_header Set-Cookie "hcc_route=$route;' in config  # the route a browser keeps
    assert "proxy_set_header Upgrade $http_upgrade;" in config and "proxy_http_version 1.1;" in config
    assert "client_max_body_size 50m;" in config
    limit = re.search(r"maxUploadSize = (\d+)", (DEPLOY.parent / ".streamlit" / "config.toml").read_text())
    assert limit and int(limit.group(1)) == 50  # the proxy's limit is the dashboard's
