"""How the whole study scales with patients and workers (one run; not part of the tests).

    .venv/bin/python benchmarks/scale.py [--sizes 300 1000 3000] [--images 300 1000] [--runs "2 workers" ...]

Two kinds of study, each run end to end with ``run_study`` in a fresh process (a new store, nothing cached):

- a feature-table study: N patients, 200 radiomics-like features with signal in 10 of them, 8 clinical columns, a
  binary label and a survival endpoint; models Clinical, Rad and Clinical+Rad x LR, RF, XGBoost (3 candidates,
  5-fold CV, stacking) and Cox / LASSO-Cox survival models;
- a small-volume image study: the synthetic HCC cohort (3 phases, 16 x 40 x 40 voxels, a 5 mm ring), radiomics
  (the demo preset) and the same grid (clinical and radiomics families; no CNN).

Each runs with 1 and 2 local worker processes (``workers``) and on a 2-process Dask LocalCluster
(``scheduler="local:2"``). Reported: wall time, the peak resident memory of the largest process (the launcher or
a worker), and how time grows with patients (the exponent b of time ~ N^b between the smallest and largest N).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CONFIGS = (("1 worker", {"workers": 1}), ("2 workers", {"workers": 2}), ("LocalCluster x2", {"scheduler": "local:2"}))
GRID = {
    "models": {"Clinical": ["clinical"], "Rad": ["radiomics"], "Clinical+Rad": ["clinical", "radiomics"]},
    "classifiers": ["LR", "RF", "XGBoost"],
    "n_iter": 3,
    "folds": 5,
    "search": "random",
}


def feature_table(folder: Path, n: int, seed: int = 0) -> dict:
    """A feature table of ``n`` patients and the study config that reads it."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    radiomics = rng.normal(size=(n, 200))
    radiomics[:, :10] += 0.6 * latent[:, None]
    frame = pd.DataFrame(radiomics, columns=[f"rad_{k:03d}" for k in range(200)])
    clinical = {f"clin_{k}": rng.normal(size=n) + (0.4 * latent if k < 3 else 0) for k in range(8)}
    frame = pd.concat([pd.DataFrame(clinical), frame], axis=1)
    frame.insert(0, "patient_id", [f"P{k:05d}" for k in range(n)])
    frame.insert(1, "label", (latent + rng.normal(size=n) > 0.5).astype(int))
    event_time, censor = rng.exponential(30 * np.exp(-0.7 * latent)), rng.uniform(5, 60, n)
    frame["rfs_time"], frame["rfs_event"] = np.minimum(event_time, censor).round(2), (event_time <= censor).astype(int)
    frame.to_csv(folder / "features.csv", index=False)
    return {
        "name": f"scale {n}",
        "cohort": {"feature_table": "features.csv", "clinical": list(clinical)},
        "survival_endpoints": ["rfs"],
        "grid": {**GRID, "survival_models": True, "survival_methods": ["Cox", "LASSO-Cox"]},
        "device": "cpu",
    }


def image_study(folder: Path, n: int) -> dict:
    """A synthetic small-volume image cohort of ``n`` patients (written here on every core, not timed; each patient
    draws its own random stream, so the cohort is the same) and its config."""
    from engine.cohort.synth import SynthSpec, synthesize_cohort

    spec = SynthSpec(n=n, centers=3, shape=(16, 40, 40), spacing=(1.0, 1.0, 3.0), seed=1)
    synthesize_cohort(folder, spec, workers=os.cpu_count() or 1)
    return {
        "name": f"images {n}",
        "cohort": {"manifest": "manifest.csv"},
        "radiomics": {"preset": "ct_demo", "rings_mm": {"ring5": 5}},
        "deep": {"enabled": False},
        "grid": GRID,
        "device": "cpu",
    }


RUN = """
import json, sys, time
sys.path.insert(0, {root!r})
from engine.config import parse_config
from engine.store import RunStore
from engine.pipeline.study import run_study
from pathlib import Path
start = time.perf_counter()
store = RunStore({store!r})
run = run_study(parse_config(json.loads({config!r})), Path({folder!r}), store, **json.loads({options!r}))
seconds = time.perf_counter() - start
print(json.dumps(store.load(run).provenance["timings_s"]))
print(seconds)
"""


def timed_run(folder: Path, config: dict, options: dict) -> tuple[float, float, dict]:
    """(wall seconds, peak RSS in MiB of the largest process, the run's stage timings) of one study run in a fresh
    process; os.wait4 gives the run's own resource usage (its largest process among itself and its workers)."""
    with (
        tempfile.TemporaryDirectory() as store,
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
    ):
        code = RUN.format(
            root=str(ROOT), config=json.dumps(config), folder=str(folder), store=store, options=json.dumps(options)
        )
        process = subprocess.Popen([sys.executable, "-c", code], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if process.returncode:
            raise RuntimeError(err.read()[-3000:])
        *_, stages, seconds = out.read().strip().splitlines()
        return float(seconds), usage.ru_maxrss / 1024, json.loads(stages)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[300, 1000, 3000])
    parser.add_argument("--images", type=int, nargs="*", default=[300, 1000])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "scale.csv")
    parser.add_argument("--runs", nargs="*", default=[label for label, _ in CONFIGS], help="e.g. '2 workers'")
    args = parser.parse_args()
    rows = []
    studies = [("feature table", n) for n in args.sizes] + [("images", n) for n in args.images]
    for kind, n in studies:
        with tempfile.TemporaryDirectory() as folder:
            config = feature_table(Path(folder), n) if kind == "feature table" else image_study(Path(folder), n)
            for label, options in [(label, options) for label, options in CONFIGS if label in args.runs]:
                start = time.perf_counter()
                seconds, peak, stages = timed_run(Path(folder), config, options)
                stages = {k: round(v, 1) for k, v in stages.items() if k != "total"}
                rows.append(
                    {"study": kind, "patients": n, "run": label, "seconds": seconds, "peak_rss_mib": peak, **stages}
                )
                print(
                    f"{kind:13s} n={n:5d} {label:16s} {seconds:7.1f} s  peak {peak:6.0f} MiB "
                    f"(process {time.perf_counter() - start:.1f} s)",
                    flush=True,
                )
    table = pd.DataFrame(rows)
    table.to_csv(args.out, index=False)
    for (kind, label), group in table.groupby(["study", "run"], sort=False):
        group = group.sort_values("patients")
        if len(group) > 1:
            first, last = group.iloc[0], group.iloc[-1]
            exponent = math.log(last["seconds"] / first["seconds"]) / math.log(last["patients"] / first["patients"])
            print(f"{kind}, {label}: time ~ N^{exponent:.2f} from {first['patients']} to {last['patients']} patients")


if __name__ == "__main__":
    main()
