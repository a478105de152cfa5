"""Survival models at a horizon: calibration by risk group and the time-to-event decision curve.

Calibration: patients grouped by predicted survival at the horizon; each group's mean prediction against its
Kaplan-Meier estimate (with CI). Decision curve: the time-to-event net benefit of R's ``dcurves::dca`` with a
``Surv`` outcome: among patients whose predicted risk by the horizon is >= p_t, the true-positive rate is
(1 - KM(horizon | treated)) * P(treated) and the false-positive rate KM(horizon | treated) * P(treated).

No extrapolation beyond follow-up (the rule of R's ``dcurves:::.surv_to_risk``): a group whose last observed time,
event or censoring, is before the horizon has no Kaplan-Meier estimate at the horizon; its observed risk is reported
as missing with the reason, never carried forward from the last value. This holds also when that last time is an
event (where the Kaplan-Meier curve has dropped to 0): dcurves returns NA there too, and so do we. An empty group
(nobody at or above a threshold) treats nobody: net benefit 0.

Vickers AJ, Cronin AM, Elkin EB, Gonen M. Extensions to decision curve analysis. BMC Med Inform Decis Mak 2008.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.stats._checks import check_probabilities, check_survival
from engine.stats.calibration import quantile_groups
from engine.stats.decision_curve import RESERVED, _check_thresholds
from engine.stats.survival import kaplan_meier


def _check_horizon(horizon: float, t: np.ndarray) -> float:
    if not (isinstance(horizon, (int, float, np.integer, np.floating)) and 0 < horizon < t.max()):
        raise ValidationError(
            f"horizon must lie within follow-up (0, {t.max():g}); got {horizon!r}. Choose e.g. 12, 36 or 60 months."
        )
    return float(horizon)


def _km_at(t: np.ndarray, e: np.ndarray, horizon: float) -> pd.Series:
    return kaplan_meier(t, e, times=[horizon], extend=True).iloc[0]


def follow_up_note(t: np.ndarray, horizon: float) -> str:
    """Why a group's survival at ``horizon`` is not estimable ('' when it is): its follow-up ends before it."""
    last = float(t.max())
    return (
        "" if last >= horizon else f"follow-up ends at {last:g} < horizon {horizon:g}: not estimable (no extrapolation)"
    )


def survival_calibration(
    time: Any, event: Any, predicted_survival: Any, horizon: float, *, groups: int = 5
) -> pd.DataFrame:
    """Predicted versus Kaplan-Meier observed survival at ``horizon`` in quantile groups of the prediction.

    Columns ``group, n, events, predicted, observed, ci_low, ci_high, note`` (log-log CI of the KM estimate). A
    group whose follow-up ends before the horizon has ``observed`` missing and the reason in ``note``.
    ``attrs["mean_abs_error"]`` is the patient-weighted mean |predicted - observed| over the estimable groups.
    """
    t, e = check_survival(time, event)
    prob = check_probabilities(predicted_survival, "predicted_survival", t.size, outcome_name="time")
    horizon = _check_horizon(horizon, t)
    if not (isinstance(groups, (int, np.integer)) and groups >= 2):
        raise ValidationError(f"groups must be an integer >= 2; got {groups!r}. Use 3 to 5 risk groups.")
    group, _ = quantile_groups(prob, groups)
    rows = []
    for index, g in enumerate(np.unique(group), start=1):
        members = group == g
        row = {
            "group": index,
            "n": int(members.sum()),
            "events": int(e[members].sum()),
            "predicted": float(prob[members].mean()),
            "observed": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "note": follow_up_note(t[members], horizon),
        }
        if not row["note"]:
            km = _km_at(t[members], e[members], horizon)
            row.update(observed=float(km["survival"]), ci_low=float(km["ci_low"]), ci_high=float(km["ci_high"]))
        rows.append(row)
    table = pd.DataFrame(rows)
    known = table["observed"].notna()
    table.attrs["mean_abs_error"] = (
        float(
            np.average(
                np.abs(table.loc[known, "predicted"] - table.loc[known, "observed"]), weights=table.loc[known, "n"]
            )
        )
        if known.any()
        else np.nan
    )
    table.attrs["horizon"] = horizon
    return table


def survival_decision_curve(
    time: Any,
    event: Any,
    risks: Mapping[str, Any],
    horizon: float,
    *,
    thresholds: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Time-to-event net benefit at ``horizon`` of each model's predicted risk of an event by the horizon.

    ``risks`` maps model name -> predicted probability of the event by ``horizon`` (1 - S(horizon | x)).
    Returns ``model, threshold, net_benefit, net_interventions_avoided, treated, note`` with "all" and "none";
    where the test-positive group's follow-up ends before the horizon the net benefit is missing (``note``).
    R: ``dcurves::dca(Surv(time, event) ~ risk, time = horizon)``.
    """
    t, e = check_survival(time, event)
    horizon = _check_horizon(horizon, t)
    if not isinstance(risks, Mapping) or not risks:
        raise ValidationError("risks must map model names to predicted risks by the horizon, e.g. {'Rad': risk}.")
    models = {str(k): check_probabilities(v, f"risks[{k!r}]", t.size, outcome_name="time") for k, v in risks.items()}
    if any(name in RESERVED for name in models):
        raise ValidationError("risks must not use the reserved strategy names 'all'/'none'. Rename the model.")
    grid = _check_thresholds(thresholds)
    odds = grid / (1 - grid)
    event_rate = 1 - float(_km_at(t, e, horizon)["survival"])
    nb_all = event_rate - (1 - event_rate) * odds
    frames = [
        pd.DataFrame({"model": "all", "threshold": grid, "net_benefit": nb_all, "treated": 1.0}),
        pd.DataFrame({"model": "none", "threshold": grid, "net_benefit": 0.0, "treated": 0.0}),
    ]
    for name, risk in models.items():
        nb, treated_share, notes = np.zeros(grid.size), np.zeros(grid.size), [""] * grid.size
        for k, threshold in enumerate(grid):
            treated = risk >= threshold
            share = treated.mean()
            if share == 0:
                continue
            treated_share[k] = share
            notes[k] = follow_up_note(t[treated], horizon)
            if notes[k]:
                nb[k] = np.nan
                continue
            risk_treated = 1 - float(_km_at(t[treated], e[treated], horizon)["survival"])
            nb[k] = risk_treated * share - (1 - risk_treated) * share * odds[k]
        frames.append(
            pd.DataFrame({"model": name, "threshold": grid, "net_benefit": nb, "treated": treated_share, "note": notes})
        )
    table = pd.concat(frames, ignore_index=True)
    table["note"] = table["note"].fillna("")
    all_by_threshold = dict(zip(grid, nb_all))
    reference = table["threshold"].map(all_by_threshold)
    positive = table["threshold"] > 0
    table["net_interventions_avoided"] = np.nan
    table.loc[positive, "net_interventions_avoided"] = (table.loc[positive, "net_benefit"] - reference[positive]) / (
        table.loc[positive, "threshold"] / (1 - table.loc[positive, "threshold"])
    )
    return table
