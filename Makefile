# `make demo` sets everything up and opens the dashboard on the demo study; `make test` runs the whole suite.
PY := .venv/bin/python
PIP := .venv/bin/pip
STAMP := .venv/.installed

.PHONY: venv test demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	$(PIP) install -q numpy==2.4.6 versioneer setuptools wheel
	$(PIP) install -q --no-build-isolation -r requirements.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 tests

demo: $(STAMP)
	@if [ -f dashboard/app.py ]; then $(PY) -m engine demo && $(PY) -m streamlit run dashboard/app.py; \
	else echo "The dashboard has not landed yet (README, Status); the statistics are usable: from engine.stats import ..."; exit 1; fi

bench: $(STAMP)
	$(PY) benchmarks/stats_vs_pROC.py

clean:
	rm -rf .venv .pytest_cache .hypothesis
