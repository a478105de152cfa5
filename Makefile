# `make demo` sets everything up and opens the dashboard on the demo study; `make test` runs the whole suite.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: venv browser test demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q numpy==2.4.6 versioneer setuptools wheel
	$(PIP) install -q --no-build-isolation -r requirements.txt
	touch $(STAMP)

# Debian's chromium: figure export (kaleido) and the end-to-end browser test. Installed when missing and root.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } || \
	  echo "chromium could not be installed: figure export and the browser test need it (apt-get install -y chromium chromium-driver)"

test: $(STAMP) browser
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests

demo: $(STAMP)
	$(PY) -m engine demo
	@echo "Dashboard: http://localhost:8501 (Ctrl-C stops it)"
	$(PY) -m streamlit run dashboard/app.py --server.headless true --browser.gatherUsageStats false

bench: $(STAMP)
	$(PY) benchmarks/stats_vs_pROC.py

clean:
	rm -rf .venv .pytest_cache .hypothesis
