"""Plotly figure builders that take result objects or tidy tables from ``engine.stats``.

One look for the dashboard and for export: white background, journal fonts, colour-blind-safe palette.
``export_figure`` renders the same figure to PNG (300 dpi), SVG or PDF with kaleido and Debian's chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from engine.errors import ValidationError

PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000", "#999999"]
# simple_white draws shapes with line width 0 and opacity 0.3: every vline/hline sets both explicitly
LAYOUT = dict(
    template="simple_white",
    font=dict(family="Arial", size=13),
    legend=dict(bgcolor="rgba(255,255,255,0.8)"),
    margin=dict(l=60, r=20, t=50, b=55),
)


def _colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _dash(index: int) -> str:
    """The line style of the ``index``-th series: solid through the palette, then dashed, then dotted, so that a
    tenth model (e.g. 8 models and 2 reference scores) is not drawn like the first."""
    return ("solid", "dash", "dot")[index // len(PALETTE) % 3]


def _translucent(colour: str, alpha: float = 0.15) -> str:
    """'#RRGGBB' -> 'rgba(r, g, b, alpha)' (a band's fill; trace opacity does not reach fills everywhere)."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def roc_figure(
    curves: Mapping[str, pd.DataFrame],
    labels: Mapping[str, str],
    *,
    points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "",
) -> go.Figure:
    """ROC curves (``fpr``, ``tpr`` per model) with legend labels such as "Rad: AUC 0.81 (0.74-0.88)"."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line=dict(color="#bbbbbb", dash="dash"),
            showlegend=False,
            hoverinfo="skip",
        )
    )
    for index, (name, curve) in enumerate(curves.items()):
        figure.add_trace(
            go.Scatter(
                x=curve["fpr"],
                y=curve["tpr"],
                mode="lines",
                name=labels.get(name, name),
                line=dict(color=_colour(index), dash=_dash(index), width=2, shape="hv"),
            )
        )
        if points and name in points:
            x, y = points[name]
            figure.add_trace(
                go.Scatter(
                    x=[x],
                    y=[y],
                    mode="markers",
                    marker=dict(color=_colour(index), size=11, symbol="circle-open", line=dict(width=3)),
                    showlegend=False,
                    hovertemplate=f"{name}<br>1 - specificity %{{x:.3f}}<br>sensitivity %{{y:.3f}}<extra></extra>",
                )
            )
    figure.update_layout(
        title=title, xaxis_title="1 - Specificity", yaxis_title="Sensitivity", width=620, height=560, **LAYOUT
    )
    figure.update_xaxes(range=[-0.01, 1.01], constrain="domain")
    figure.update_yaxes(range=[-0.01, 1.01], scaleanchor="x", scaleratio=1)
    figure.update_layout(legend=dict(x=0.98, y=0.02, xanchor="right", yanchor="bottom"))
    return figure


def pairwise_heatmap(
    values: pd.DataFrame,
    text: pd.DataFrame,
    *,
    title: str,
    colorbar: str,
    zmin: float | None = None,
    zmax: float | None = None,
    colorscale: str = "RdBu",
) -> go.Figure:
    """A model x model matrix (e.g. AUC differences) annotated with ``text`` (e.g. adjusted p-values)."""
    figure = go.Figure(
        go.Heatmap(
            z=values.to_numpy(float),
            x=list(values.columns),
            y=list(values.index),
            text=text.to_numpy(str),
            texttemplate="%{text}",
            colorscale=colorscale,
            zmid=0 if zmin is None else None,
            zmin=zmin,
            zmax=zmax,
            colorbar=dict(title=colorbar),
        )
    )
    figure.update_layout(title=title, width=640, height=560, **LAYOUT)
    figure.update_yaxes(autorange="reversed")
    return figure


def grid_heatmap(grid: pd.DataFrame, column: str = "internal_auc") -> go.Figure:
    """Models x classifiers heatmap of an AUC column of the run's grid table; the chosen classifier is starred."""
    table = grid.pivot(index="model", columns="classifier", values=column)
    chosen = grid.pivot(index="model", columns="classifier", values="chosen").reindex_like(table).fillna(False)
    text = table.round(3).astype(str) + np.where(chosen.to_numpy(bool), " *", "")
    figure = go.Figure(
        go.Heatmap(
            z=table.to_numpy(float),
            x=list(table.columns),
            y=list(table.index),
            text=text.to_numpy(),
            texttemplate="%{text}",
            colorscale="Viridis",
            zmin=0.5,
            zmax=1.0,
            colorbar=dict(title="AUC"),
        )
    )
    figure.update_layout(
        title=f"{column.replace('_', ' ')} (* = chosen on cross-validation)", height=120 + 40 * len(table), **LAYOUT
    )
    return figure


def calibration_figure(
    curves: Mapping[str, pd.DataFrame],
    predictions: Mapping[str, np.ndarray] | None = None,
    *,
    title: str = "",
    x_title: str = "Predicted probability",
    y_title: str = "Observed proportion",
) -> go.Figure:
    """Observed vs predicted (``predicted``, ``observed``, optional ``ci_low``/``ci_high``) with the ideal line and,
    below, histograms of the predictions."""
    rows = 2 if predictions else 1  # the histogram row only when there are predictions to show
    figure = make_subplots(
        rows=rows, cols=1, row_heights=[0.78, 0.22] if rows == 2 else None, shared_xaxes=True, vertical_spacing=0.04
    )
    figure.add_trace(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(color="#bbbbbb", dash="dash"), name="Ideal"),
        row=1,
        col=1,
    )
    for index, (name, curve) in enumerate(curves.items()):
        error_y = None
        if "ci_low" in curve:
            error_y = dict(
                type="data",
                symmetric=False,
                array=curve["ci_high"] - curve["observed"],
                arrayminus=curve["observed"] - curve["ci_low"],
                thickness=1,
            )
        mode = "lines" if "ci_low" not in curve else "lines+markers"
        figure.add_trace(
            go.Scatter(
                x=curve["predicted"],
                y=curve["observed"],
                mode=mode,
                name=name,
                error_y=error_y,
                line=dict(
                    color=_colour(index),
                    width=2,
                    dash="dot" if "corrected" not in name.lower() and "apparent" in name.lower() else _dash(index),
                ),
            ),
            row=1,
            col=1,
        )
    for index, (name, values) in enumerate((predictions or {}).items()):
        figure.add_trace(
            go.Histogram(
                x=values,
                xbins=dict(start=0, end=1, size=0.02),
                marker_color=_colour(index),
                opacity=0.6,
                showlegend=False,
                name=name,
            ),
            row=2,
            col=1,
        )
    figure.update_layout(title=title, width=620, height=640 if rows == 2 else 540, barmode="overlay", **LAYOUT)
    figure.update_xaxes(range=[0, 1], row=rows, col=1, title=x_title)
    figure.update_yaxes(range=[0, 1], row=1, col=1, title=y_title)
    if rows == 2:
        figure.update_yaxes(title="Count", row=2, col=1)
    return figure


def decision_curve_figure(
    table: pd.DataFrame, *, threshold: float | None = None, y: str = "net_benefit", title: str = ""
) -> go.Figure:
    """Net benefit (or net interventions avoided) over thresholds, treat-all and treat-none included."""
    figure = go.Figure()
    models = [m for m in table["model"].unique() if m not in ("all", "none")]
    styles = {"all": dict(color="#777777", dash="dash"), "none": dict(color="#000000", dash="solid", width=1)}
    for name in ["none", "all", *models] if y == "net_benefit" else models:
        rows = table[table["model"] == name]
        label = {"all": "Treat all", "none": "Treat none"}.get(name, name)
        index = models.index(name) if name in models else 0
        line = styles.get(name, dict(color=_colour(index) if name in models else "#000", dash=_dash(index), width=2))
        figure.add_trace(go.Scatter(x=rows["threshold"], y=rows[y], mode="lines", name=label, line=line))
        if "ci_low" in rows and name in models and y == "net_benefit":
            figure.add_trace(
                go.Scatter(
                    x=np.r_[rows["threshold"], rows["threshold"][::-1]],
                    y=np.r_[rows["ci_high"], rows["ci_low"][::-1]],
                    fill="toself",
                    line=dict(width=0),
                    fillcolor=_translucent(line["color"]),
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    if threshold is not None:
        figure.add_vline(
            x=threshold,
            line=dict(color="#444", dash="dot", width=1.5),
            opacity=1,
            annotation_text=f"threshold {threshold:.2f}",
        )
    top = table.loc[table["model"].isin(models), y].max() if models else 0.5
    figure.update_layout(
        title=title,
        xaxis_title="Threshold probability",
        yaxis_title=y.replace("_", " ").capitalize(),
        width=700,
        height=500,
        **LAYOUT,
    )
    if y == "net_benefit":
        figure.update_yaxes(range=[-0.05, max(float(top), 0.05) * 1.15])
    return figure


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


def step_band(curve: pd.DataFrame, colour: str, *, alpha: float = 0.15, name: str = "") -> list[go.Scatter]:
    """A survival curve's confidence band (``ci_low``, ``ci_high`` over ``time``) as two step traces, the second
    filled to the first; in the legend as ``name`` when given."""
    edge = dict(x=curve["time"], mode="lines", line=dict(width=0, shape="hv"), hoverinfo="skip")
    return [
        go.Scatter(y=curve["ci_high"], showlegend=False, **edge),
        go.Scatter(
            y=curve["ci_low"],
            fill="tonexty",
            fillcolor=_translucent(colour, alpha),
            name=name,
            showlegend=bool(name),
            **edge,
        ),
    ]


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


def radar_figure(table: pd.DataFrame) -> go.Figure:
    """Threshold metrics per model (``model``, ``metric``, ``estimate``) as a radar chart."""
    figure = go.Figure()
    for index, (model, rows) in enumerate(table.groupby("model", sort=False)):
        figure.add_trace(
            go.Scatterpolar(
                r=list(rows["estimate"]) + [rows["estimate"].iloc[0]],
                theta=list(rows["metric"]) + [rows["metric"].iloc[0]],
                name=model,
                line=dict(color=_colour(index), dash=_dash(index)),
            )
        )
    figure.update_layout(polar=dict(radialaxis=dict(range=[0, 1])), width=560, height=480, **LAYOUT)
    return figure


def line_figure(
    table: pd.DataFrame,
    *,
    x: str,
    y: str,
    group: str,
    title: str = "",
    y_title: str = "",
    band: bool = True,
    x_title: str = "",
) -> go.Figure:
    """Lines per ``group`` with optional ``ci_low``/``ci_high`` bands (time-dependent AUC, LASSO path...)."""
    figure = go.Figure()
    for index, (name, rows) in enumerate(table.groupby(group, sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows[x],
                y=rows[y],
                mode="lines+markers",
                name=str(name),
                line=dict(color=_colour(index), dash=_dash(index)),
                error_y=dict(
                    type="data", symmetric=False, array=rows["ci_high"] - rows[y], arrayminus=rows[y] - rows["ci_low"]
                )
                if band and "ci_low" in rows
                else None,
            )
        )
    figure.update_layout(
        title=title, xaxis_title=x_title or x, yaxis_title=y_title or y, width=680, height=460, **LAYOUT
    )
    return figure


def lasso_path_figure(
    path: pd.DataFrame, cv: pd.DataFrame, chosen: float, *, title: str = "", label_top: int = 8
) -> go.Figure:
    """glmnet-style: cross-validated AUC (mean +/- SD) over log(lambda) above, coefficient paths below, the
    chosen penalty marked on both; the ``label_top`` features with the largest coefficients are named."""
    figure = make_subplots(rows=2, cols=1, row_heights=[0.35, 0.65], shared_xaxes=True, vertical_spacing=0.05)
    figure.add_trace(
        go.Scatter(
            x=cv["log_lambda"],
            y=cv["cv_auc"],
            mode="markers",
            name="CV AUC",
            marker=dict(color="#c0392b"),
            error_y=dict(type="data", array=cv["cv_auc_sd"], thickness=1),
        ),
        row=1,
        col=1,
    )
    largest = path.groupby("feature")["coefficient"].apply(lambda c: c.abs().max()).sort_values(ascending=False)
    named = set(largest.index[:label_top])
    for index, (feature, rows) in enumerate(path.groupby("feature", sort=False)):
        figure.add_trace(
            go.Scatter(
                x=rows["log_lambda"],
                y=rows["coefficient"],
                mode="lines",
                name=feature,
                showlegend=feature in named,
                line=dict(color=_colour(index), dash=_dash(index), width=1.5),
            ),
            row=2,
            col=1,
        )
    for row in (1, 2):
        figure.add_vline(x=chosen, line=dict(color="#555555", dash="dash", width=1.5), opacity=1, row=row, col=1)
    figure.update_layout(title=title, width=760, height=760, **LAYOUT)
    figure.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.12, x=0, font=dict(size=10)))
    figure.update_yaxes(title="CV AUC", row=1, col=1)
    figure.update_yaxes(title="Coefficient", row=2, col=1)
    figure.update_xaxes(title="log(lambda)", row=2, col=1)
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


def chromium_path() -> str | None:
    """The browser kaleido drives: BROWSER_PATH, or Debian's chromium."""
    for candidate in (os.environ.get("BROWSER_PATH"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


_EXPORT_LOCK = threading.RLock()


@contextlib.contextmanager
def export_session():
    """Keep one headless browser open for several exports (kaleido's sync server): about 0.2 s a figure instead of
    about 2 s with a browser started per figure."""
    browser = chromium_path()
    if browser is None:
        yield
        return
    os.environ.setdefault("BROWSER_PATH", browser)
    import kaleido

    with _EXPORT_LOCK:  # one server per process: other threads (dashboard sessions) wait rather than stop it mid-export
        kaleido.start_sync_server(silence_warnings=True)
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="The kopts argument is ignored")
                yield
        finally:
            kaleido.stop_sync_server(silence_warnings=True)


def export_figure(figure: go.Figure, fmt: str = "png", *, dpi: int = 300) -> bytes:
    """PNG (at ``dpi``, for the figure's size taken as inches / 96), SVG or PDF bytes of ``figure``."""
    if fmt not in ("png", "svg", "pdf"):
        raise ValidationError(f"fmt must be png, svg or pdf; got {fmt!r}.")
    browser = chromium_path()
    if browser is None:
        raise ValidationError(
            "static figure export needs a Chromium browser for kaleido; none was found. Install it with "
            "`apt-get install -y chromium` (or set BROWSER_PATH), then retry. The interactive figure still works."
        )
    os.environ.setdefault("BROWSER_PATH", browser)
    import kaleido  # noqa: F401 - plotly finds it

    scale = dpi / 96 if fmt == "png" else 1
    with _EXPORT_LOCK:
        try:
            return figure.to_image(format=fmt, scale=scale)
        except Exception as error:  # noqa: BLE001 - kaleido/choreographer failures become one clear message
            raise ValidationError(
                f"static figure export failed: the Chromium at {browser} did not start or stopped "
                f"({type(error).__name__}: {str(error)[:200]}). Check that `{browser} --headless --version` runs, or "
                "reinstall it (`apt-get install -y chromium`). The interactive figure still works."
            ) from None
