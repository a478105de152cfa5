"""Where the engine's assets are: ``assets/`` at the top of a checkout, ``engine/assets/`` in an installed package
(setup.py maps the one onto the other)."""

from __future__ import annotations

from pathlib import Path


def assets_folder() -> Path:
    """The folder holding demo_study.yaml, study_template.yaml and radiomics/ (the PyRadiomics presets)."""
    package = Path(__file__).resolve().parents[1]  # engine/
    installed = package / "assets"
    return installed if installed.is_dir() else package.parent / "assets"
