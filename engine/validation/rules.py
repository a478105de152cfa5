"""The rules every patient table obeys, checked in one pass (pandera, lazy validation) and reported together.

A table's columns play roles (:class:`TableRoles`): the patient id, binary outcomes, survival endpoints
(``<name>_time`` / ``<name>_event``), split and centre, clinical predictors, feature columns and reference-score
columns. :func:`check_table` builds one pandera ``DataFrameSchema`` from the roles, validates the table lazily (every
failure, not the first) and turns the failure cases into one line per column and rule, naming the rows (file rows:
the header is row 1) and the fix. Rules that real tables break:

- patient ids present and unique;
- outcomes coded 0/1 or true/false; other codes (``yes``/``no``) only where ``cohort.outcome_codes`` names them;
- survival times finite and not negative (0 is a time R's survival, lifelines and scikit-survival accept, and
  follow-up rounded to months gives it), events 0/1;
- features and numeric clinical columns numbers (no stray text) and finite (``inf`` refused, or made missing when
  ``cohort.infinite_as_missing`` allows the grid's imputation to fill it, and said so);
- a clinical or reference column empty for every patient, or constant, is named; so are empty feature columns;
- split names ``train``, ``internal``, ``external...``; a centre for every patient where centres are used.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from engine.errors import ValidationError

ID = "patient_id"


def survival_pairs_of(table: pd.DataFrame) -> tuple[str, ...]:
    """Endpoint names with both ``<name>_time`` and ``<name>_event`` columns."""
    return tuple(c[: -len("_time")] for c in table.columns if c.endswith("_time") and f"{c[:-5]}_event" in table)


def time_column(endpoint: str) -> str:
    return f"{endpoint}_time" if endpoint else "time"


def event_column(endpoint: str) -> str:
    return f"{endpoint}_event" if endpoint else "event"


TRUE_FALSE = {True: 1, False: 0, "true": 1, "false": 0}


@dataclasses.dataclass(frozen=True)
class TableRoles:
    """What each column of a table is, and how strict to be. ``what`` names the table in messages."""

    what: str
    binary: tuple[str, ...] = ()  # outcomes coded 0/1
    survival: tuple[str, ...] = ()  # endpoint names with <name>_time and <name>_event ("": time and event)
    clinical: tuple[str, ...] = ()  # required predictors: present, not empty, not constant
    features: tuple[str, ...] = ()  # numeric columns: numbers, finite
    references: Mapping[str, tuple[str, ...] | None] = dataclasses.field(default_factory=dict)  # column -> order
    levels: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # column -> training levels
    outcome_codes: Mapping[str, int] = dataclasses.field(default_factory=dict)  # e.g. {"yes": 1, "no": 0}
    infinite_as_missing: bool = False
    split_names: bool = True  # split must be train / internal / external...
    center_required: bool = False
    outcomes_required: bool = True  # missing outcome values refused (new patients may have none)
    setting: str = "cohort.clinical"  # where the clinical columns were listed (named in the fix)
    unique_within: str | None = None  # a long table: patient ids unique within each value of this column (model)
    configured: bool = True  # a study's table (the fix may name config settings); False: an upload
    refuse_empty_features: bool = True  # a feature column empty for every patient is refused (new patients: imputed)


@dataclasses.dataclass(frozen=True)
class CheckedTable:
    """The table with outcomes recoded to 0/1 (and infinities made missing where allowed), the problems (one line
    each, with the fix) and the notices (what was changed or left out, said to the user)."""

    table: pd.DataFrame
    problems: list[str]
    notices: list[str]

    def raise_problems(self, name: str) -> CheckedTable:
        """Raise one ValidationError listing every problem; else return self."""
        raise_problems(name, self.problems)
        return self


def raise_problems(name: str, problems: Sequence[str], *, limit: int = 50) -> None:
    if not problems:
        return
    shown = "\n  - ".join(problems[:limit])
    more = f"\n  ... and {len(problems) - limit} more" if len(problems) > limit else ""
    raise ValidationError(f"{name} has {len(problems)} problem(s); fix them and load again:\n  - {shown}{more}")


def check_table(table: pd.DataFrame, roles: TableRoles) -> CheckedTable:
    """Check ``table`` against ``roles`` (see the module docstring); nothing is raised here."""
    table = table.copy()
    problems = _absent_columns(table, roles)
    notices: list[str] = []
    if ID not in table:
        return CheckedTable(table, problems, notices)
    table[ID] = table[ID].map(lambda v: v if pd.isna(v) else str(v).strip())
    present = dataclasses.replace(
        roles,
        binary=tuple(c for c in roles.binary if c in table),
        survival=tuple(e for e in roles.survival if time_column(e) in table and event_column(e) in table),
        clinical=tuple(c for c in roles.clinical if c in table),
        features=tuple(c for c in roles.features if c in table),
        references={c: o for c, o in roles.references.items() if c in table},
        levels={c: v for c, v in roles.levels.items() if c in table},
    )
    recoded = [*present.binary, *[event_column(e) for e in present.survival]]
    for column in recoded:
        table[column] = _recode(table[column], present.outcome_codes)
    numeric = [*present.features, *[c for c in present.clinical if numeric_like(table[c])]]
    infinite = {c: int(np.isinf(_numbers(table[c])).sum()) for c in numeric}
    if present.infinite_as_missing and any(infinite.values()):
        for column in (c for c, k in infinite.items() if k):
            table[column] = _numbers(table[column]).replace([np.inf, -np.inf], np.nan)
        listed = ", ".join(f"{c} ({k})" for c, k in infinite.items() if k)
        notices.append(
            f"infinite values set to missing (cohort.infinite_as_missing), then imputed inside each training fold: "
            f"{listed}"
        )
    problems += _failures(table, *_schema(table, present, numeric), configured=roles.configured)
    problems += _empty_or_constant(table, present)
    return CheckedTable(table, problems, notices)


def _absent_columns(table: pd.DataFrame, roles: TableRoles) -> list[str]:
    columns = [str(c) for c in table.columns]
    problems = []
    if ID not in table:
        close = [c for c in columns if any(word in c.lower() for word in ("id", "patient", "case", "subject", "mrn"))]
        hint = f" (is {close[0]!r} the patient id?)" if close else ""
        problems.append(
            f"a patient_id column is required{hint}; the columns found are {columns[:8]}"
            f"{' ...' if len(columns) > 8 else ''}. Name the patients' column patient_id."
        )
    wanted = {
        **{c: "an outcome named by endpoint" for c in roles.binary},
        **{column(e): "a survival endpoint" for e in roles.survival for column in (time_column, event_column)},
        **{c: roles.setting for c in roles.clinical},
        **{c: "reference_scores" for c in roles.references},
    }
    for column, where in wanted.items():
        if column not in table:
            same = [c for c in columns if _plain(c) == _plain(column)]  # case, spaces and underscores aside
            close = same or difflib.get_close_matches(column, columns, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(
                f"{column}: the column is missing ({where} asks for it); {hint}add it to the {roles.what} or "
                "remove it from the config"
            )
    return problems


def _plain(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _recode(values: pd.Series, codes: Mapping[str, int]) -> pd.Series:
    """0/1 from booleans, true/false and the configured codes (case and spaces ignored); other values unchanged."""
    mapping = {**TRUE_FALSE, **{str(k).strip().lower(): v for k, v in codes.items()}}

    def one(value):
        if pd.isna(value) or isinstance(value, (bool, np.bool_)):
            return value if pd.isna(value) else int(value)
        key = str(value).strip().lower()
        if key in mapping:
            return mapping[key]
        number = pd.to_numeric(key, errors="coerce")
        return number if pd.notna(number) else value

    recoded = values.map(one)
    return pd.to_numeric(recoded) if recoded.map(_is_number).all() else recoded


def _is_number(value) -> bool:
    return pd.isna(value) or (isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool))


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce").astype(float)


def numeric_like(values: pd.Series) -> bool:
    """Numbers, or text that is mostly numbers (at least 80% of the values given): a numeric column with a few typos."""
    if pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_numeric_dtype(values):
        return True
    given = values.dropna()
    return len(given) > 0 and float(pd.to_numeric(given, errors="coerce").notna().mean()) >= 0.8


# Each rule: the check's name (pandera's error text), the rule as the user reads it, and the fix.
RULES = {
    "unique": ("must be unique (each patient appears once)", "merge or rename the repeated rows"),
    "present": ("must not be missing", "fill it in or remove the patient's row"),
    "binary": (
        "must be coded 0/1 (1 = event) or true/false",
        "recode the column to 0/1, or name the codes in the config, e.g. cohort.outcome_codes: {{yes: 1, no: 0}}",
    ),
    "time": (
        "must be a finite number >= 0 (time from baseline to event or last follow-up)",
        "correct the times (a negative time puts the event before baseline)",
    ),
    "number": ("must be a number", "leave the cell empty for a missing value, or correct it"),
    "finite": (
        "must be finite",
        "correct the values, or set cohort.infinite_as_missing: true to impute them inside each training fold",
    ),
    "binary (upload)": ("must be coded 0/1 (1 = event) or true/false", "recode the column to 0/1 (1 = event)"),
    "finite (upload)": ("must be finite", "correct the values or leave those patients out"),
    "split": (
        "must be train, internal, or a name beginning with external (e.g. external_C2)",
        "rename those cohorts, or drop the split column to let the config assign one",
    ),
    "level": ("has levels the run was not trained on", "recode them to a training level: {levels}"),
    "order": ("has values outside reference_scores order {levels}", "add them to the order, or recode them"),
}


def _check(rule: str, test, **kwargs):
    import pandera.pandas as pa

    return pa.Check(test, error=rule, **kwargs)


def _number_checks() -> list:
    return [_check("number", lambda s: _numbers(s).notna()), _check("finite", lambda s: ~np.isinf(_numbers(s)))]


def _schema(table: pd.DataFrame, roles: TableRoles, numeric: Sequence[str]):
    """(the pandera schema, the known levels of each column with a level or order check, for the messages)"""
    import pandera.pandas as pa

    repeated = table.duplicated([ID, *([roles.unique_within] if roles.unique_within in table else [])], keep=False)
    columns: dict[str, pa.Column] = {
        ID: pa.Column(nullable=False, checks=[_check("unique", lambda s: ~repeated.loc[s.index])])
    }
    nullable = not roles.outcomes_required

    def add(column: str, *checks, allow_missing: bool = True) -> None:
        if column in columns:
            columns[column].checks.extend(checks)
            return
        columns[column] = pa.Column(nullable=allow_missing, checks=list(checks), required=False)

    for column in roles.binary:
        add(column, _check("binary", lambda s: s.isin([0, 1])), allow_missing=nullable)
    for endpoint in roles.survival:
        add(time_column(endpoint), _check("time", lambda s: _numbers(s).ge(0) & np.isfinite(_numbers(s))),
            allow_missing=nullable)  # fmt: skip
        add(event_column(endpoint), _check("binary", lambda s: s.isin([0, 1])), allow_missing=nullable)
    for column in numeric:
        add(column, *_number_checks())
    if "split" in table:
        add("split", allow_missing=False)
        if roles.split_names:
            add("split", _check("split", lambda s: s.astype(str).str.match(r"^(train|internal|external.*)$")))
    if "center" in table and roles.center_required:
        add("center", allow_missing=False)
    known_levels = {}
    for column, levels in roles.levels.items():
        known = sorted({str(v) for v in levels})
        known_levels[column] = str(known)
        add(column, _check("level", lambda s, known=known: s.astype(str).isin(known)))
    for column, order in roles.references.items():
        if order:
            known_levels[column] = str(list(order))
            add(column, _check("order", lambda s, order=order: s.astype(str).isin(order)))
        elif column not in numeric:
            add(column, *_number_checks())
    return pa.DataFrameSchema(columns, strict=False), known_levels


def _failures(table: pd.DataFrame, schema, known_levels: Mapping[str, str], configured: bool) -> list[str]:
    """One line per column and rule: the rule, the values seen with their rows, and the fix."""
    import pandera.pandas as pa

    try:
        schema.validate(table, lazy=True)
        return []
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
    lines = []
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        rule_name = "present" if check == "not_nullable" else check
        if rule_name not in RULES:  # pandera's own (a dtype it could not use): said as it came
            lines.append(f"{column}: {check} failed ({group['failure_case'].astype(str).tolist()[:5]})")
            continue
        rule, fix = RULES[rule_name if configured or f"{rule_name} (upload)" not in RULES else f"{rule_name} (upload)"]
        levels = known_levels.get(column, "")
        rows = group["index"].dropna().astype(int).tolist()
        where = ", ".join(f"row {i + 2} ({table.at[i, ID]})" for i in rows[:5])
        more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
        if rule_name == "present":
            lines.append(f"{column} {rule}; missing in {len(rows)} row(s): {where}{more}. Fix: {fix}")
            continue
        seen = sorted({_shown(v) for v in group["failure_case"]}, key=str)
        shown = ", ".join(seen[:6]) + (" ..." if len(seen) > 6 else "")
        lines.append(
            f"{column} {rule.format(levels=levels)}; got {shown} in {len(rows)} row(s): {where}{more}. "
            f"Fix: {fix.format(levels=levels)}"
        )
    return lines


def _shown(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _empty_or_constant(table: pd.DataFrame, roles: TableRoles) -> list[str]:
    """Clinical and reference columns empty for everyone or with one value; feature columns empty for everyone."""
    problems = []
    for column in [*roles.clinical, *roles.references]:
        values = table[column].dropna()
        kind, setting = ("clinical", roles.setting) if column in roles.clinical else ("reference", "reference_scores")
        if values.empty:
            problems.append(
                f"{kind} column {column!r} has no value (all {len(table)} missing); fill it in or remove it from "
                f"{setting}"
            )
        elif values.astype(str).nunique() == 1 and len(table) > 1:
            problems.append(
                f"{kind} column {column!r} has one value ({_shown(values.iloc[0])}) for every patient; a constant "
                f"predictor cannot be estimated: remove it from {setting}"
            )
    empty = [c for c in roles.features if table[c].isna().all()] if roles.refuse_empty_features else []
    if empty:
        problems.append(
            f"feature columns empty for every patient: {empty[:10]}{' ...' if len(empty) > 10 else ''}; the export "
            "failed for them: export them again or drop the columns"
        )
    return problems
