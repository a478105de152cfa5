"""engine.stats against R's pROC, timed side by side in one run (not part of the test suite).

    .venv/bin/python benchmarks/stats_vs_pROC.py

1. paired DeLong test at n = 1,000,000: engine ``delong_test`` versus pROC ``roc()`` twice + ``roc.test()``, and
   the z both give;
2. stratified bootstrap AUC CI, 2,000 resamples at n = 10,000: engine ``auc_ci(method="bootstrap")`` versus
   pROC ``ci.auc(method="bootstrap", boot.n=2000)``.
Each side is timed inside its own language (R's start-up is not counted); best of ``REPEATS`` runs.
When Rscript is absent the R side is skipped with a note.

On a CPU where NumPy dispatches its AVX-512 sort, the DeLong row is timed again in a process started with
``NPY_DISABLE_CPU_FEATURES`` set to NumPy's AVX-512 groups, so that np.argsort takes NumPy's AVX2 path: on AMD
Zen 4 the AVX-512 path stores through ``vpcompress`` to memory, which Zen 4 microcodes, and sorts 3-4x slower
(numpy/numpy#32690, numpy/x86-simd-sort#6). An opt-in for such machines, not a default: the same variable also
moves a few float64 ufuncs (exp, log, expm1) to implementations that differ in the last bit.
"""

from __future__ import annotations

import os
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


AVX2_SORT = {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"}
AVX2_SCRIPT = """
from benchmarks.stats_vs_pROC import REPEATS, make_data
from benchmarks.timing import best_of
from engine.stats import delong_test
big = make_data(1_000_000, 0)
print(best_of(lambda: delong_test(big["y"], big["a"], big["b"]), REPEATS), delong_test(big["y"], big["a"], big["b"]).z)
"""


def time_avx2_sort() -> tuple[float, float] | None:
    """(seconds, z) of the DeLong row in a process whose NumPy skips its AVX-512 paths; None where this NumPy
    found no AVX-512 to skip."""
    if not np._core._multiarray_umath.__cpu_features__.get("AVX512_SKX"):
        return None
    run = subprocess.run(
        [sys.executable, "-c", AVX2_SCRIPT],
        env={**os.environ, **AVX2_SORT},
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    seconds, z = (float(v) for v in run.stdout.split())
    return seconds, z


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
    avx2 = time_avx2_sort()
    if avx2 is not None:
        name = "paired DeLong, NumPy's AVX2 sort (opt-in)"
        theirs = "skipped" if r_times is None else f"{r_times[0]:.3f}"
        ratio = "" if r_times is None else f"{r_times[0] / avx2[0]:.1f}x"
        print(f"{name:<46}{avx2[0]:>12.3f}{theirs:>12}{ratio:>15}")
    z = delong_test(big["y"], big["a"], big["b"]).z
    print(f"paired DeLong z: engine {z:.12f}" + ("" if r_times is None else f", pROC {r_times[2]:.12f}"))
    if avx2 is not None:
        setting = " ".join(f"{k}={v!r}" for k, v in AVX2_SORT.items())
        print(f"paired DeLong z with NumPy's AVX2 sort: {avx2[1]:.12f} ({setting})")
    if r_times is None:
        print("note: Rscript not found, R side skipped (apt-get install r-base-core r-cran-proc).")


if __name__ == "__main__":
    main()
