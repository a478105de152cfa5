"""The sidebar's what-if filters: which columns, and each one's choices (found once per table, shared by every page
run): levels as sorted text for a categorical column, (min, max) for a numeric one, missing values left out."""

import numpy as np
import pandas as pd

from engine.common.predictions import filter_choices


def test_each_filterable_column_gets_its_levels_or_its_range():
    n = 30
    table = pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "split": ["train"] * 20 + ["internal"] * 10,
            "model": "Rad",
            "prob": np.linspace(0.05, 0.95, n),
            "label": [0, 1] * 15,
            "center": ["C2", "C1", "C3"] * 10,
            "age": [40.5 + i for i in range(n - 1)] + [np.nan],  # numeric: more than 12 values
            "stage": [1, 2, 3] * 10,  # numbers with 3 values: categorical
            "sex": ["F"] * n,  # one value filters nothing
        }
    )
    choices = filter_choices(table)
    assert list(choices) == ["split", "center", "age", "stage"]  # the table's order; ids, models, scores left out
    assert choices["split"] == ("categorical", ["internal", "train"])
    assert choices["center"] == ("categorical", ["C1", "C2", "C3"])
    assert choices["stage"] == ("categorical", ["1", "2", "3"])
    assert choices["age"] == ("numeric", (40.5, 40.5 + n - 2))  # the missing value left out
