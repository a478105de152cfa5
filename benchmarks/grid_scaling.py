"""How the model grid scales with --workers, on the demo run's stored features (one run; not part of the tests).

    .venv/bin/python benchmarks/grid_scaling.py [store] [run]

Runs the demo's grid (7 models x LR, SVM, RF, XGBoost, 3 candidates in a randomised then a refined search,
5-fold CV or the CNN's folds for models with deep features, stacking) on the features stored with the run, with 1
and 2 worker processes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.models.grid import FeatureTable, run_grid  # noqa: E402
from engine.store import RunStore  # noqa: E402


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "store")
    run_id = sys.argv[2] if len(sys.argv) > 2 else (root / "DEMO_RUN").read_text().strip()
    run = RunStore(root).load(run_id)
    features = run.features()
    clinical = run.provenance["clinical"]
    frame = features  # the stored training features include the clinical columns
    families = {
        "clinical": clinical,
        "radiomics": [c for c in features if c.startswith(("arterial_", "portal_", "delayed_"))],
        "deep": [c for c in features if c.startswith("dl_")],
    }
    timings = {}
    for workers in (1, 2):
        start = time.perf_counter()
        run_grid(
            FeatureTable(frame, families),
            classifiers=["LR", "SVM", "RF", "XGBoost"],
            n_iter=3,
            search="refined",
            n_jobs=workers,
        )
        timings[workers] = time.perf_counter() - start
    print(f"{len(frame)} patients, {sum(len(v) for v in families.values())} features")
    for workers, seconds in timings.items():
        print(f"grid with {workers} worker(s): {seconds:.1f} s")
    print(f"speed-up: {timings[1] / timings[2]:.2f}x")


if __name__ == "__main__":
    main()
