"""Reference values for engine.stats.survival_decision_curve from the Python dcurves package (1.1.7, the port of R's
dcurves, which Debian does not package) on its own df_surv data.

    python -m venv /tmp/dcenv && /tmp/dcenv/bin/pip install dcurves==1.1.7
    /tmp/dcenv/bin/python tests/reference/dcurves_surv.py        (from the repository root)

Writes tests/reference/data/df_surv.csv (the package's data: ttcancer in years, cancer, cancerpredmarker) and
tests/reference/dcurves_surv.csv (time, threshold, model, net_benefit; empty where dcurves gives NA: the test-positive
group's follow-up ends before the horizon).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import dcurves
from dcurves import dca

HERE = Path(__file__).parent
data = pd.read_csv(Path(dcurves.data) / "df_surv.csv")[["ttcancer", "cancer", "cancerpredmarker"]]
data["cancer"] = data["cancer"].astype(int)
data.to_csv(HERE / "data" / "df_surv.csv", index=False)
frames = []
for time in (1.0, 1.5):
    result = dca(
        data=data,
        outcome="cancer",
        modelnames=["cancerpredmarker"],
        thresholds=np.round(np.arange(0, 1, 0.01), 2),
        time=time,
        time_to_outcome_col="ttcancer",
    )
    frames.append(result[["model", "threshold", "net_benefit"]].assign(time=time))
pd.concat(frames, ignore_index=True).to_csv(HERE / "dcurves_surv.csv", index=False, float_format="%.17g")
