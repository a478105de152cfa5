"""Reference values written by the R scripts in this folder, and the datasets they read."""

from functools import cache
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent


@cache
def dataset(name: str) -> pd.DataFrame:
    """``asah`` (pROC's aSAH with two logistic models' probabilities), ``ties``, ``large``, ``lung``
    (survival::lung complete cases with a Cox risk score) or ``survival_ties``."""
    return pd.read_csv(HERE / "data" / f"{name}.csv", skipinitialspace=True, float_precision="round_trip")


@cache
def reference(table: str) -> dict[tuple[str, str], float]:
    """{(dataset, stat): value} from ``<table>.csv`` as written by ``<table>.R``."""
    frame = pd.read_csv(HERE / f"{table}.csv", float_precision="round_trip")
    return {(row.dataset, row.stat): float(row.value) for row in frame.itertuples()}
