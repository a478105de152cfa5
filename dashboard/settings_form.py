"""The widgets of the study settings (engine.pipeline.setup_form describes them; this module only draws them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from engine.pipeline.setup_form import SECTIONS, Setting, as_text, shown

OPEN = ("Models", "Search and validation")


def settings_form(settings: Sequence[Setting], *, key: str = "new_study") -> dict[str, Any]:
    """One expander per section (models and validation open), one widget per setting with the template's help;
    returns the entered values (path -> value) of the settings shown."""
    values: dict[str, Any] = {}
    sections = [s for s in SECTIONS if any(setting.section == s for setting in settings)]
    for section in sections:
        with st.expander(section, expanded=section in OPEN):
            columns = st.columns(2)
            drawn = 0
            for setting in settings:
                if setting.section != section or not shown(setting, values):
                    continue
                with columns[drawn % 2]:
                    values[setting.path] = _widget(setting, f"{key}_{setting.path}")
                drawn += 1
    return values


def _widget(setting: Setting, key: str) -> Any:
    label, help_text = setting.label, setting.help or None
    if setting.kind == "choices":
        default = [value for value in setting.default or [] if value in setting.options]
        return st.multiselect(label, list(setting.options), default=default, help=help_text, key=key)
    if setting.kind == "choice":
        options = list(setting.options)
        index = options.index(setting.default) if setting.default in options else 0
        return st.selectbox(label, options, index=index, help=help_text, key=key)
    if setting.kind == "flag":
        return st.checkbox(label, value=bool(setting.default), help=help_text, key=key)
    if setting.kind == "int":
        return st.number_input(
            label,
            min_value=None if setting.low is None else int(setting.low),
            max_value=None if setting.high is None else int(setting.high),
            value=int(setting.default),
            step=1,
            help=help_text,
            key=key,
        )
    if setting.kind == "float":
        return st.number_input(
            label,
            min_value=None if setting.low is None else float(setting.low),
            max_value=None if setting.high is None else float(setting.high),
            value=None if setting.default is None else float(setting.default),
            step=0.01,
            format="%.3f",
            help=help_text,
            key=key,
        )
    placeholder = {"numbers": "e.g. 12, 36, 60", "rings": "e.g. 3, 5, 10", "codes": "e.g. yes=1, no=0"}
    return st.text_input(
        label,
        value=as_text(setting, setting.default),
        placeholder=placeholder.get(setting.kind),
        help=help_text,
        key=key,
    )
