# `make demo` sets everything up and opens the dashboard on the demo study; `make test` runs the whole suite.
PY := .venv/bin/python
# uv installs no bytecode (pip compiles all of it: most of its 90 s); our commands write the bytecode of what they
# import instead, also where PYTHONDONTWRITEBYTECODE is set (these machines): without it every process compiled every
# module it imported (a study's imports 12 s instead of 5 s; the suite 40% longer). Compiling all at install instead
# (uv --compile-bytecode) costs 21 s more before the demo can start.
unexport PYTHONDONTWRITEBYTECODE
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: venv browser lint format test demo bench clean

venv: $(STAMP)

# The environment from the same pins by uv where it installs (about 20-25 s on 2 cores), else by pip (about 90 s).
# PyRadiomics 3.0.1 builds against the installed numpy (no build isolation for it); a local wheel folder that pip is
# told of (PIP_FIND_LINKS, e.g. the CPU build of torch) is handed to uv too.
UV := .venv/bin/uv
FIND_LINKS := $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
$(STAMP): requirements.txt requirements-runtime.txt
	python3 -m venv .venv
	if $(PIP) install -q uv==0.13.9 2>/dev/null; then \
	  $(UV) pip install -q --python $(PY) $(FIND_LINKS) numpy==2.4.6 versioneer setuptools wheel && \
	  $(UV) pip install -q --python $(PY) $(FIND_LINKS) --no-build-isolation-package pyradiomics \
	    -r requirements.txt; \
	else \
	  $(PIP) install -q --upgrade pip && $(PIP) install -q numpy==2.4.6 versioneer setuptools wheel && \
	  $(PIP) install -q --no-build-isolation -r requirements.txt; \
	fi
	touch $(STAMP)

# Debian's chromium: figure export (kaleido) and the end-to-end browser test. Installed when missing and root,
# waiting up to 5 minutes for another apt/dpkg to release its lock; still missing: say so and stop.
APT := apt-get -o DPkg::Lock::Timeout=300
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && $(APT) update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(APT) install -y -qq chromium chromium-driver >/dev/null; } ; \
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { echo "chromium missing: figure export and the browser test need it, and it could not be installed" \
	    "(run as root: apt-get install -y chromium chromium-driver). make test stops here." >&2; exit 1; }

# ruff (pinned in requirements.txt, settings in ruff.toml): `make format` rewrites, `make lint` checks.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

test: $(STAMP) browser lint
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests

# The SHAP values of the Explanations page's default model are computed in the background (lowest priority) while
# the dashboard starts, so that page opens without a first-visit wait; they are stored with the run.
demo: $(STAMP)
	$(PY) -m engine demo
	@nice -n 19 $(PY) -m engine explain --run "$$(cat store/DEMO_RUN)" >/dev/null 2>&1 &
	@echo "Dashboard: http://localhost:8501 (Ctrl-C stops it)"
	$(PY) -m dashboard.serve --server.headless true --browser.gatherUsageStats false

bench: $(STAMP)
	$(PY) benchmarks/stats_vs_pROC.py

clean:
	rm -rf .venv .pytest_cache .hypothesis
