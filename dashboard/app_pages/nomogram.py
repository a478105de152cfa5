import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, probability_models, require_study, show_table
from engine import plots
from engine.views.case import default_nomogram_terms
from engine.errors import ValidationError
from engine.common.transforms import log_value, original_name
from engine.common.predictions import filterable_columns
from engine.stats.nomogram import patient_points

study = require_study()
st.title("Nomogram")
if "train" not in study.splits:
    st.info("A nomogram is fitted on the training cohort; this table has none.")
    st.stop()
columns = [c for c in filterable_columns(study.predictions) if c not in ("split", "center")]
default_predictors, default_scores = default_nomogram_terms(columns, study.models)
predictors = st.multiselect("Clinical predictors", columns, default=default_predictors, key="nomogram_predictors")
scores = st.multiselect(
    "Model scores (logit of the probability)",
    probability_models(study),
    default=default_scores,
    key="nomogram_scores",
)
kinds = (["binary"] if study.has_binary else []) + [f"survival:{e}" for e in study.endpoints]
kind = st.radio("Outcome", kinds, horizontal=True, key="nomogram_kind")
endpoint = kind.split(":", 1)[1] if kind.startswith("survival:") else None
horizons = ()
if endpoint is not None:
    default = ", ".join(f"{h:g}" for h in study.horizons[:2]) or "12, 36"
    text = st.text_input(f"Horizons ({study.time_unit or 'time units'})", default, key="nomogram_horizons")
    horizons = tuple(float(v) for v in text.split(",") if v.strip())
try:
    model, nomogram, data = cached.nomogram(
        study.predictions, tuple(predictors), tuple(scores), endpoint, horizons, study.time_unit
    )
except ValidationError as error:
    st.error(str(error))
    st.stop()


@st.fragment
def calculator() -> None:
    """The nomogram with the entered patient marked, its model table and the calculator: entering a value reruns only
    this part (the model is not refitted)."""
    figure_slot = st.container()
    show_table(model.summary_)
    st.subheader("Calculator")
    st.caption(
        "Enter a patient: the nomogram above marks the patient's points, the total and the prediction. Predictors the "
        "study log-transformed are entered in their original units."
    )
    patient = {}
    cols = st.columns(3)
    for index, term in enumerate(nomogram.terms):
        with cols[index % 3]:
            if term.kind == "categorical":
                patient[term.variable] = st.selectbox(term.variable, term.levels, key=f"nomogram_in_{term.variable}")
                continue
            values = data[term.variable]
            original = original_name(term.variable)
            if original:
                entered = st.number_input(
                    f"{original} (original units)",
                    min_value=1e-6,
                    value=float(f"{10 ** values.median():.3g}"),
                    key=f"nomogram_in_{term.variable}",
                )
                patient[term.variable] = log_value(entered)
            else:
                patient[term.variable] = st.number_input(
                    term.variable, value=float(values.median()), key=f"nomogram_in_{term.variable}"
                )
    scored = nomogram.score(patient)
    interval = nomogram.interval(patient)
    metrics = st.columns(1 + len(interval))
    metrics[0].metric("Total points", f"{scored['total_points']:.1f}")
    for column, row in zip(metrics[1:], interval.itertuples(index=False)):
        column.metric(row.outcome[:1].upper() + row.outcome[1:], f"{row.estimate:.3f}")
        column.caption(f"95% CI {row.ci_low:.3f} to {row.ci_high:.3f}")
    points = patient_points(nomogram, patient)
    show_table(points)
    with figure_slot:
        figure = plots.nomogram_figure(nomogram, patient)
        st.plotly_chart(figure, width="stretch")
        download_figure(figure, "nomogram", "nomogram_figure")
    if endpoint is not None:
        curve = nomogram.survival_curve(patient)
        figure = plots.survival_curve_figure(
            curve, time_label=study.time_label(), title=f"Predicted {endpoint.upper()} of this patient (Cox model)"
        )
        st.plotly_chart(figure, width="stretch")
        st.caption(
            "The patient's survival S(t | x) = S0(t)^exp(x'b) with its 95% band (log type, as R's survfit for a Cox "
            "model: the baseline hazard's and the coefficients' uncertainty)."
        )
        download_figure(figure, f"survival_curve_{endpoint}", "nomogram_survival_curve")


calculator()
