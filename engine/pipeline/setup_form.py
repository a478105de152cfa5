"""The study settings a browser form offers, described from the config model the CLI validates.

Each ``Setting`` is one config key (a dotted path such as ``grid.selection.steps``): its default, its bounds and its
choices come from the pydantic model in engine.config (``Literal`` choices, ``gt``/``ge``/``le``/``lt`` bounds), its
help text from the commented template (assets/study_template.yaml). ``form_settings`` says which settings a study
with these columns needs (survival settings only with survival endpoints, harmonisation only with centres, radiomics
and deep settings only for images); ``settings_from_form`` turns the entered values into the nested dict that
engine.pipeline.setup.config_from_roles merges into the config, leaving out what equals the model's default so that
the YAML stays short.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

import annotated_types
from pydantic import BaseModel

from engine.common.names import ALL_CLASSIFIERS, BACKBONES, SELECTION_STEPS, SURVIVAL_METHODS
from engine.common.paths import assets_folder
from engine.config import StudyConfig
from engine.errors import ValidationError
from engine.features.radiomics import PRESETS

RADIOMICS_PRESETS = tuple(sorted(PRESETS))


@dataclasses.dataclass(frozen=True)
class Setting:
    """One config key as a form field. ``kind``: choices (several, in order), choice (one), int, float, flag, numbers
    (a comma-separated list of numbers), rings (peritumoral ring widths in mm), codes (``yes=1, no=0``)."""

    path: str
    label: str
    kind: str
    section: str
    options: tuple[Any, ...] = ()
    default: Any = None
    low: float | None = None  # inclusive bounds for number fields (exclusive model bounds are stepped inside)
    high: float | None = None
    help: str = ""
    needs: tuple[str, tuple[Any, ...]] | None = None  # shown only when another setting has one of these values


DEEP_ON = ("deep.enabled", (True,))
# section -> its settings: (config path, label[, choices when the model does not list them[, shown only when]])
_FORM: dict[str, tuple[tuple[Any, ...], ...]] = {
    "Models": (
        ("grid.models", "Models (feature families)"),
        ("grid.classifiers", "Classifiers", tuple(ALL_CLASSIFIERS)),
        ("grid.stacking", "Stacked model (late fusion of the family models)"),
        ("grid.smote", "SMOTE inside each training fold"),
    ),
    "Feature selection": (
        ("grid.selection.steps", "Selection steps, in this order", SELECTION_STEPS),
        ("grid.selection.correlation_threshold", "Correlation filter |r| above"),
        ("grid.selection.univariate_p", "Univariate test p below"),
        ("grid.selection.rfe_features", "Features RFE keeps"),
        ("grid.clinical_selection.method", "Clinical predictors"),
    ),
    "Search and validation": (
        ("grid.search", "Hyperparameter search"),
        ("grid.n_iter", "Candidates per classifier"),
        ("grid.folds", "Cross-validation folds"),
        ("grid.repeats", "Cross-validation repeats"),
        ("grid.cutoff.method", "Cutoff rule (learned on training)"),
        (
            "grid.cutoff.target",
            "Target sensitivity or specificity",
            (),
            ("grid.cutoff.method", ("sensitivity", "specificity")),
        ),
        ("seed", "Seed"),
    ),
    "Cohorts": (
        ("cohort.external_centers", "External cohorts (centres)"),
        ("cohort.train_fraction", "Training fraction (the rest: internal validation)"),
        ("cohort.log_transform", "Clinical columns modelled as log10"),
        ("cohort.outcome_codes", "Outcome codes besides 0/1"),
        ("cohort.infinite_as_missing", "Infinite values become missing (imputed in the folds)"),
        ("cohort.exclude_incomplete", "Leave out incomplete patients (flowchart)"),
    ),
    "Survival": (
        ("survival.time_unit", "Time unit of the survival times"),
        ("survival.horizons", "Horizons (empty: 1, 3 and 5 years)"),
        ("grid.survival_models", "Survival models per feature family"),
        ("grid.survival_methods", "Survival methods", SURVIVAL_METHODS, ("grid.survival_models", (True,))),
    ),
    "Harmonisation across centres": (
        ("grid.harmonization.families", "ComBat on", ("radiomics", "deep")),
        ("grid.harmonization.unseen", "An external centre not in training"),
    ),
    "Radiomics": (
        ("radiomics.preset", "Radiomics preset", RADIOMICS_PRESETS),
        ("radiomics.rings_mm", "Peritumoral rings (mm)"),
        ("radiomics.delta", "Delta-radiomics between phases"),
        ("radiomics.icc_threshold", "Keep features with inter-reader ICC at least"),
    ),
    "Deep features": (
        ("deep.enabled", "Deep features"),
        ("deep.backbone", "Backbone", BACKBONES, DEEP_ON),
        ("deep.epochs", "Epochs", (), DEEP_ON),
        ("deep.folds", "Folds (out-of-fold deep features)", (), DEEP_ON),
        ("deep.spatial_dims", "Dimensions (2: largest slice, 3: box)", (), DEEP_ON),
    ),
}
SECTIONS = tuple(_FORM)
# the settings typed as text in the form (the rest follow from the model's annotation: engine.config)
_TEXT_KINDS = {"survival.horizons": "numbers", "radiomics.rings_mm": "rings", "cohort.outcome_codes": "codes"}


def _kind(path: str, annotation: Any) -> str:
    """The form field of a config key: from its annotation (bool: flag, int, float, Literal or str: choice, list or
    the model dict: choices), or one of the text kinds."""
    if path in _TEXT_KINDS:
        return _TEXT_KINDS[path]
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)  # float | None
    given = set(typing.get_args(annotation)) - {type(None)} if optional else set()
    base = next(iter(given)) if len(given) == 1 else annotation
    if base is bool:
        return "flag"
    if base is int:
        return "int"
    if base is float:
        return "float"
    if typing.get_origin(base) in (list, dict):
        return "choices"
    return "choice"


def _defaults() -> dict[str, Any]:
    return StudyConfig(cohort={"feature_table": "table.csv"}).model_dump(mode="json")


def _lookup(tree: Mapping[str, Any], path: str) -> Any:
    for part in path.split("."):
        tree = tree[part]
    return tree


def _model_field(path: str):
    """The pydantic field of a dotted path (walking the nested models)."""
    model: type[BaseModel] = StudyConfig
    parts = path.split(".")
    for part in parts[:-1]:
        model = model.model_fields[part].annotation
    return model.model_fields[parts[-1]]


def _bounds(field, kind: str) -> tuple[float | None, float | None]:
    low = high = None
    step = 1 if kind == "int" else 0.001
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = rule.ge
        elif isinstance(rule, annotated_types.Gt):
            low = rule.gt + step
        elif isinstance(rule, annotated_types.Le):
            high = rule.le
        elif isinstance(rule, annotated_types.Lt):
            high = rule.lt - step
    return low, high


def _choices(annotation) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return ()


@functools.lru_cache(maxsize=1)
def template_help() -> dict[str, str]:
    """Dotted config key -> its comment in the commented template (continuation lines joined)."""
    lines = (assets_folder() / "study_template.yaml").read_text(encoding="utf-8").splitlines()
    found: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    last: tuple[str, int] | None = None  # the previous key and its comment's column
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            if last and line.index("#") == last[1]:  # a comment continued on the next line, aligned
                found[last[0]] += " " + stripped.lstrip("# ").strip()
            continue
        match = re.match(r"^(\s*)([A-Za-z_][\w+-]*):(.*)$", line)
        if not match:
            last = None
            continue
        indent, key, rest = len(match.group(1)), match.group(2), match.group(3)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = ".".join([*(k for _, k in stack), key])
        stack.append((indent, key))
        last = None
        if "#" in rest:
            found[path] = rest.split("#", 1)[1].strip()
            last = (path, line.index("#"))
    return found


def _fields():
    """(section, path, label, choices, shown-when) of every setting, in the form's order."""
    for section, settings in _FORM.items():
        for path, label, *rest in settings:
            options = rest[0] if rest else ()
            needs = rest[1] if len(rest) > 1 else None
            yield section, path, label, tuple(options), needs


def form_settings(
    *,
    models: Sequence[str],
    centres: Sequence[str] = (),
    clinical: Sequence[str] = (),
    survival: bool = False,
    images: bool = False,
    second_reader: bool = False,
    start: Mapping[str, Any] | None = None,
) -> list[Setting]:
    """The settings a study with these columns needs, each with the model's default, bounds and choices and the
    template's help. ``models``: the model names its feature families allow (the default: all of them);
    ``second_reader``: the manifest has second-reader masks (the ICC filter applies); ``start``: a study's settings
    (``StudyConfig.model_dump(mode="json")``, e.g. ``demo_settings()``) to open with instead of the defaults."""
    defaults = {**_defaults(), **(start or {})}
    helps = template_help()
    dynamic = {
        "grid.models": tuple(models),
        "cohort.external_centers": tuple(centres),
        "cohort.log_transform": tuple(clinical),
    }
    wanted = []
    for section, path, label, options, needs in _fields():
        if section == "Survival" and not survival:
            continue
        if section == "Harmonisation across centres" and len(centres) < 2:
            continue
        if (section in ("Radiomics", "Deep features") or path == "cohort.exclude_incomplete") and not images:
            continue
        if path in dynamic and not dynamic[path]:
            continue
        if path == "radiomics.icc_threshold" and not second_reader:
            continue
        field = _model_field(path)
        kind = _kind(path, field.annotation)
        low, high = _bounds(field, kind)
        default = list(models) if path == "grid.models" else _lookup(defaults, path)
        if path == "grid.cutoff.target":
            default, low, high = 0.9, 0.01, 0.99
        if path == "radiomics.icc_threshold":
            low, high = 0.01, 0.99
        wanted.append(
            Setting(
                path=path,
                label=label,
                kind=kind,
                section=section,
                options=dynamic.get(path) or options or _choices(field.annotation),
                default=default,
                low=low,
                high=high,
                help=helps.get(path, ""),
                needs=needs,
            )
        )
    return wanted


def demo_settings() -> dict[str, Any]:
    """The demo study's settings (assets/demo_study.yaml: a small radiomics preset, 3 candidates per classifier), for
    a form on the demo's cohort that opens with them."""
    import yaml

    from engine.config import parse_config

    raw = yaml.safe_load((assets_folder() / "demo_study.yaml").read_text(encoding="utf-8"))
    return parse_config(raw, source="demo_study.yaml").model_dump(mode="json")


def shown(setting: Setting, values: Mapping[str, Any]) -> bool:
    """Whether a setting applies given the other values (e.g. the cutoff target only for a sensitivity rule)."""
    if setting.needs is None:
        return True
    other, accepted = setting.needs
    return values.get(other) in accepted


def settings_from_form(settings: Sequence[Setting], values: Mapping[str, Any]) -> dict[str, Any]:
    """The nested settings dict of the entered ``values`` (path -> value): text fields parsed (a ValidationError
    names the field and the form expected), hidden fields and values equal to the model's default left out."""
    defaults = _defaults()
    nested: dict[str, Any] = {}
    for setting in settings:
        if setting.path not in values or not shown(setting, values):
            continue
        value = _parsed(setting, values[setting.path])
        try:
            default = _lookup(defaults, setting.path)
        except KeyError:
            default = None
        if setting.path != "grid.models" and value == default:
            continue
        tree = nested
        *parents, leaf = setting.path.split(".")
        for part in parents:
            tree = tree.setdefault(part, {})
        tree[leaf] = value
    return nested


def _parsed(setting: Setting, value: Any) -> Any:
    if setting.kind == "choices":
        return list(value)
    if setting.kind == "int":
        return int(value)
    if setting.kind == "float" and value is not None:
        return float(value)
    if setting.kind in ("numbers", "rings"):
        numbers = _numbers(setting, value)
        if setting.kind == "rings":
            return {f"ring{n:g}": n for n in numbers}
        return numbers or None
    if setting.kind == "codes":
        return _codes(setting, value)
    return value


def _numbers(setting: Setting, text: Any) -> list[float]:
    if isinstance(text, Mapping):  # rings as the config holds them: name -> mm
        text = list(text.values())
    if isinstance(text, (list, tuple)):
        return [float(v) for v in text]
    parts = [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]
    example = "3, 5, 10" if setting.kind == "rings" else "12, 36, 60"
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise ValidationError(
            f"{setting.label}: give numbers separated by commas, e.g. {example}; got {text!r}."
        ) from None
    if any(n <= 0 for n in numbers):
        raise ValidationError(f"{setting.label}: every number must be positive; got {text!r}.")
    return numbers


def _codes(setting: Setting, text: Any) -> dict[str, int]:
    if isinstance(text, Mapping):
        return {str(k): int(v) for k, v in text.items()}
    codes: dict[str, int] = {}
    for part in [p.strip() for p in str(text or "").split(",") if p.strip()]:
        code, _, outcome = part.partition("=")
        if not code.strip() or outcome.strip() not in ("0", "1"):
            raise ValidationError(
                f"{setting.label}: write each code as code=1 or code=0, separated by commas, e.g. yes=1, no=0; "
                f"got {part!r}."
            )
        codes[code.strip()] = int(outcome.strip())
    return codes


def as_text(setting: Setting, value: Any) -> str:
    """A default shown in a text field: numbers and rings as a comma-separated list, codes as code=outcome."""
    if value is None:
        return ""
    if setting.kind == "rings":
        return ", ".join(f"{v:g}" for v in value.values())
    if setting.kind == "numbers":
        return ", ".join(f"{v:g}" for v in value)
    if setting.kind == "codes":
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
