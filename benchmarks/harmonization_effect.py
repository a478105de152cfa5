"""What ComBat does on the demo's external centres (one run; not part of the tests).

    .venv/bin/python benchmarks/harmonization_effect.py   # after `make demo`

The demo run's stored radiomics features (tumour + ring, 3 phases) and the centre of each patient: the Rad model
(LR, 3 candidates) trained without and with ComBat (grid.harmonization, fitted inside the folds; the external
centres C3 and C4 harmonised on their own features). AUC, and sensitivity / specificity at the model's training
cutoff on every cohort: the synthetic centres differ in intensity offset, noise and blur (engine/cohort/synth.py),
which moves a fixed cutoff, not the ranking.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from engine.models.grid import FeatureTable, run_grid  # noqa: E402
from engine.views.performance import learn_cutoffs, performance_table  # noqa: E402
from engine.store import RunStore  # noqa: E402


def main() -> None:
    store = RunStore(ROOT / "store")
    run = store.load((ROOT / "store" / "DEMO_RUN").read_text().strip())
    features = run.features()
    if "center" not in features:
        centres = pd.read_csv(ROOT / "demo_study" / "manifest.csv")[["patient_id", "center"]]
        features = features.merge(centres, on="patient_id")
    radiomics = [c for c in features.columns if c.startswith(("arterial_", "portal_", "delayed_"))]
    rows = []
    for label, harmonization in (("without ComBat", None), ("with ComBat", {"families": ["radiomics"]})):
        result = run_grid(
            FeatureTable(features, {"radiomics": radiomics}),
            models={"Rad": ["radiomics"]},
            classifiers=["LR"],
            n_iter=3,
            stacking=False,
            harmonization=harmonization,
            n_jobs=2,
        )
        table = performance_table(result.predictions, learn_cutoffs(result.predictions))
        rows.append(table.assign(harmonization=label)[["harmonization", "split", "auc", "sensitivity", "specificity"]])
    print(pd.concat(rows).round(3).to_string(index=False))


if __name__ == "__main__":
    main()
