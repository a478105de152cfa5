"""One plain sentence on what a run (or an uploaded table) is: data, cohorts, endpoints, models, when."""

from __future__ import annotations

from typing import Any

import pandas as pd

from engine.models.reference import is_reference
from engine.common.predictions import ordered_splits, survival_endpoints


def study_sentence(predictions: pd.DataFrame, provenance: dict[str, Any] | None = None, source: str = "") -> str:
    """E.g. "Synthetic HCC early recurrence (demo): 300 patients (train 146, internal 63, external C3 46), CT phases
    arterial, portal and delayed; endpoints: binary label, RFS and OS; 8 models and 2 reference scores; built
    2026-12-02 12:54 UTC." """
    provenance = provenance or {}
    patients = predictions.drop_duplicates("patient_id")
    counts = patients["split"].astype(str).value_counts()
    cohorts = ", ".join(
        f"{split.replace('external_', 'external ')} {counts[split]}" for split in ordered_splits(patients)
    )
    endpoints = (["binary label"] if "label" in predictions else []) + [
        (name or "time-to-event").upper() for name in survival_endpoints(predictions)
    ]
    models = [str(m) for m in pd.unique(predictions["model"])]
    references = [m for m in models if is_reference(m)]
    parts = [f"{len(patients)} patients ({cohorts})"]
    phases = provenance.get("phases") or []
    if phases:
        parts.append("image phases " + _listed(phases))
    parts.append("endpoints: " + (_listed(endpoints) if endpoints else "none"))
    parts.append(
        f"{len(models) - len(references)} model{'s' if len(models) - len(references) != 1 else ''}"
        + (f" and {len(references)} reference score{'s' if len(references) != 1 else ''}" if references else "")
    )
    created = str(provenance.get("created", ""))
    if created:
        parts.append("built " + created[:16].replace("T", " ") + " UTC")
    name = provenance.get("name") or source or "This table"
    return f"{name}: " + "; ".join(parts) + "."


def _listed(items: list[str]) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def flowchart(predictions: pd.DataFrame, provenance: dict[str, Any] | None = None) -> dict[str, Any]:
    """The cohort flowchart's numbers: the run's own (patients in the manifest, excluded per reason, analysed, per
    cohort), or for a table without them (an upload, an older run) the patients of the table and no exclusions."""
    stored = (provenance or {}).get("flowchart")
    if stored:
        return stored
    patients = predictions.drop_duplicates("patient_id")
    counts = patients["split"].astype(str).value_counts()
    return {
        "manifest": int(len(patients)),
        "excluded": {},
        "analysed": int(len(patients)),
        "cohorts": {split: int(counts[split]) for split in ordered_splits(patients)},
    }
