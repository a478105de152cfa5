"""Frozen result objects: every statistic returns one, never a bare tuple."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, pd.DataFrame):
        return value.to_dict(orient="records")
    return value


@dataclasses.dataclass(frozen=True)
class Result:
    """Base of all result objects: immutable, with ``to_dict()`` and ``to_frame()``."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_frame(self) -> pd.DataFrame:
        """One row, one column per scalar field (tables and notes are left out)."""
        row = {
            key: value
            for key, value in self.to_dict().items()
            if not isinstance(value, (list, tuple, dict))
        }
        return pd.DataFrame([row])
