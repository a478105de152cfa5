"""A study set up from a table, as the New study page does it: each column's proposed role, then the config.

``propose_roles`` reads a manifest or a feature table and proposes what each column is (the user confirms or
changes it); ``config_from_roles`` turns the confirmed roles and the chosen settings into the same config dict a
YAML file holds, validated by the same model as the CLI's (``study_yaml`` writes it), so that ``hcc-study train
--config`` on that file gives the same run as the browser.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml

from engine.common.names import DEFAULT_MODELS
from engine.errors import ValidationError

ROLES = (
    "patient id",
    "binary endpoint",
    "survival time",
    "survival event",
    "centre",
    "split",
    "clinical",
    "reference score",
    "image",
    "mask",
    "second reader mask",
    "feature",
    "ignore",
)
ID_NAMES = {"patient_id", "patientid", "patient", "id", "case_id", "caseid", "subject", "subject_id", "mrn"}
CENTRE_NAMES = {"center", "centre", "site", "hospital", "institution"}  # the engine reads "center" (renamed)
OUTCOME_WORDS = ("label", "outcome", "recurrence", "response", "status", "mvi", "differentiation", "grade_high")
# column prefixes of radiomics exports (PyRadiomics, 3D Slicer) and deep features
FEATURE_PATTERN = re.compile(
    r"^(rad_|radiomics_|dl_|deep_|original_|wavelet|log[-_]sigma|lbp|squareroot|square_|gradient|exponential|"
    r"logarithm|diagnostics_)|(_firstorder_|_glcm_|_glrlm_|_glszm_|_gldm_|_ngtdm_|_shape_)",
    re.IGNORECASE,
)


def propose_roles(table: pd.DataFrame) -> dict[str, str]:
    """Column -> proposed role (one of ``ROLES``), from the names and values; the user confirms."""
    roles: dict[str, str] = {}
    columns = [str(c) for c in table.columns]
    for column in columns:
        name = column.strip().lower()
        values = table[column]
        stem = column[: -len("_time")] if column.endswith("_time") else column[: -len("_event")]
        if name in ID_NAMES and "patient id" not in roles.values():
            roles[column] = "patient id"
        elif name == "split":
            roles[column] = "split"
        elif name in CENTRE_NAMES:
            roles[column] = "centre"
        elif name.startswith("image_"):
            roles[column] = "image"
        elif name.startswith("mask2"):
            roles[column] = "second reader mask"
        elif name == "mask" or name.startswith("mask_"):
            roles[column] = "mask"
        elif column.endswith("_time") and f"{stem}_event" in columns:
            roles[column] = "survival time"
        elif column.endswith("_event") and f"{stem}_time" in columns:
            roles[column] = "survival event"
        elif FEATURE_PATTERN.search(column) and pd.api.types.is_numeric_dtype(values):
            roles[column] = "feature"
        elif FEATURE_PATTERN.search(column):
            roles[column] = "ignore"  # PyRadiomics' diagnostics (versions, hashes, settings)
        elif _binary(values) and (name == "label" or any(word in name for word in OUTCOME_WORDS)):
            roles[column] = "binary endpoint"
        elif pd.api.types.is_numeric_dtype(values) or values.dropna().astype(str).nunique() <= 10:
            roles[column] = "clinical"
        else:
            roles[column] = "ignore"  # free text, dates, ids of other systems
    return roles


def _binary(values: pd.Series) -> bool:
    given = values.dropna()
    return len(given) > 0 and set(given.astype(str).str.strip().str.lower()) <= {
        "0",
        "1",
        "0.0",
        "1.0",
        "true",
        "false",
    }


def config_from_roles(
    roles: Mapping[str, str], *, source: str, kind: str = "feature_table", settings: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The study config (a YAML-able dict) for a table at ``source`` (relative to the config's folder) whose columns
    have ``roles``; ``settings`` holds the rest (name, grid, survival, radiomics, deep, reference_scores, seed, and
    cohort keys such as external_centers), merged over what the roles give. Validated by engine.config."""
    from engine.config import parse_config

    settings = dict(settings or {})
    for column, role in roles.items():
        if role not in ROLES:
            raise ValidationError(f"column {column!r}: role must be one of {list(ROLES)}; got {role!r}.")
    by_role = roles_by_kind(roles)
    if kind not in ("feature_table", "manifest"):
        raise ValidationError(f"kind must be feature_table or manifest; got {kind!r}.")
    for role, wanted in (("patient id", "patient_id"), ("centre", "center"), ("split", "split")):
        named = by_role.get(role, [])
        if len(named) > 1 or (named and named[0] != wanted):
            raise ValidationError(
                f"the {role} is read from one column named {wanted!r}; got {named}. Rename it in the table."
            )
    if "patient id" not in by_role:
        raise ValidationError("one column must be the patient id (named patient_id); none has that role.")
    cohort: dict[str, Any] = {kind: source, "clinical": by_role.get("clinical", [])}
    if kind == "feature_table" and by_role.get("ignore"):
        cohort["ignore_columns"] = by_role["ignore"]
    cohort.update(settings.pop("cohort", {}) or {})
    config: dict[str, Any] = {"name": settings.pop("name", "study"), "cohort": cohort}
    endpoints = by_role.get("binary endpoint", [])
    if endpoints:
        config["endpoint"] = endpoints[0]
    survival = [c[: -len("_time")] for c in by_role.get("survival time", [])]
    if survival:
        config["survival_endpoints"] = survival
    if by_role.get("reference score"):
        config["reference_scores"] = {column: {"column": column} for column in by_role["reference score"]}
    deep_on = bool((settings.get("deep") or {}).get("enabled", True))
    families = family_names(by_role, kind, deep=deep_on)
    if kind == "feature_table":
        config["radiomics"] = {"enabled": False}
        config["deep"] = {"enabled": False}
    grid = dict(settings.pop("grid", {}) or {})
    models = grid.get("models", available_models(families))
    if not isinstance(models, Mapping):  # model names picked in the form
        models = {model: DEFAULT_MODELS.get(model, [model]) for model in models}
    for model, parts in models.items():
        absent = [p for p in parts if p not in families and not p.startswith("prefix:")]
        if absent:
            raise ValidationError(
                f"model {model!r} needs {absent} features, which this study has none of (its families: "
                f"{sorted(families)}); leave the model out, or give columns those roles."
            )
    config["grid"] = {**grid, "models": models}
    config = _merged(config, settings)
    parse_config(config)  # every problem named now, before the user presses Train
    return config


def family_names(by_role: Mapping[str, list[str]], kind: str, *, deep: bool = True) -> set[str]:
    """The feature families a study has: clinical (clinical columns), radiomics and deep (an image study: both,
    deep unless it is off; a feature table: dl_ columns are deep, other feature columns radiomics)."""
    families = {"clinical"} if by_role.get("clinical") else set()
    features = by_role.get("feature", [])
    if kind == "manifest":
        return families | {"radiomics"} | ({"deep"} if deep else set())
    if any(c.startswith("dl_") for c in features):
        families.add("deep")
    if any(not c.startswith("dl_") for c in features):
        families.add("radiomics")
    return families


def available_models(families: set[str]) -> dict[str, list[str]]:
    """The default models (engine.common.names.DEFAULT_MODELS) whose families the study has."""
    return {name: parts for name, parts in DEFAULT_MODELS.items() if set(parts) <= families}


def roles_by_kind(roles: Mapping[str, str]) -> dict[str, list[str]]:
    """Role -> the columns that have it."""
    by_role: dict[str, list[str]] = {}
    for column, role in roles.items():
        by_role.setdefault(role, []).append(column)
    return by_role


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, nested dicts merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def study_yaml(config: Mapping[str, Any]) -> str:
    """The config as the YAML file ``hcc-study train --config`` reads."""
    return yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
