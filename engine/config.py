"""Study configuration: YAML validated by pydantic (a commented template: ``assets/study_template.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError as PydanticError, field_validator, model_validator

from engine.errors import ConfigError
from engine.common.names import ALL_CLASSIFIERS, DEFAULT_MODELS, DEFAULT_SELECTION, SELECTION_STEPS, SURVIVAL_METHODS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CohortConfig(_Strict):
    manifest: str | None = None
    feature_table: str | None = None
    clinical: list[str] = Field(default_factory=list)
    external_centers: list[str] = Field(default_factory=list)
    train_fraction: float = Field(0.7, gt=0.3, lt=0.95)
    log_transform: list[str] = Field(default_factory=list)  # clinical columns modelled as log10_<column>, e.g. [afp]
    roi: str | None = None  # the ROI / segment of DICOM RTSTRUCT / SEG masks (a manifest roi column overrides it)
    # leave out patients with a missing image or mask, an empty mask or a missing outcome (the flowchart says who and
    # why) instead of stopping at the manifest's problems
    exclude_incomplete: bool = False
    # outcome codes other than 0/1 and true/false, e.g. {yes: 1, no: 0}, for the label and every <endpoint>_event
    outcome_codes: dict[str, Literal[0, 1]] = Field(default_factory=dict)
    # inf / -inf in a feature or numeric clinical column: refused (false), or set to missing and imputed inside each
    # training fold (true, and said so)
    infinite_as_missing: bool = False
    # columns of the table that play no role (notes, ids of another system, another study's scores): left out of
    # every feature family
    ignore_columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> CohortConfig:
        if (self.manifest is None) == (self.feature_table is None):
            raise ValueError(
                "give exactly one of cohort.manifest (images) or cohort.feature_table (features from elsewhere)"
            )
        return self


class PreprocessingConfig(_Strict):
    """Before extraction (engine.features.preprocess): phases onto the first phase's grid, N4, normalisation."""

    n4: bool = False
    normalize: Literal["none", "zscore", "percentile"] = "none"
    resample_phases: bool = True
    register_phases: bool = False


class RadiomicsConfig(_Strict):
    enabled: bool = True
    preset: str = "ct"
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    rings_mm: dict[str, float] = Field(default_factory=lambda: {"ring5": 5.0})
    eroded_mm: float | None = None
    ring_shape: bool = False  # shape classes on the rings too (a shell's shape follows from the tumour's)
    delta: bool = False
    icc_threshold: float | None = Field(None, gt=0, lt=1)
    icc_kind: str = "2,1"
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)


class DeepConfig(_Strict):
    enabled: bool = True
    backbone: str = "resnet10"
    width: int = 16
    epochs: int = 12
    folds: int = 3
    size: int = 64
    spatial_dims: int = Field(2, ge=2, le=3)
    depth: int = 16
    channels: str = "phases"
    weights: str | None = None
    objective: Literal["binary", "cox", "landmark"] = "binary"  # what the CNN learns from (engine.features.deep)
    endpoint: str | None = None  # cox / landmark: the survival endpoint (default: the first of survival_endpoints)
    landmark: float | None = Field(None, gt=0)  # landmark: "event by this time" (censored earlier: left out)

    @model_validator(mode="after")
    def _landmark(self) -> DeepConfig:
        if self.objective == "landmark" and self.landmark is None:
            raise ValueError("a landmark objective needs deep.landmark, the horizon in the study's time unit, e.g. 24")
        return self


class SelectionConfig(_Strict):
    """Feature selection inside every training fold, in this order (engine.selection)."""

    steps: list[str] = Field(default_factory=lambda: list(DEFAULT_SELECTION))
    correlation_threshold: float = Field(0.8, gt=0, le=1)
    univariate_p: float = Field(0.05, gt=0, le=1)
    rfe_features: int = Field(10, ge=1)

    @model_validator(mode="after")
    def _known(self) -> SelectionConfig:
        unknown = [s for s in self.steps if s not in SELECTION_STEPS]
        if unknown:
            raise ValueError(f"unknown selection steps {unknown}; choose from {list(SELECTION_STEPS)}")
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"selection steps repeat: {self.steps}; name each step once")
        return self


class CutoffConfig(_Strict):
    """How each model's cutoff is learned on its training (out-of-fold) predictions (engine.views.performance)."""

    method: Literal["youden", "sensitivity", "specificity"] = "youden"
    target: float | None = Field(None, gt=0, lt=1)  # the target sensitivity or specificity

    @model_validator(mode="after")
    def _target(self) -> CutoffConfig:
        if self.method != "youden" and self.target is None:
            raise ValueError(f"a {self.method} cutoff needs a target between 0 and 1, e.g. target: 0.9")
        return self


class ClinicalSelectionConfig(_Strict):
    """How the clinical predictors are chosen on the training cohort and inside each fold (engine.stats.regression)."""

    method: Literal["none", "multivariable", "backward_aic"] = "none"
    enter_p: float = Field(0.05, gt=0, le=1)  # univariable p below this enters the multivariable model
    stay_p: float = Field(0.05, gt=0, le=1)  # multivariable p below this keeps the predictor

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"method": value} if isinstance(value, str) else value


class HarmonizationConfig(_Strict):
    """ComBat across centres (engine.features.harmonize), fitted inside every training fold; ``families``: which
    feature families (e.g. [radiomics]; [] = off); ``unseen``: an external centre not in training is harmonised on
    its own features (``own``) or left as it is (``none``)."""

    families: list[str] = Field(default_factory=list)
    unseen: Literal["own", "none"] = "own"

    @field_validator("families")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        wrong = [f for f in value if f not in ("radiomics", "deep") and not f.startswith("prefix:")]
        if wrong:
            raise ValueError(f"harmonization.families {wrong} cannot be harmonised; use radiomics and/or deep")
        return value


class ReferenceScoreConfig(_Strict):
    """An existing score or staging system: a cohort column, numeric or ordered categories (lowest risk first)."""

    column: str
    order: list[str] | None = None


class GridConfig(_Strict):
    models: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_MODELS))
    classifiers: list[str] = Field(default_factory=lambda: ["LR", "SVM", "RF", "XGBoost"])
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    search: Literal["random", "refined"] = "refined"
    n_iter: int = Field(4, ge=1)
    folds: int = Field(5, ge=2)
    repeats: int = Field(1, ge=1)
    stacking: bool = True
    smote: bool = False
    survival_models: bool = False
    survival_methods: list[str] = Field(default_factory=lambda: ["Cox", "LASSO-Cox", "RSF"])
    cutoff: CutoffConfig = Field(default_factory=CutoffConfig)
    clinical_selection: ClinicalSelectionConfig = Field(default_factory=ClinicalSelectionConfig)
    harmonization: HarmonizationConfig = Field(default_factory=HarmonizationConfig)

    @field_validator("survival_methods")
    @classmethod
    def _survival_methods(cls, methods: list[str]) -> list[str]:
        unknown = [m for m in methods if m not in SURVIVAL_METHODS]
        if unknown:
            raise ValueError(f"unknown survival methods {unknown}; choose from {list(SURVIVAL_METHODS)}")
        return methods

    @model_validator(mode="after")
    def _known(self) -> GridConfig:
        unknown = [c for c in self.classifiers if c not in ALL_CLASSIFIERS]
        if unknown:
            raise ValueError(f"unknown classifiers {unknown}; choose from {ALL_CLASSIFIERS}")

        families = {"clinical", "radiomics", "deep"}
        for name, parts in self.models.items():
            bad = [p for p in parts if p not in families and not p.startswith("prefix:")]
            if bad:
                raise ValueError(
                    f"model {name!r} uses unknown families {bad}; use clinical, radiomics, deep or prefix:<column "
                    "prefix>"
                )
        return self


UNITS_PER_YEAR = {"days": 365.25, "months": 12.0, "years": 1.0}


class SurvivalConfig(_Strict):
    """The unit of every time column and the horizons survival results are reported at (default 1, 3 and 5 years)."""

    time_unit: Literal["days", "months", "years"] = "months"
    horizons: list[float] | None = None

    @field_validator("horizons")
    @classmethod
    def _positive(cls, horizons: list[float] | None) -> list[float] | None:
        if horizons is not None and (not horizons or min(horizons) <= 0):
            raise ValueError(
                f"horizons must be positive times in the study's time unit, e.g. [12, 36, 60]; got {horizons}"
            )
        return sorted(horizons) if horizons is not None else None

    def horizon_values(self) -> list[float]:
        """The horizons in the time unit: the configured ones, or 1, 3 and 5 years."""
        if self.horizons is not None:
            return list(self.horizons)
        return [years * UNITS_PER_YEAR[self.time_unit] for years in (1, 3, 5)]


class StudyConfig(_Strict):
    name: str = "study"
    cohort: CohortConfig
    endpoint: str = "label"
    survival_endpoints: list[str] = Field(default_factory=list)
    survival: SurvivalConfig = Field(default_factory=SurvivalConfig)
    radiomics: RadiomicsConfig = Field(default_factory=RadiomicsConfig)
    deep: DeepConfig = Field(default_factory=DeepConfig)
    grid: GridConfig = Field(default_factory=GridConfig)
    reference_scores: dict[str, ReferenceScoreConfig] = Field(default_factory=dict)
    strata: str | None = None  # a cohort column (e.g. treatment): the whole study runs once per level, nothing shared
    seed: int = 0
    device: str = "auto"

    def canonical(self) -> dict[str, Any]:
        """The settings that determine results (for the run key). Settings added later are left out at their default
        value, so that a run made before they existed keeps its key."""
        settings = self.model_dump(mode="json")
        for key in ("exclude_incomplete", "outcome_codes", "infinite_as_missing", "ignore_columns"):
            if not settings["cohort"][key]:
                del settings["cohort"][key]
        return settings


def load_config(path: str | Path) -> tuple[StudyConfig, Path]:
    """The validated config and the folder relative paths in it are resolved against."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"config must be an existing YAML file; got {str(path)!r}. Start from assets/study_template.yaml."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"config {path.name} is not valid YAML: {error}") from None
    return parse_config(raw, source=path.name), path.parent.resolve()


def parse_config(raw: dict[str, Any], *, source: str = "config") -> StudyConfig:
    try:
        return StudyConfig.model_validate(raw)
    except PydanticError as error:
        lines = [_problem_line(e) for e in error.errors()]
        raise ConfigError(f"{source} has {len(lines)} problem(s):\n  - " + "\n  - ".join(lines)) from None


def _problem_line(error: dict[str, Any]) -> str:
    """One config problem with its fix: an unknown key gets the closest known key (a typo) and the known keys; a
    wrong type says what came and what is expected."""
    import difflib

    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    if error["type"] == "extra_forbidden":
        model: type[BaseModel] = StudyConfig
        for part in error["loc"][:-1]:
            field = model.model_fields.get(str(part)) if isinstance(model, type) else None
            annotation = getattr(field, "annotation", None)
            model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
            if model is None:
                break
        known = sorted(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return (
            f"{where}: unknown setting; {hint}the settings here are {known}" if known else f"{where}: unknown setting"
        )
    came = error.get("input")
    shown = f" (got {came!r})" if not isinstance(came, (dict, list)) else ""
    return f"{where}: {error['msg']}{shown}; see assets/study_template.yaml for the expected form"


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``."""
    from engine.common.device import resolve_device as resolve

    return resolve(device)
