"""The plots' shared look: the Okabe-Ito palette (dashed, then dotted, past its nine colours), the layout, and
the translucent step bands of survival curves."""

from __future__ import annotations


import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

# every figure starts from simple_white: set as plotly's default once, not per figure (update_layout(template=...)
# deep-copies the whole template: 9 ms of a 25 ms ROC figure)
pio.templates.default = "simple_white"

PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000", "#999999"]


# simple_white draws shapes with line width 0 and opacity 0.3: every vline/hline sets both explicitly
LAYOUT = dict(
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
