"""New patients for a stored run: the columns its pipelines need, with the types and levels they were trained on.

``needs`` maps each model to its input columns (engine.models.inputs.pipeline_inputs): a column's training levels
when it is categorical, "numeric" when it is modelled as a number, "any" when the pipeline takes it unmodelled.
Every problem is listed at once: a missing column with the models that need it, text in a numeric column, a level
training never saw, ids and (where given) outcomes as in training.
Missing values are allowed (the pipelines impute them with what they learned on training) and said.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from engine.validation.rules import CheckedTable, TableRoles, check_table, survival_pairs_of


def new_patient_roles(table: pd.DataFrame, endpoint: str = "label", **more) -> TableRoles:
    """Patients to score, not to train on: outcomes may be missing (not known yet), any split name, and a clinical
    column may have one value for all of them (one centre's HBsAg-positive patients, or a single patient). ``more``:
    the other TableRoles fields (features, levels, ...)."""
    return TableRoles(
        "new patients",
        binary=(endpoint,) if endpoint in table else (),
        survival=survival_pairs_of(table),
        outcomes_required=False,
        split_names=False,
        **more,
    )


def check_new_patients(
    table: pd.DataFrame,
    needs: Mapping[str, Mapping[str, str | tuple[str, ...]]],
    *,
    endpoint: str = "label",
    outcome_codes: Mapping[str, int] | None = None,
    references: Mapping[str, tuple[str, ...] | None] | None = None,
) -> CheckedTable:
    """Check ``table`` (new patients) against what the run's models need (see the module docstring)."""
    columns: dict[str, str | tuple[str, ...]] = {}
    users: dict[str, list[str]] = {}
    for model, inputs in needs.items():
        for column, kind in inputs.items():
            if columns.get(column, "any") == "any":  # the strictest use of a column counts
                columns[column] = kind
            users.setdefault(column, []).append(model)
    absent = [c for c in columns if c not in table]
    problems = []
    if absent:
        shown = "; ".join(f"{c} (for {', '.join(users[c][:4])})" for c in absent[:15])
        problems.append(
            f"{len(absent)} column(s) the run's models need are missing: {shown}{' ...' if len(absent) > 15 else ''}. "
            f"Add them with the names, units and codes used in training; the models need {len(columns)} columns "
            "in all (hcc-study runs show lists the run)"
        )
    roles = new_patient_roles(
        table,
        endpoint,
        features=tuple(c for c, kind in columns.items() if kind == "numeric" and c in table),
        levels={c: kind for c, kind in columns.items() if isinstance(kind, tuple) and c in table},
        references={c: o for c, o in (references or {}).items()},
        outcome_codes=dict(outcome_codes or {}),
        refuse_empty_features=False,
    )
    checked = check_table(table, roles)
    notices = list(checked.notices)
    gaps = {c: int(table[c].isna().sum()) for c in columns if c in table and table[c].isna().any()}
    if gaps:
        listed = ", ".join(f"{c} ({k})" for c, k in list(gaps.items())[:10])
        notices.append(f"missing values imputed as in training (the training median or most frequent level): {listed}")
    return CheckedTable(checked.table, problems + checked.problems, notices)
