"""How fast the ROC page reruns when the threshold slider moves (AppTest; one run; not part of the tests).

    .venv/bin/python benchmarks/dashboard_slider.py

7 models, 3 cohorts, 2,000 patients in a temporary run store. Reports the median over 10 slider moves of the
time AppTest takes to rerun the page (cached results in place, as for a user moving the slider). AppTest reruns the
whole page; a browser reruns only the ROC page's fragment (benchmarks/load_test.py measures that).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from engine.store import RunStore  # noqa: E402
from tests.dashboard.conftest import predictions_table  # noqa: E402

MODELS = ["Clinical", "Rad", "DL", "Clinical+Rad", "Clinical+DL", "Rad+DL", "Combined"]


def main() -> None:
    from streamlit.testing.v1 import AppTest

    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        store.write(
            "bench",
            config={},
            predictions=predictions_table(n=2000, models=MODELS),
            grid=pd.DataFrame(),
            selected=pd.DataFrame(),
            metrics=pd.DataFrame(),
            provenance={"name": "benchmark", "created": "", "patients": 2000, "models": MODELS},
        )
        os.environ["HCC_STORE"] = folder
        at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=300)
        at.run()
        at.switch_page("app_pages/roc.py").run()
        at.selectbox(key="roc_split").set_value("internal").run()
        at.radio(key="roc_mode").set_value("fixed").run()  # one threshold, the slider
        times = []
        for step in range(10):
            at.slider(key="roc_threshold").set_value(0.30 + 0.04 * step)
            start = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - start)
            assert not at.exception, at.exception
        print(
            "ROC page rerun after a slider move (7 models, 3 cohorts, 2,000 patients): median "
            f"{1000 * statistics.median(times):.0f} ms, "
            f"max {1000 * max(times):.0f} ms over {len(times)} moves"
        )


if __name__ == "__main__":
    main()
