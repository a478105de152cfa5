"""The New study page's settings (engine.pipeline.setup_form): described from the config model (defaults, bounds,
choices) and the commented template (help), each one settable from the form to the value the parsed config holds,
the text fields parsed with errors that name the field, and only what differs from the defaults written."""

from __future__ import annotations

import pytest
import yaml

from engine.common.paths import assets_folder
from engine.config import StudyConfig, parse_config
from engine.errors import ValidationError
from engine.pipeline.setup import config_from_roles
from engine.pipeline.setup_form import form_settings, settings_from_form, template_help

ROLES = {
    "patient_id": "patient id",
    "label": "binary endpoint",
    "rfs_time": "survival time",
    "rfs_event": "survival event",
    "center": "centre",
    "age": "clinical",
    "afp": "clinical",
    "image_pv": "image",
    "mask": "mask",
    "mask2": "second reader mask",
}


def every_setting():
    return form_settings(
        models=["Clinical", "Rad", "DL", "Clinical+Rad", "Combined"],
        centres=["A", "B", "C"],
        clinical=["age", "afp"],
        survival=True,
        images=True,
        second_reader=True,
    )


def test_help_texts_are_the_templates_comments():
    helps = template_help()
    assert helps["grid.selection.univariate_p"] == "t-test or Mann-Whitney U (by Shapiro-Wilk normality)"
    assert helps["cohort.exclude_incomplete"].endswith(
        "an empty mask or a missing outcome (the cohort flowchart says who and why) instead of stopping"
    )  # a comment continued on the next line is joined
    assert "feature_table" not in helps  # a commented-out key is no setting
    template = yaml.safe_load((assets_folder() / "study_template.yaml").read_text(encoding="utf-8"))
    for path in helps:  # every key found is a key of the template
        tree = template
        for part in path.split("."):
            tree = tree[part]


def test_defaults_bounds_and_choices_come_from_the_config_model():
    settings = {s.path: s for s in every_setting()}
    model = StudyConfig(cohort={"feature_table": "t.csv"})
    assert settings["grid.folds"].default == model.grid.folds == 5 and settings["grid.folds"].low == 2
    assert settings["cohort.train_fraction"].low > 0.3 and settings["cohort.train_fraction"].high < 0.95
    assert settings["grid.cutoff.method"].options == ("youden", "sensitivity", "specificity")
    assert settings["survival.time_unit"].options == ("days", "months", "years")
    assert settings["deep.spatial_dims"].low == 2 and settings["deep.spatial_dims"].high == 3
    assert settings["grid.selection.steps"].default == list(model.grid.selection.steps)
    assert settings["cohort.external_centers"].options == ("A", "B", "C")
    assert all(s.help for s in settings.values()), [p for p, s in settings.items() if not s.help]


def test_what_a_study_needs_is_offered():
    plain = {s.path for s in form_settings(models=["Rad"])}
    assert not any(p.startswith(("survival.", "radiomics.", "deep.", "grid.harmonization")) for p in plain)
    assert "cohort.external_centers" not in plain and "grid.survival_models" not in plain
    images = {s.path for s in form_settings(models=["Rad"], images=True)}
    assert "radiomics.rings_mm" in images and "radiomics.icc_threshold" not in images  # no second reader


def other_value(setting):
    """A valid value other than the default, as the widget would give it."""
    if setting.kind == "flag":
        return not setting.default
    if setting.kind == "choice":
        return next(o for o in setting.options if o != setting.default)
    if setting.kind == "choices":
        return list(setting.options[:1]) if setting.default != list(setting.options[:1]) else list(setting.options)
    if setting.kind == "int":
        return setting.default + 1 if setting.high is None or setting.default < setting.high else setting.default - 1
    if setting.kind == "float":
        return 0.85 if setting.default != 0.85 else 0.9
    return {"numbers": "6, 18", "rings": "3, 10", "codes": "yes=1, no=0"}[setting.kind]


EXPECTED = {
    "survival.horizons": [6.0, 18.0],
    "radiomics.rings_mm": {"ring3": 3.0, "ring10": 10.0},
    "cohort.outcome_codes": {"yes": 1, "no": 0},
}


@pytest.mark.parametrize("setting", every_setting(), ids=lambda s: s.path)
def test_each_setting_reaches_the_config(setting):
    """Changing one setting in the form changes that key of the validated config, and nothing else of the form."""
    settings = every_setting()
    values = {s.path: s.default for s in settings}
    if setting.needs:  # a dependent setting: its condition on
        values[setting.needs[0]] = setting.needs[1][0]
    values[setting.path] = other_value(setting)
    if setting.path == "deep.enabled":  # the page then offers only the models without deep features
        values["grid.models"] = ["Clinical", "Rad", "Clinical+Rad"]
    chosen = settings_from_form(settings, values)
    config = parse_config(config_from_roles(ROLES, source="manifest.csv", kind="manifest", settings=chosen))
    held = config.model_dump(mode="json")
    for part in setting.path.split("."):
        held = held[part]
    wanted = EXPECTED.get(setting.path, values[setting.path])
    if setting.path == "grid.models":
        held = list(held)
    assert held == wanted


def test_unchanged_settings_are_left_out_of_the_yaml():
    settings = every_setting()
    chosen = settings_from_form(settings, {s.path: s.default for s in settings})
    assert chosen == {"grid": {"models": ["Clinical", "Rad", "DL", "Clinical+Rad", "Combined"]}}
    hidden = settings_from_form(settings, {"grid.cutoff.method": "youden", "grid.cutoff.target": 0.8})
    assert "cutoff" not in hidden.get("grid", {})  # a target without a sensitivity/specificity rule is not written


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        ("survival.horizons", "12, two years", "Horizons (empty: 1, 3 and 5 years): give numbers separated by commas"),
        ("survival.horizons", "12, -1", "every number must be positive"),
        ("radiomics.rings_mm", "5mm", "Peritumoral rings (mm): give numbers"),
        ("cohort.outcome_codes", "yes=2", "write each code as code=1 or code=0"),
    ],
)
def test_text_fields_name_the_field_and_the_form_they_expect(path, text, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        settings_from_form(every_setting(), {path: text})


def test_a_model_without_its_features_is_refused_with_the_fix():
    settings = every_setting()
    values = {s.path: s.default for s in settings} | {"deep.enabled": False}
    with pytest.raises(ValidationError, match=r"model 'DL' needs \['deep'\] features"):
        config_from_roles(ROLES, source="m.csv", kind="manifest", settings=settings_from_form(settings, values))
