"""engine.stats survival functions against lifelines and scikit-survival at n = 100,000 (one run).

    .venv/bin/python benchmarks/survival_vs_lifelines.py [n]

Kaplan-Meier (with CIs), the two-group log-rank test and Harrell's C. Best of 3 after one warm-up call (numba
compiles the C-index kernel once and caches it). Peers that take too long at this size are noted.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import best_of  # noqa: E402
from engine.stats import concordance_index, kaplan_meier, logrank_test  # noqa: E402


def main(n: int) -> None:
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test as lifelines_logrank
    from lifelines.utils import concordance_index as lifelines_c
    from sksurv.compare import compare_survival
    from sksurv.metrics import concordance_index_censored
    from sksurv.nonparametric import kaplan_meier_estimator
    from sksurv.util import Surv

    rng = np.random.default_rng(0)
    risk = rng.normal(size=n)
    event_time = np.round(rng.exponential(30 * np.exp(-0.7 * risk)), 1)
    censor = np.round(rng.uniform(1, 90, size=n), 1)
    t = np.minimum(event_time, censor)
    e = event_time <= censor
    group = np.where(risk > 0, "high", "low")
    structured = Surv.from_arrays(event=e, time=t)

    rows = [
        (
            "Kaplan-Meier with 95% CI",
            lambda: kaplan_meier(t, e),
            {
                "lifelines": lambda: KaplanMeierFitter().fit(t, e),
                "scikit-survival": lambda: kaplan_meier_estimator(e, t, conf_type="log-log"),
            },
        ),
        (
            "log-rank test, 2 groups",
            lambda: logrank_test(t, e, group),
            {
                "lifelines": lambda: lifelines_logrank(t[risk > 0], t[risk <= 0], e[risk > 0], e[risk <= 0]),
                "scikit-survival": lambda: compare_survival(structured, group),
            },
        ),
        (
            "Harrell's C (with IJ standard error)",
            lambda: concordance_index(t, e, risk),
            {
                "lifelines": lambda: lifelines_c(t, -risk, e),
                "scikit-survival": lambda: concordance_index_censored(e, t, risk),
            },
        ),
    ]
    print(f"n = {n:,}")
    print(f"{'task':<40}{'engine (s)':>12}{'lifelines (s)':>15}{'ratio':>8}{'sksurv (s)':>12}{'ratio':>8}")
    for name, ours, peers in rows:
        mine = best_of(ours, warm_up=True)
        line = f"{name:<40}{mine:>12.3f}"
        for peer in ("lifelines", "scikit-survival"):
            theirs = best_of(peers[peer], repeats=1, warm_up=True)
            line += f"{theirs:>{15 if peer == 'lifelines' else 12}.3f}{theirs / mine:>7.1f}x"
        print(line)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
