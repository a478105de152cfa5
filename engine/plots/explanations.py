"""Figures of SHAP explanations (engine.views.explain): global importance bar, beeswarm, family shares, one patient's
waterfall. Same look as the other figures (engine.plots.LAYOUT)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.errors import ValidationError
from engine.views.explain import FAMILY_NAMES, Explanation, family_shares, importance
from engine.plots.style import LAYOUT, PALETTE

FAMILY_COLOURS = {"clinical": PALETTE[0], "radiomics": PALETTE[1], "deep": PALETTE[2]}


def feature_label(name: str) -> str:
    """A readable feature name: 'arterial_ring5_original_firstorder_Maximum' -> 'arterial ring5 firstorder Maximum'."""
    return name.replace("_original_", "_").replace("_", " ")


def _axis_title(explanation: Explanation) -> str:
    return f"SHAP value ({explanation.scale} of the event)"


def importance_figure(explanation: Explanation, split: str = "train", top: int = 15, title: str = "") -> go.Figure:
    """Mean |SHAP| per feature on a cohort, the ``top`` largest, coloured by family."""
    table = importance(explanation, split).head(top).iloc[::-1]
    figure = go.Figure()
    for family in dict.fromkeys(table["family"]):
        rows = table[table["family"] == family]
        figure.add_trace(
            go.Bar(
                x=rows["mean_abs_shap"],
                y=[feature_label(f) for f in rows["feature"]],
                orientation="h",
                name=FAMILY_NAMES.get(family, family),
                marker_color=FAMILY_COLOURS.get(family, PALETTE[3]),
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, title=title, height=max(320, 28 * len(table) + 120), barmode="stack")
    figure.update_yaxes(categoryorder="array", categoryarray=[feature_label(f) for f in table["feature"]])
    figure.update_xaxes(title=f"mean |SHAP value| ({explanation.scale})")
    return figure


def beeswarm_figure(explanation: Explanation, split: str = "train", top: int = 15, title: str = "") -> go.Figure:
    """One dot per patient and feature: SHAP value (x), feature (y, most important on top, jittered), colour = the
    feature's value ranked within the cohort (blue low, red high), as shap's beeswarm."""
    order = importance(explanation, split).head(top)["feature"].tolist()
    long = explanation.frame(split)
    long = long[long["feature"].isin(order)].copy()
    long["rank"] = long.groupby("feature")["value"].rank(pct=True)
    position = {feature: len(order) - 1 - k for k, feature in enumerate(order)}
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(long))
    figure = go.Figure(
        go.Scattergl(
            x=long["shap"],
            y=long["feature"].map(position) + jitter,
            mode="markers",
            marker=dict(
                size=5,
                color=long["rank"],
                colorscale=[[0, "#1E88E5"], [1, "#FF0D57"]],
                colorbar=dict(title="Feature value", tickvals=[0.02, 0.98], ticktext=["low", "high"], len=0.6),
            ),
            customdata=np.stack([long["patient_id"], long["feature"].map(feature_label), long["value"]], axis=1),
            hovertemplate="%{customdata[0]}<br>%{customdata[1]} = %{customdata[2]:.2f} (standardised)"
            "<br>SHAP %{x:.3f}<extra></extra>",
        )
    )
    figure.add_vline(x=0, line=dict(color="#999999", width=1))
    figure.update_layout(**LAYOUT, title=title, height=max(360, 30 * len(order) + 120), showlegend=False)
    figure.update_yaxes(
        tickvals=list(position.values()), ticktext=[feature_label(f) for f in position], range=[-0.7, len(order) - 0.3]
    )
    figure.update_xaxes(title=_axis_title(explanation))
    return figure


def family_share_figure(explanation: Explanation, split: str = "train", title: str = "") -> go.Figure:
    """Each family's share of the model's contributions (mean |family contribution| over the cohort)."""
    shares = family_shares(explanation, split)
    figure = go.Figure(
        go.Bar(
            x=shares["share"] * 100,
            y=[FAMILY_NAMES.get(f, f) for f in shares["family"]],
            orientation="h",
            marker_color=[FAMILY_COLOURS.get(f, PALETTE[3]) for f in shares["family"]],
            text=[f"{100 * s:.0f}%" for s in shares["share"]],
            textposition="outside",
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
        )
    )
    figure.update_layout(**LAYOUT, title=title, height=110 + 45 * len(shares), showlegend=False)
    figure.update_xaxes(title="Share of the model's contributions (%)", range=[0, 110])
    figure.update_yaxes(autorange="reversed")
    return figure


def waterfall_figure(explanation: Explanation, patient_id: str, top: int = 10, title: str = "") -> go.Figure:
    """One patient: from the base value (average training output) through the ``top`` largest contributions (the
    rest pooled) to the patient's output; the label shows each feature's standardised value."""
    rows = np.flatnonzero(explanation.patient_id == str(patient_id))
    if not len(rows):
        raise ValidationError(f"patient_id {patient_id!r} is not among the explained patients of {explanation.model}.")
    values, data = explanation.values[rows[0]], explanation.data[rows[0]]
    order = np.argsort(-np.abs(values))
    shown, rest = order[:top], order[top:]
    labels = [f"{feature_label(explanation.features[j])} = {data[j]:.2f}" for j in shown]
    steps = list(values[shown])
    if len(rest):
        labels.append(f"{len(rest)} other features")
        steps.append(float(values[rest].sum()))
    output = explanation.base_value + values.sum()
    ends = explanation.base_value + np.cumsum(steps)
    starts = ends - np.asarray(steps)
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=steps,
            base=starts,
            orientation="h",
            marker_color=["#FF0D57" if step > 0 else "#1E88E5" for step in steps],
            text=[f"{step:+.3f}" for step in steps],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    figure.add_vline(
        x=output,
        line=dict(color="#333333", width=1.5),
        annotation_text=f"patient {output:.3f}",
        annotation_position="top left" if output < explanation.base_value else "top right",
    )
    figure.add_vline(
        x=explanation.base_value,
        line=dict(color="#999999", width=1, dash="dot"),
        annotation_text=f"base {explanation.base_value:.3f}",
        annotation_position="top right" if output < explanation.base_value else "top left",
    )
    subtitle = f"base {explanation.base_value:.3f} (average training output) → {output:.3f}"
    if explanation.scale == "log-odds":
        subtitle += f" (probability {1 / (1 + np.exp(-output)):.3f})"
    figure.update_layout(
        **{**LAYOUT, "margin": dict(l=60, r=60, t=90, b=55)},
        title=dict(text=f"{title}<br><sup>{subtitle}</sup>" if title else subtitle),
        height=max(340, 32 * len(steps) + 140),
        showlegend=False,
    )
    figure.update_yaxes(autorange="reversed")
    figure.update_xaxes(title=f"Model output ({explanation.scale} of the event)")
    return figure


def patient_contributions(explanation: Explanation, patient_id: str) -> pd.DataFrame:
    """One patient's contributions as a table: feature, family, value (standardised), SHAP, largest first."""
    rows = explanation.frame()
    rows = rows[rows["patient_id"] == str(patient_id)]
    return rows.drop(columns=["patient_id", "split"]).sort_values("shap", key=np.abs, ascending=False)
