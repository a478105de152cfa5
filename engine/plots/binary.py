"""Figures comparing binary models: ROC curves, pairwise DeLong heatmaps, the grid's heatmap, calibration and
decision curves, radar and metric lines, and the LASSO path."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots


from engine.plots.style import LAYOUT, _colour, _dash, _translucent


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
