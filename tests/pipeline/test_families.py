"""The feature families of a feature table (engine.pipeline.paper_tables.families_for_table): a numeric reference
score (a staging system's points) and the strata column are comparators and study design, never radiomics features;
the clinical columns (log-transformed under their new names), dl_ columns and the other numeric columns are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.config import parse_config
from engine.pipeline.paper_tables import families_for_table


def test_reference_scores_and_strata_are_in_no_family():
    rng = np.random.default_rng(0)
    n = 20
    frame = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "label": rng.integers(0, 2, n),
            "rfs_time": rng.exponential(20, n),
            "rfs_event": rng.integers(0, 2, n),
            "center": ["A"] * n,
            "age": rng.normal(60, 8, n),
            "log10_afp": rng.normal(1, 0.3, n),
            "cnlc_points": rng.integers(1, 5, n),  # a numeric staging score, compared as a reference
            "treatment": rng.integers(0, 2, n),  # the strata column, coded 0/1
            "notes_id": rng.integers(0, 999, n),
            "rad_glcm_contrast": rng.normal(size=n),
            "rad_firstorder_mean": rng.normal(size=n),
            "dl_000": rng.normal(size=n),
        }
    )
    config = parse_config(
        {
            "cohort": {
                "feature_table": "t.csv",
                "clinical": ["age", "afp"],
                "log_transform": ["afp"],
                "ignore_columns": ["notes_id"],
            },
            "survival_endpoints": ["rfs"],
            "reference_scores": {"CNLC": {"column": "cnlc_points"}},
            "strata": "treatment",
        }
    )
    families = families_for_table(frame, config)
    assert families == {
        "clinical": ["age", "log10_afp"],
        "deep": ["dl_000"],
        "radiomics": ["rad_glcm_contrast", "rad_firstorder_mean"],
    }
