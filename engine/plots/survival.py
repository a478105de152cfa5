"""Survival figures: Kaplan-Meier risk groups with numbers at risk, survival curves, forest plots of hazard or
odds ratios, and the nomogram."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


from engine.plots.style import PALETTE, LAYOUT, _colour, step_band


def km_figure(
    curves: pd.DataFrame,
    at_risk: pd.DataFrame | None = None,
    *,
    title: str = "",
    annotation: str = "",
    time_label: str = "Time",
) -> go.Figure:
    """Kaplan-Meier step curves per ``group`` with CI bands, censoring ticks and a numbers-at-risk table."""
    rows = 2 if at_risk is not None else 1
    figure = make_subplots(
        rows=rows,
        cols=1,
        row_heights=[0.78, 0.22][:rows] if rows == 2 else [1],
        shared_xaxes=True,
        vertical_spacing=0.08,
    )
    groups = list(dict.fromkeys(curves["group"]))
    for index, group in enumerate(groups):
        curve = curves[curves["group"] == group]
        colour = _colour(index)
        for trace in step_band(curve, colour):
            figure.add_trace(trace, row=1, col=1)
        figure.add_trace(
            go.Scatter(
                x=curve["time"],
                y=curve["survival"],
                mode="lines",
                line=dict(color=colour, width=2, shape="hv"),
                name=f"{group} risk",
            ),
            row=1,
            col=1,
        )
        censored = curve[curve["censored"] > 0]
        figure.add_trace(
            go.Scatter(
                x=censored["time"],
                y=censored["survival"],
                mode="markers",
                marker=dict(symbol="line-ns-open", color=colour, size=8),
                showlegend=False,
                hoverinfo="skip",
            ),
            row=1,
            col=1,
        )
        if at_risk is not None:
            table = at_risk[at_risk["group"] == group]
            figure.add_trace(
                go.Scatter(
                    x=table["time"],
                    y=[f"{group}"] * len(table),
                    mode="text",
                    text=table["at_risk"].astype(str),
                    textfont=dict(color=colour),
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=2,
                col=1,
            )
    if annotation:
        figure.add_annotation(
            x=0.02,
            y=0.05,
            xref="x domain",
            yref="y domain",
            text=annotation,
            showarrow=False,
            align="left",
            bgcolor="rgba(255,255,255,0.8)",
        )
    figure.update_layout(title=title, width=700, height=600 if rows == 2 else 480, **LAYOUT)
    figure.update_yaxes(range=[0, 1.02], title="Survival probability", row=1, col=1)
    figure.update_xaxes(title=time_label, row=rows, col=1)
    if rows == 2:
        figure.update_yaxes(title="At risk", row=2, col=1)
    return figure


def survival_curve_figure(curve: pd.DataFrame, *, time_label: str = "Time", title: str = "") -> go.Figure:
    """A patient's predicted survival (step function) with its confidence band (time, survival, ci_low, ci_high)."""
    colour = PALETTE[0]
    figure = go.Figure(
        [
            *step_band(curve, colour, alpha=0.2, name="95% CI"),
            go.Scatter(
                x=curve["time"],
                y=curve["survival"],
                mode="lines",
                line=dict(color=colour, width=2.5, shape="hv"),
                name="predicted survival",
                hovertemplate="%{x:g}: %{y:.3f}<extra></extra>",
            ),
        ]
    )
    figure.update_layout(**LAYOUT, title=title, height=380)
    figure.update_xaxes(title=time_label)
    figure.update_yaxes(title="Survival probability", range=[0, 1.02])
    return figure


def forest_figure(
    table: pd.DataFrame, *, estimate: str = "auc", title: str = "Subgroup AUC", x_title: str = "AUC (95% CI)"
) -> go.Figure:
    """Subgroup estimates with CIs (``subgroup``, ``model``, ``auc``, ``ci_low``, ``ci_high``, ``n``)."""
    figure = go.Figure()
    for index, (model, rows) in enumerate(table.groupby("model", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows[estimate],
                y=rows["subgroup"] + "  (n=" + rows["n"].astype(str) + ")",
                mode="markers",
                name=model,
                marker=dict(color=_colour(index), size=9),
                error_x=dict(
                    type="data",
                    symmetric=False,
                    array=rows["ci_high"] - rows[estimate],
                    arrayminus=rows[estimate] - rows["ci_low"],
                ),
            )
        )
    figure.add_vline(x=0.5, line=dict(color="#999", dash="dash", width=1.5), opacity=1)
    figure.update_layout(
        title=title,
        xaxis_title=x_title,
        height=160 + 28 * table["subgroup"].nunique() * max(1, table["model"].nunique() // 2),
        **LAYOUT,
    )
    figure.update_yaxes(autorange="reversed")
    return figure


def _spaced(positions: np.ndarray, gap: float = 4.0) -> np.ndarray:
    """Which ticks (on a 0-100 points scale) keep a label: left to right, each at least ``gap`` after the last kept."""
    shown = np.zeros(len(positions), bool)
    last = -np.inf
    for index in np.argsort(positions, kind="stable"):
        if positions[index] - last >= gap:
            shown[index] = True
            last = positions[index]
    return shown


def nomogram_figure(nomogram: Any, patient: Mapping[str, Any] | None = None) -> go.Figure:
    """Points axis, one axis per predictor, total points and the outcome axes (``engine.stats.Nomogram``). A
    predictor the study log-transformed (log10_<name>) is labelled in its original units. With ``patient`` (values
    per predictor), the patient's value on each axis, the total points and the predicted outcome are marked."""
    from engine.common.transforms import original_name, original_value_text

    figure = go.Figure()
    variables = list(dict.fromkeys(nomogram.axes["variable"]))
    titles = {v: f"{original_name(v)} (log scale)" if original_name(v) else v for v in variables}
    labels = ["Points", *titles.values(), "Total points", *nomogram.outcome_labels]
    y = {label: -index for index, label in enumerate(labels)}
    total_max = float(nomogram.total_axis["total_points"].max())

    def axis(
        label: str, positions: np.ndarray, texts: list[str], scale: float = 1.0, extent: np.ndarray | None = None
    ) -> None:
        x = positions * scale
        ends = (extent if extent is not None else positions) * scale
        figure.add_trace(
            go.Scatter(
                x=[ends.min(), ends.max()],
                y=[y[label]] * 2,
                mode="lines",
                line=dict(color="#333"),
                showlegend=False,
                hoverinfo="skip",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=x,
                y=[y[label]] * len(x),
                mode="markers+text",
                marker=dict(symbol="line-ns-open", size=10, color="#333"),
                text=texts,
                textposition="top center",
                showlegend=False,
                hoverinfo="skip",
            )
        )

    ticks = np.linspace(0, 100, 11)
    axis("Points", ticks, [f"{t:.0f}" for t in ticks])
    for variable in variables:
        rows = nomogram.axes[nomogram.axes["variable"] == variable]
        texts = [
            (original_value_text(v) if original_name(variable) else f"{v:g}")
            if isinstance(v, (int, float, np.floating))
            else str(v)
            for v in rows["value"]
        ]
        positions = rows["points"].to_numpy(float)
        shown = _spaced(
            positions
        )  # ticks too close to the previous labelled one are left out (the axis keeps its length)
        axis(titles[variable], positions[shown], [text for text, show in zip(texts, shown) if show], extent=positions)
    scale_total = 100 / total_max
    totals = np.linspace(0, total_max, 9)
    axis("Total points", totals, [f"{t:.0f}" for t in totals], scale_total)
    for label in nomogram.outcome_labels:
        values = nomogram.total_axis[label].to_numpy(float)
        targets = np.array(
            [v for v in [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95] if values.min() <= v <= values.max()]
        )
        if targets.size == 0:
            continue
        order = np.argsort(values)
        positions = np.interp(targets, values[order], nomogram.total_axis["total_points"].to_numpy(float)[order])
        keep = np.flatnonzero(_spaced(positions * scale_total))
        axis(label, positions[keep], [f"{targets[k]:g}" for k in keep], scale_total)
    if patient is not None:
        scored = nomogram.score(patient)
        marks_x = [scored["points"][v] for v in variables] + [scored["total_points"] * scale_total] * (
            1 + len(nomogram.outcome_labels)
        )
        marks_y = [y[titles[v]] for v in variables] + [y["Total points"]] + [y[o] for o in nomogram.outcome_labels]
        figure.add_trace(
            go.Scatter(
                x=marks_x,
                y=marks_y,
                mode="markers",
                marker=dict(symbol="diamond", size=12, color=PALETTE[1], line=dict(width=1, color="white")),
                name="this patient",
                hovertemplate="%{x:.1f}<extra>this patient</extra>",
            )
        )
        total_x = scored["total_points"] * scale_total
        figure.add_shape(
            type="line",
            x0=total_x,
            x1=total_x,
            y0=y["Total points"],
            y1=min(y.values()),
            line=dict(color=PALETTE[1], width=1.5, dash="dot"),
            opacity=1,
        )
        figure.update_layout(
            showlegend=True, legend=dict(orientation="h", y=1.0, yanchor="bottom", x=1, xanchor="right")
        )
    figure.update_layout(width=820, height=90 + 70 * len(labels), **LAYOUT)
    figure.update_yaxes(tickvals=list(y.values()), ticktext=list(y.keys()), showgrid=False, zeroline=False)
    figure.update_xaxes(visible=False, range=[-5, 108])
    return figure
