"""Plotly figure builders that take result objects or tidy tables from ``engine.stats``.

One look for the dashboard and for export: white background, journal fonts, colour-blind-safe palette.
``export_figure`` renders the same figure to PNG (300 dpi), SVG or PDF with kaleido and Debian's chromium.
"""

from engine.plots.binary import (
    roc_figure,
    pairwise_heatmap,
    grid_heatmap,
    calibration_figure,
    decision_curve_figure,
    radar_figure,
    line_figure,
    lasso_path_figure,
)
from engine.plots.case import gradcam_figure
from engine.plots.export import chromium_path, export_figure, export_session
from engine.plots.style import LAYOUT, PALETTE, step_band
from engine.plots.survival import (
    km_figure,
    survival_curve_figure,
    forest_figure,
    nomogram_figure,
)

__all__ = [
    "LAYOUT",
    "PALETTE",
    "calibration_figure",
    "chromium_path",
    "decision_curve_figure",
    "export_figure",
    "export_session",
    "forest_figure",
    "gradcam_figure",
    "grid_heatmap",
    "km_figure",
    "lasso_path_figure",
    "line_figure",
    "nomogram_figure",
    "pairwise_heatmap",
    "radar_figure",
    "roc_figure",
    "step_band",
    "survival_curve_figure",
]
