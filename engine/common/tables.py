"""Tables as papers print them (formatted text cells), shared by the dashboard and the report."""

from __future__ import annotations

import numpy as np
import pandas as pd


def format_p(p: float) -> str:
    if not np.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def format_ratio(ratio: float, low: float, high: float) -> str:
    if not np.isfinite(ratio):
        return "—"
    digits = 3 if 0.95 < low and high < 1.05 else 2  # per-unit ratios of lab values sit close to 1
    return f"{ratio:.{digits}f} ({low:.{digits}f}-{high:.{digits}f})"


def regression_paper_table(univariable: pd.DataFrame, multivariable: pd.DataFrame | None) -> pd.DataFrame:
    """Univariable and multivariable results side by side, one row per term (reference level named):
    Variable, Univariable OR/HR (95% CI), p, Multivariable OR/HR (95% CI), p, Chosen (when the multivariable table says
    which predictors the clinical model kept), Note."""
    measure = univariable["measure"].iloc[0] if len(univariable) else "OR"
    multi = (multivariable if multivariable is not None else pd.DataFrame(columns=univariable.columns)).set_index(
        "term"
    )
    rows = []
    for row in univariable.itertuples():
        reference = str(row.reference) if isinstance(row.reference, str) and row.reference else ""
        label = f"{row.term} (vs {reference})" if reference else str(row.term)
        out = {
            "Variable": label,
            f"Univariable {measure} (95% CI)": format_ratio(row.ratio, row.ci_low, row.ci_high),
            "Univariable p": format_p(row.p_value),
        }
        if row.term in multi.index:
            line = multi.loc[row.term]
            out.update(
                {
                    f"Multivariable {measure} (95% CI)": format_ratio(line["ratio"], line["ci_low"], line["ci_high"]),
                    "Multivariable p": format_p(line["p_value"]),
                }
            )
        else:
            out.update({f"Multivariable {measure} (95% CI)": "", "Multivariable p": ""})
        if "chosen" in multi.columns and multi["chosen"].notna().any():
            kept = row.term in multi.index and multi.loc[row.term, "chosen"] == True  # noqa: E712 (NaN: not chosen)
            out["Chosen"] = "yes" if kept else ""
        out["Note"] = row.note if isinstance(row.note, str) else ""
        rows.append(out)
    return pd.DataFrame(rows)
