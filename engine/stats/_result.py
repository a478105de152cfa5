"""Frozen result objects: every statistic returns one, never a bare tuple."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps


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
        row = {key: value for key, value in self.to_dict().items() if not isinstance(value, (list, tuple, dict))}
        return pd.DataFrame([row])


def normal_z_and_p(estimate: float, se: float) -> tuple[float, float]:
    """z = estimate / se and the two-sided normal p; a zero standard error gives z = 0 (p = 1) for a zero
    estimate and +-inf (p = 0) otherwise, instead of a division by zero."""
    if se > 0:
        z = estimate / se
    else:
        z = 0.0 if estimate == 0 else float(np.copysign(np.inf, estimate))
    return float(z), float(2 * sps.norm.sf(abs(z)))
