"""Figures of one patient (engine.views.case): each phase's slice with the tumour and ring contours, the Grad-CAM on the
network's crop, a radiomics voxel map, the probabilities against the training cutoffs, and all of them as one
"typical case" figure for export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.plots.style import LAYOUT, PALETTE

WINDOW = (-100.0, 250.0)  # HU: the liver window, as the deep crops use
TUMOUR_COLOUR, RING_COLOURS = "#FF3B30", ["#FFD60A", "#32D74B", "#64D2FF"]
WARM = [[0.0, "rgba(255, 0, 0, 0)"], [0.3, "rgba(255, 160, 0, 0.15)"], [1.0, "rgba(255, 0, 0, 0.65)"]]


def _contour(mask: np.ndarray, colour: str, name: str, legend: bool) -> go.Contour:
    return go.Contour(
        z=mask.astype(float),
        contours=dict(start=0.5, end=0.5, size=1, coloring="none"),
        line=dict(color=colour, width=2),
        showscale=False,
        hoverinfo="skip",
        name=name,
        showlegend=legend,
    )


def _slice_traces(case_slice, window=WINDOW, legend: bool = True) -> list[go.BaseTraceType]:
    traces = [
        go.Heatmap(
            z=np.clip(case_slice.image, *window),
            colorscale="gray",
            zmin=window[0],
            zmax=window[1],
            showscale=False,
            hovertemplate="row %{y}, column %{x}: %{z:.0f}<extra></extra>",
        ),
        _contour(case_slice.tumour, TUMOUR_COLOUR, "tumour", legend),
    ]
    for k, (name, ring) in enumerate(case_slice.rings.items()):
        traces.append(_contour(ring | case_slice.tumour, RING_COLOURS[k % 3], f"{name} (outer edge)", legend))
    return traces


def _image_axes(figure: go.Figure) -> None:
    """Hidden axes, rows downwards, square pixels (an image panel)."""
    figure.update_xaxes(visible=False, constrain="domain")
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")


def slice_figure(case_slice, title: str = "", window=WINDOW) -> go.Figure:
    """One phase's slice (liver window) with the tumour contour (red) and each ring's outer edge."""
    figure = go.Figure(_slice_traces(case_slice, window))
    figure.update_layout(
        title=dict(text=title or f"{case_slice.phase}, slice {case_slice.index + 1}", font=dict(size=13)),
        height=360,
        margin=dict(l=5, r=5, t=40, b=5),
        legend=dict(orientation="h", y=-0.02, font=dict(size=11)),
        plot_bgcolor="white",
    )
    _image_axes(figure)
    return figure


def voxel_map_figure(plane: np.ndarray, values: np.ndarray, feature: str, window=WINDOW) -> go.Figure:
    """The feature's voxel map over the tumour neighbourhood (viridis, semi-transparent) on the image crop."""
    figure = go.Figure(
        [
            go.Heatmap(z=np.clip(plane, *window), colorscale="gray", zmin=window[0], zmax=window[1], showscale=False),
            go.Heatmap(
                z=values,
                colorscale="Viridis",
                opacity=0.75,
                colorbar=dict(title=dict(text=feature.split("_")[-1], side="right"), len=0.8),
                hovertemplate="%{z:.3g}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(
        title=dict(text=f"Voxel map: {feature.replace('_original_', ' ').replace('_', ' ')}", font=dict(size=13)),
        height=360,
        margin=dict(l=5, r=5, t=40, b=5),
    )
    _image_axes(figure)
    return figure


def probability_figure(predictions: pd.DataFrame, title: str = "") -> go.Figure:
    """The patient's probability per model (bar) and the model's training cutoff (black tick); raw scores
    (reference staging systems) are left out: they are not on the probability scale."""
    table = predictions[predictions.get("scale", "probability") == "probability"].iloc[::-1]
    colours = [PALETTE[1] if p == "high risk" else PALETTE[0] for p in table["prediction"]]
    figure = go.Figure(
        go.Bar(
            x=table["prob"],
            y=table["model"],
            orientation="h",
            marker_color=colours,
            text=[f"{p:.3f}" for p in table["prob"]],
            textposition="outside",
            cliponaxis=False,
            name="probability",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    known = table.dropna(subset=["cutoff"])
    figure.add_trace(
        go.Scatter(
            x=known["cutoff"],
            y=known["model"],
            mode="markers",
            marker=dict(symbol="line-ns-open", size=22, color="black", line=dict(width=3, color="black")),
            name="training cutoff",
            hovertemplate="cutoff %{x:.3f}<extra></extra>",
        )
    )
    figure.update_layout(**LAYOUT, title=title, height=120 + 34 * len(table))
    figure.update_layout(legend=dict(orientation="h", y=-0.25))
    figure.update_xaxes(
        title="Probability of the event (orange: at or above the training cutoff, blue: below)", range=[0, 1.08]
    )
    return figure


def _short(feature: str) -> str:
    """'delayed_tumour_original_firstorder_Minimum' -> 'Minimum (delayed, firstorder)'."""
    parts = feature.split("_")
    return f"{parts[-1]} ({parts[0]}, {parts[-2]})" if len(parts) >= 4 else feature


def case_figure(
    slices: list,
    predictions: pd.DataFrame,
    *,
    gradcam: tuple[np.ndarray, np.ndarray] | None = None,
    voxel: tuple[np.ndarray, np.ndarray, str] | None = None,
    title: str = "",
) -> go.Figure:
    """The "typical case" figure: phases (with contours), Grad-CAM and voxel map in the top row, the
    probabilities against the training cutoffs below."""
    panels = [f"{s.phase}, slice {s.index + 1}" for s in slices]
    panels += ["Grad-CAM (network input crop)"] if gradcam is not None else []
    panels += [f"Voxel map: {_short(voxel[2])}"] if voxel is not None else []
    columns = len(panels)
    if not columns:  # no images (an upload): the predictions alone
        return probability_figure(predictions, title=title)
    figure = make_subplots(
        rows=2,
        cols=columns,
        specs=[[{}] * columns, [{"colspan": columns}] + [None] * (columns - 1)],
        subplot_titles=[*panels, "Probability against each model's training cutoff"],
        row_heights=[0.55, 0.45],
        vertical_spacing=0.12,
        horizontal_spacing=0.02,
    )
    for k, case_slice in enumerate(slices):
        for trace in _slice_traces(case_slice, legend=k == 0):
            figure.add_trace(trace, row=1, col=k + 1)
    column = len(slices)
    if gradcam is not None:
        column += 1
        crop, heatmap = gradcam
        figure.add_trace(go.Heatmap(z=crop[0], colorscale="gray", showscale=False), row=1, col=column)
        figure.add_trace(go.Heatmap(z=heatmap, colorscale=WARM, zmin=0, zmax=1, showscale=False), row=1, col=column)
    if voxel is not None:
        column += 1
        plane, values, _ = voxel
        figure.add_trace(go.Heatmap(z=np.clip(plane, *WINDOW), colorscale="gray", showscale=False), row=1, col=column)
        figure.add_trace(
            go.Heatmap(z=values, colorscale="Viridis", opacity=0.75, colorbar=dict(len=0.4, y=0.8, x=1.0)),
            row=1,
            col=column,
        )
    for trace in probability_figure(predictions).data:
        figure.add_trace(trace.update(showlegend=False), row=2, col=1)
    for k in range(1, columns + 1):
        figure.update_xaxes(visible=False, row=1, col=k)
        figure.update_yaxes(visible=False, autorange="reversed", scaleanchor=f"x{k if k > 1 else ''}", row=1, col=k)
    figure.update_xaxes(title="Probability of the event", range=[0, 1.08], row=2, col=1)
    figure.update_layout(
        template="simple_white",
        font=dict(family="Arial", size=12),
        title=title,
        width=300 * columns + 80,
        height=340 + 30 * len(figure.data[-1].y if len(figure.data) else []) + 250,
        margin=dict(l=140, r=40, t=80, b=50),
        legend=dict(orientation="h", y=0.47, yanchor="middle", x=0.5, xanchor="center"),
    )
    return figure


def gradcam_figure(crop: np.ndarray, heatmap: np.ndarray, title: str = "") -> go.Figure:
    """A crop (first channel, grey) with its Grad-CAM map overlaid: transparent where the map is 0, red where 1."""
    figure = go.Figure()
    figure.add_trace(
        go.Heatmap(z=crop[0] if crop.ndim == 3 else crop, colorscale="gray", showscale=False, hoverinfo="skip")
    )
    warm = [[0.0, "rgba(255, 0, 0, 0)"], [0.3, "rgba(255, 160, 0, 0.15)"], [1.0, "rgba(255, 0, 0, 0.65)"]]
    figure.add_trace(go.Heatmap(z=heatmap, colorscale=warm, showscale=False, zmin=0, zmax=1, hoverinfo="skip"))
    figure.update_layout(
        title=dict(text=title, font=dict(size=11)), width=240, height=260, margin=dict(l=5, r=5, t=30, b=5)
    )
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False, autorange="reversed", scaleanchor="x")
    return figure
