"""The roles of a study's patient table (a feature table or a manifest), read from the study config.

The config names the binary endpoint, the survival endpoints, the clinical predictors, the reference scores, the
external centres and ComBat; every other numeric column of a feature table is a feature. Columns of text that are
not numbers are no feature: they are named in a notice so that nothing is left out silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from engine.errors import InputNotice
from engine.validation.rules import TableRoles, numeric_like, survival_pairs_of

RESERVED = {"patient_id", "split", "center", "roi"}


def study_roles(config: Any, table: pd.DataFrame, what: str, *, features: bool = True) -> TableRoles:
    """The roles of ``table`` under the study ``config`` (engine.config.StudyConfig). ``features``: every other
    numeric-like column is a feature (a feature table); a manifest's other columns are paths and cohort columns."""
    cohort = config.cohort
    survival = tuple(config.survival_endpoints) or survival_pairs_of(table)
    references = {spec.column: tuple(spec.order) if spec.order else None for spec in config.reference_scores.values()}
    taken = RESERVED | {config.endpoint, *cohort.clinical, *references, *(config.strata and [config.strata] or [])}
    taken |= set(cohort.ignore_columns)
    taken |= {c for c in table.columns if c.endswith(("_time", "_event"))}
    candidates = [c for c in table.columns if c not in taken] if features else []
    feature_columns = tuple(c for c in candidates if numeric_like(table[c]))
    ignored = [c for c in candidates if c not in feature_columns]
    if ignored:
        warnings.warn(
            f"{what}: text columns that are not features (not numbers) and play no role are left out: "
            f"{ignored[:10]}{' ...' if len(ignored) > 10 else ''}",
            InputNotice,
            stacklevel=2,
        )
    return TableRoles(
        what,
        binary=(config.endpoint,) if config.endpoint in table else (),
        survival=survival,
        clinical=tuple(cohort.clinical),
        features=feature_columns,
        references=references,
        outcome_codes=dict(cohort.outcome_codes),
        infinite_as_missing=cohort.infinite_as_missing,
        center_required=bool(cohort.external_centers or config.grid.harmonization.families),
    )


def announce(notices: Sequence[str]) -> None:
    """Say what the checks changed (engine.errors.InputNotice warnings; the CLI prints them as notes)."""
    for notice in notices:
        warnings.warn(notice, InputNotice, stacklevel=3)
