"""The cohort flowchart (a paper's Figure 1): patients in the manifest, those excluded with their reasons, the
patients analysed and each cohort's count, from ``engine.views.summary.flowchart``."""

from __future__ import annotations

import plotly.graph_objects as go

BOX = dict(
    bordercolor="#333333",
    borderwidth=1.2,
    borderpad=8,
    bgcolor="white",
    font=dict(size=13, color="#111111"),
    showarrow=False,
)


def cohort_title(split: str) -> str:
    """'train' -> 'Training cohort', 'internal' -> 'Internal validation cohort', 'external_C3' -> 'External cohort
    C3' (engine.report.cohort_words, capitalised)."""
    from engine.common.labels import cohort_words

    words = cohort_words(split)
    return words[:1].upper() + words[1:]


def _arrow(figure: go.Figure, start: tuple[float, float], end: tuple[float, float]) -> None:
    figure.add_annotation(
        x=end[0],
        y=end[1],
        ax=start[0],
        ay=start[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        showarrow=True,
        arrowhead=2,
        arrowsize=1.2,
        arrowwidth=1.3,
        arrowcolor="#333333",
        text="",
    )


def flowchart_figure(flow: dict, title: str = "") -> go.Figure:
    """Boxes and arrows: manifest -> (excluded, with reasons) -> analysed -> one box per cohort."""
    cohorts = flow["cohorts"]
    excluded = flow.get("excluded") or {}
    figure = go.Figure()
    figure.add_annotation(x=0.5, y=0.92, text=f"<b>Patients in the manifest</b><br>n = {flow['manifest']}", **BOX)
    reasons = "".join(f"<br>{reason}: {n}" for reason, n in excluded.items())
    figure.add_annotation(
        x=0.72,
        y=0.66,
        xanchor="left",
        text=f"<b>Excluded</b><br>n = {sum(excluded.values())}{reasons or '<br>(none)'}",
        align="left",
        **BOX,
    )
    figure.add_annotation(x=0.5, y=0.42, text=f"<b>Patients analysed</b><br>n = {flow['analysed']}", **BOX)
    _arrow(figure, (0.5, 0.86), (0.5, 0.48))
    _arrow(figure, (0.5, 0.66), (0.71, 0.66))
    width = 1 / max(len(cohorts), 1)
    for k, (split, n) in enumerate(cohorts.items()):
        x = width * (k + 0.5)
        figure.add_annotation(x=x, y=0.1, text=f"<b>{cohort_title(split)}</b><br>n = {n}", **BOX)
        _arrow(figure, (0.5, 0.36), (x, 0.17))
    figure.update_layout(
        template="simple_white",
        font=dict(family="Arial", size=13),
        title=title,
        height=460,
        margin=dict(l=20, r=20, t=50 if title else 20, b=20),
        showlegend=False,
    )
    figure.update_xaxes(visible=False, range=[0, 1], fixedrange=True)
    figure.update_yaxes(visible=False, range=[0, 1], fixedrange=True)
    return figure
