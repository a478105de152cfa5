"""engine.stats against R's pROC, timed side by side in one run (not part of the test suite).

    .venv/bin/python benchmarks/stats_vs_pROC.py

1. paired DeLong test at n = 1,000,000: engine ``delong_test`` versus pROC ``roc()`` twice + ``roc.test()``, and
   the z both give;
2. stratified bootstrap AUC CI, 2,000 resamples at n = 10,000: engine ``auc_ci(method="bootstrap")`` versus
   pROC ``ci.auc(method="bootstrap", boot.n=2000)``.
Each side is timed inside its own language (R's start-up is not counted); best of ``REPEATS`` runs.
When Rscript is absent the R side is skipped with a note.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.timing import best_of  # noqa: E402
from engine.stats import auc_ci, delong_test  # noqa: E402

REPEATS = 10  # this VM's timings vary up to 2x between calls (page reclaim): best of 10 on both sides


def make_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    latent = rng.normal(size=n) + y
    return pd.DataFrame(
        {"y": y, "a": latent + rng.normal(scale=0.8, size=n), "b": latent + rng.normal(scale=1.2, size=n)}
    )


R_SCRIPT = r"""
suppressMessages(library(pROC))
args <- commandArgs(trailingOnly = TRUE)
big <- read.csv(args[1]); mid <- read.csv(args[2]); repeats <- as.integer(args[3])
best <- function(f) min(sapply(seq_len(repeats), function(i) system.time(f())[["elapsed"]]))
t_delong <- best(function() {
  ra <- roc(big$y, big$a, levels = c(0, 1), direction = "<", quiet = TRUE)
  rb <- roc(big$y, big$b, levels = c(0, 1), direction = "<", quiet = TRUE)
  roc.test(ra, rb, method = "delong", paired = TRUE)
})
z <- roc.test(roc(big$y, big$a, levels = c(0, 1), direction = "<", quiet = TRUE),
              roc(big$y, big$b, levels = c(0, 1), direction = "<", quiet = TRUE),
              method = "delong", paired = TRUE)$statistic
rm <- roc(mid$y, mid$a, levels = c(0, 1), direction = "<", quiet = TRUE)
t_boot <- best(function() ci.auc(rm, method = "bootstrap", boot.n = 2000, boot.stratified = TRUE, progress = "none"))
cat(sprintf("%.6f %.6f %.12f\n", t_delong, t_boot, z))
"""


def time_r(big: pd.DataFrame, mid: pd.DataFrame) -> tuple[float, float, float] | None:
    """pROC's (DeLong seconds, bootstrap seconds, DeLong z), or None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        paths = [Path(folder) / name for name in ("big.csv", "mid.csv", "bench.R")]
        big.to_csv(paths[0], index=False)
        mid.to_csv(paths[1], index=False)
        paths[2].write_text(R_SCRIPT)
        run = subprocess.run(
            ["Rscript", str(paths[2]), str(paths[0]), str(paths[1]), str(REPEATS)], capture_output=True, text=True
        )
        if run.returncode != 0:
            print("R side failed:", run.stderr[-500:])
            return None
        delong_s, boot_s, z = (float(v) for v in run.stdout.split())
        return delong_s, boot_s, z


def main() -> None:
    big, mid = make_data(1_000_000, 0), make_data(10_000, 1)
    t_delong = best_of(lambda: delong_test(big["y"], big["a"], big["b"]), REPEATS)
    t_boot = best_of(lambda: auc_ci(mid["y"], mid["a"], method="bootstrap", n_boot=2000, seed=0), REPEATS)
    r_times = time_r(big, mid)
    print(f"{'task':<46}{'engine (s)':>12}{'pROC (s)':>12}{'pROC / engine':>15}")
    rows = [("paired DeLong, n = 1,000,000", t_delong), ("bootstrap AUC CI, 2,000 resamples, n = 10,000", t_boot)]
    for index, (name, ours) in enumerate(rows):
        if r_times is None:
            print(f"{name:<46}{ours:>12.3f}{'skipped':>12}{'':>15}")
        else:
            theirs = r_times[index]
            print(f"{name:<46}{ours:>12.3f}{theirs:>12.3f}{theirs / ours:>14.1f}x")
    z = delong_test(big["y"], big["a"], big["b"]).z
    print(f"paired DeLong z: engine {z:.12f}" + ("" if r_times is None else f", pROC {r_times[2]:.12f}"))
    if r_times is None:
        print("note: Rscript not found, R side skipped (apt-get install r-base-core r-cran-proc).")


if __name__ == "__main__":
    main()
