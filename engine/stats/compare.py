"""One table comparing every model with every other: AUC (95% CI), DeLong, NRI and IDI, adjusted p-values."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import pandas as pd
from statsmodels.stats.multitest import multipletests

from engine.errors import ValidationError
from engine.stats._checks import check_binary_outcome, check_level, check_model_map
from engine.stats._result import Result
from engine.stats.delong import delong_test
from engine.stats.reclassification import idi, nri
from engine.stats.roc import auc_ci


@dataclasses.dataclass(frozen=True)
class ModelComparison(Result):
    """``models``: one row per model (AUC with CI). ``pairs``: one row per pair (a, b) with the DeLong test of
    AUC_a - AUC_b and the NRI/IDI of a over b (positive = a better), each p-value also Holm- and
    Benjamini-Hochberg-adjusted across the pairs."""

    models: pd.DataFrame = dataclasses.field(compare=False)
    pairs: pd.DataFrame = dataclasses.field(compare=False)

    def to_frame(self) -> pd.DataFrame:
        """The pairs table with each model's AUC (CI) alongside."""
        auc_text = {
            row.model: f"{row.auc:.3f} ({row.ci_low:.3f}-{row.ci_high:.3f})" for row in self.models.itertuples()
        }
        table = self.pairs.copy()
        table.insert(1, "auc_a_ci", table["model_a"].map(auc_text))
        table.insert(3, "auc_b_ci", table["model_b"].map(auc_text))
        return table


def compare_models(
    y: Any, probs: Mapping[str, Any], *, level: float = 0.95, cutoffs: Any = None, pos_label: Any = None
) -> ModelComparison:
    """Each model's AUC (DeLong CI) and, for every pair, the paired DeLong test, NRI (category-free, or
    categorical with ``cutoffs``) and IDI, with Holm and Benjamini-Hochberg adjusted p-values."""
    level = check_level(level)
    event = check_binary_outcome(y, pos_label=pos_label)
    models = check_model_map(probs, event.size)
    if len(models) < 2:
        raise ValidationError(f"probs must hold at least two models to compare; got {list(models)}. Add a model.")
    model_rows = []
    for name, prob in models.items():
        result = auc_ci(event, prob, level=level)
        model_rows.append(
            {
                "model": name,
                "auc": result.auc,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "se": result.se,
                "n_pos": result.n_pos,
                "n_neg": result.n_neg,
            }
        )
    pair_rows = []
    for name_a, name_b in itertools.combinations(models, 2):
        test = delong_test(event, models[name_a], models[name_b], level=level)
        reclass = nri(event, models[name_b], models[name_a], cutoffs=cutoffs, level=level)
        discrimination = idi(event, models[name_b], models[name_a], level=level)
        pair_rows.append(
            {
                "model_a": name_a,
                "model_b": name_b,
                "auc_a": test.auc_a,
                "auc_b": test.auc_b,
                "auc_diff": test.diff,
                "diff_ci_low": test.ci_low,
                "diff_ci_high": test.ci_high,
                "delong_z": test.z,
                "delong_p": test.p_value,
                "nri": reclass.nri,
                "nri_events": reclass.nri_events,
                "nri_nonevents": reclass.nri_nonevents,
                "nri_p": reclass.p_value,
                "idi": discrimination.idi,
                "idi_p": discrimination.p_value,
            }
        )
    pairs = pd.DataFrame(pair_rows)
    for column in ("delong_p", "nri_p", "idi_p"):
        pairs[f"{column}_holm"] = multipletests(pairs[column], method="holm")[1]
        pairs[f"{column}_bh"] = multipletests(pairs[column], method="fdr_bh")[1]
    return ModelComparison(models=pd.DataFrame(model_rows), pairs=pairs)
