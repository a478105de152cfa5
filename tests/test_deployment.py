"""The lab deployment (deploy/): the compose file's services fit together as the README says (the replicas never
train, the runner is its own service, sign-in is on, the proxy uses the repository's nginx config), and the nginx
config keeps a session on one replica and carries websockets. (Docker itself is not run by the tests; the nginx
config is run by benchmarks/load_test.py --replicas.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
DOCKERFILE = DEPLOY.parent / "Dockerfile"


def test_the_compose_services_fit_together():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"proxy", "dashboard", "runner", "demo"}
    dashboard, runner = services["dashboard"], services["runner"]
    assert dashboard["environment"]["HCC_JOB_RUNNER"] == "0" and dashboard["environment"]["HCC_AUTH"] == "oidc"
    assert dashboard["command"].startswith("python -m dashboard.serve --server.address 0.0.0.0 --server.port 8501")
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


def test_the_proxy_compresses_the_pages_scripts():
    """Streamlit's own server sends its scripts and styles uncompressed (2.2 MB for a first visit's 61 files; 0.78
    MB gzipped through this config: README, measured with the nginx of benchmarks/load_test.py --replicas)."""
    config = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    assert "gzip on;" in config and "gzip_proxied any;" in config
    types = re.search(r"gzip_types ([^;]+);", config)
    assert types and {"application/javascript", "text/css"} <= set(types.group(1).split())


def test_the_replicas_see_the_demos_images():
    """The demo service writes its synthetic cohort to /app/demo_study (its working folder's demo_study) and records
    that manifest with the run; the replicas mount the same volume there (read-only), so the case viewer finds the
    images (before, they were only in the demo's container)."""
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert "--out" not in services["demo"]["command"]  # the default: demo_study under the image's WORKDIR
    workdir = re.search(r"^WORKDIR (\S+)", (DEPLOY.parent / "Dockerfile").read_text(encoding="utf-8"), re.M)
    assert workdir and workdir.group(1) == "/app"
    assert "demo_study:/app/demo_study" in services["demo"]["volumes"]
    assert "demo_study:/app/demo_study:ro" in services["dashboard"]["volumes"]
    assert "demo_study:/app/demo_study:ro" in services["runner"]["volumes"]  # trains a new study on the demo's cohort


def test_the_image_leaves_out_the_environment_the_data_and_the_secrets():
    """docker build sends the folder to the daemon and COPY . . puts it in the image: the local .venv (GBs), the
    store and the studies (patient data) and the sign-in secrets must stay out (.dockerignore)."""
    ignored = {
        line.strip()
        for line in (DEPLOY.parent / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    kept_out = {".venv", ".git", "store", "demo_study", "studies", "deploy/secrets.toml", ".streamlit/secrets.toml"}
    assert kept_out <= ignored
    secrets = [line.strip().lstrip("/") for line in (DEPLOY.parent / ".gitignore").read_text().splitlines()]
    assert {entry.rstrip("/") for entry in secrets if "secret" in entry or entry.rstrip("/") in kept_out} <= ignored


def test_the_proxy_waits_for_healthy_replicas_and_they_for_the_demo():
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]
    assert services["proxy"]["depends_on"] == {"dashboard": {"condition": "service_healthy"}}
    assert services["dashboard"]["depends_on"] == {"demo": {"condition": "service_completed_successfully"}}
    assert "healthcheck" not in services["dashboard"]  # the image's own (below)


def health_check(port: int) -> int:
    """The exit status of the image's HEALTHCHECK command, run here against ``port`` instead of 8501."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    command = re.search(r"^HEALTHCHECK .*? CMD python -c\s+\"(.+)\"$", text, re.M)
    assert command, "the Dockerfile has no HEALTHCHECK running python -c"
    code = command.group(1).replace("127.0.0.1:8501/", f"127.0.0.1:{port}/")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_the_images_health_check_passes_once_the_dashboard_answers(tmp_path):
    from tests.dashboard.test_browser import dashboard_process, free_port

    with dashboard_process((), tmp_path / "server.log", HCC_STORE=str(tmp_path / "store")) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        assert health_check(port) == 0
    assert health_check(port) != 0  # stopped
    assert health_check(free_port()) != 0  # nothing there
