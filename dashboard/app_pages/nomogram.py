import streamlit as st

from dashboard import cached
from dashboard.state import download_figure, probability_models, require_study, show_table
from engine import plots
from engine.errors import ValidationError
from engine.predictions import filterable_columns

study = require_study()
st.title("Nomogram")
if "train" not in study.splits:
    st.info("A nomogram is fitted on the training cohort; this table has none.")
    st.stop()
columns = [c for c in filterable_columns(study.predictions) if c not in ("split", "center")]
predictors = st.multiselect(
    "Clinical predictors",
    columns,
    default=[c for c in ("cirrhosis", "tumour_number") if c in columns],
    key="nomogram_predictors",
)
scores = st.multiselect(
    "Model scores (logit of the probability)",
    probability_models(study),
    default=[m for m in ("Rad", "DL") if m in study.models][:2],
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
figure = plots.nomogram_figure(nomogram)
st.plotly_chart(figure, width="stretch")
download_figure(figure, "nomogram", "nomogram_figure")
show_table(model.summary_)
st.subheader("Calculator")
patient = {}
cols = st.columns(3)
for index, term in enumerate(nomogram.terms):
    with cols[index % 3]:
        if term.kind == "categorical":
            patient[term.variable] = st.selectbox(term.variable, term.levels, key=f"nomogram_in_{term.variable}")
        else:
            values = data[term.variable]
            patient[term.variable] = st.number_input(
                term.variable, value=float(values.median()), key=f"nomogram_in_{term.variable}"
            )
scored = nomogram.score(patient)
st.write(
    {
        "points": {k: round(v, 1) for k, v in scored["points"].items()},
        "total points": round(scored["total_points"], 1),
        **{k: round(v, 3) for k, v in scored.items() if k not in ("points", "total_points")},
    }
)
