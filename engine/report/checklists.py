"""Reporting checklists at the end of the report: CLEAR (Kocak et al., Insights Imaging 2023; 58 items), METRICS
(Kocak et al., Insights Imaging 2024; 30 items) and TRIPOD+AI (Collins et al., BMJ 2024; 27 items with their
sub-items). The official item numbers are kept exactly; each item's topic is a short paraphrase (read the
official checklist for its full wording). Items the run can answer are filled in from it (config, provenance and
predictions); the rest are marked for the author."""

from __future__ import annotations

from typing import Any

import pandas as pd

AUTHOR = "For the author"

CLEAR = [
    ("1", "Title names radiomics and its methodology"),
    ("2", "Structured abstract"),
    ("3", "Keywords"),
    ("4", "Scientific or clinical background"),
    ("5", "Rationale for a radiomic approach"),
    ("6", "Study objectives"),
    ("7", "Adherence to guidelines or checklists"),
    ("8", "Ethics (approval, consent, data protection)"),
    ("9", "Sample size calculation"),
    ("10", "Study nature (retrospective, prospective)"),
    ("11", "Eligibility criteria"),
    ("12", "Flowchart of the technical pipeline"),
    ("13", "Data source"),
    ("14", "Data overlap"),
    ("15", "Data split methodology"),
    ("16", "Imaging protocol"),
    ("17", "Non-radiomic predictor variables"),
    ("18", "Segmentation"),
    ("19", "Segmentation strategy"),
    ("20", "Operators performing segmentation"),
    ("21", "Image pre-processing"),
    ("22", "Resampling method and parameters"),
    ("23", "Discretisation method and parameters"),
    ("24", "Feature extraction software"),
    ("25", "Feature extraction method"),
    ("26", "Feature classes"),
    ("27", "Number of features"),
    ("28", "Default configuration statement"),
    ("29", "Handling of missing data"),
    ("30", "Class imbalance"),
    ("31", "Segmentation reliability analysis"),
    ("32", "Feature scaling"),
    ("33", "Dimension reduction"),
    ("34", "Algorithms"),
    ("35", "Training and tuning"),
    ("36", "Handling of confounders"),
    ("37", "Model selection strategy"),
    ("38", "Testing technique (internal, external)"),
    ("39", "Performance metrics and their rationale"),
    ("40", "Uncertainty evaluation"),
    ("41", "Statistical comparison of performance"),
    ("42", "Comparison with non-radiomic and combined methods"),
    ("43", "Interpretability and explainability"),
    ("44", "Baseline demographic and clinical characteristics"),
    ("45", "Flowchart of eligibility"),
    ("46", "Feature statistics (reproducibility, selection)"),
    ("47", "Model performance"),
    ("48", "Comparison with non-radiomic and combined approaches"),
    ("49", "Overview of important findings"),
    ("50", "Previous works and differences"),
    ("51", "Practical implications"),
    ("52", "Strengths and limitations"),
    ("53", "Sharing images with segmentations (recommended)"),
    ("54", "Sharing radiomic feature data"),
    ("55", "Sharing pre-processing scripts or settings"),
    ("56", "Sharing modelling source code"),
    ("57", "Sharing final model files"),
    ("58", "Sharing a ready-to-use system (recommended)"),
]

METRICS = [
    ("1", "Adherence to radiomics or machine-learning checklists"),
    ("2", "Eligibility criteria describing a representative population"),
    ("3", "High-quality, clearly defined reference standard"),
    ("4", "Multi-centre data"),
    ("5", "Clinical translatability of the imaging data source"),
    ("6", "Imaging protocol with acquisition parameters"),
    ("7", "Interval between imaging and reference standard"),
    ("8", "Transparent segmentation methodology"),
    ("9", "Formal evaluation of fully automated segmentation"),
    ("10", "Test-set masks by a single reader or automated tool"),
    ("11", "Appropriate, described image pre-processing"),
    ("12", "Standardised feature extraction software"),
    ("13", "Extraction parameters reported (or a default statement)"),
    ("14", "Removal of non-robust features"),
    ("15", "Removal of redundant features"),
    ("16", "Dimensionality appropriate to the data size"),
    ("17", "Robustness of end-to-end deep learning pipelines"),
    ("18", "Proper data partitioning"),
    ("19", "Handling of confounding factors"),
    ("20", "Performance metrics appropriate to the task"),
    ("21", "Consideration of uncertainty"),
    ("22", "Calibration assessment"),
    ("23", "Uni-parametric imaging or proof of its inferiority"),
    ("24", "Comparison with a non-radiomic approach or added clinical value"),
    ("25", "Comparison with simple or classical statistical models"),
    ("26", "Internal testing"),
    ("27", "External testing"),
    ("28", "Data availability"),
    ("29", "Code availability"),
    ("30", "Model availability"),
]

TRIPOD_AI = [
    ("1", "Title"),
    ("2", "Abstract"),
    ("3a", "Background: healthcare context, rationale, existing models"),
    ("3b", "Background: target population, place in the care pathway, intended users"),
    ("3c", "Background: known health inequalities"),
    ("4", "Objectives (development, evaluation or both)"),
    ("5a", "Data: sources"),
    ("5b", "Data: dates of accrual and follow-up"),
    ("6a", "Participants: setting, number and location of centres"),
    ("6b", "Participants: eligibility criteria"),
    ("6c", "Participants: treatments received"),
    ("7", "Data preparation: pre-processing and quality checks"),
    ("8a", "Outcome: definition, how and when assessed"),
    ("8b", "Outcome: assessors' qualifications"),
    ("8c", "Outcome: blinding of assessment"),
    ("9a", "Predictors: choice of the initial predictors"),
    ("9b", "Predictors: definition, how and when measured"),
    ("9c", "Predictors: assessors' qualifications"),
    ("10", "Sample size"),
    ("11", "Missing data"),
    ("12a", "Analysis: how the data were used (partitioning)"),
    ("12b", "Analysis: handling of predictors (form, transformation, scaling)"),
    ("12c", "Analysis: model type, building steps, tuning, internal validation"),
    ("12d", "Analysis: heterogeneity across clusters (e.g. centres)"),
    ("12e", "Analysis: performance measures and their rationale"),
    ("12f", "Analysis: model updating"),
    ("12g", "Analysis: how predictions were calculated in evaluation"),
    ("13", "Class imbalance"),
    ("14", "Fairness"),
    ("15", "Model output and thresholds"),
    ("16", "Differences between training and evaluation data"),
    ("17", "Ethical approval"),
    ("18a", "Open science: funding"),
    ("18b", "Open science: conflicts of interest"),
    ("18c", "Open science: protocol"),
    ("18d", "Open science: registration"),
    ("18e", "Open science: data sharing"),
    ("18f", "Open science: code sharing"),
    ("19", "Patient and public involvement"),
    ("20a", "Participants: flow, with and without the outcome, follow-up"),
    ("20b", "Participants: characteristics, predictors, missing data"),
    ("20c", "Participants: development compared with evaluation data"),
    ("21", "Model development: participants and events per analysis"),
    ("22", "Model specification"),
    ("23a", "Model performance with confidence intervals"),
    ("23b", "Heterogeneity of performance across clusters"),
    ("24", "Model updating results"),
    ("25", "Interpretation"),
    ("26", "Limitations"),
    ("27a", "Usability: handling of poor-quality or missing input"),
    ("27b", "Usability: user interaction and expertise needed"),
    ("27c", "Usability: future research and generalisability"),
]

CHECKLISTS = {"CLEAR": CLEAR, "METRICS": METRICS, "TRIPOD+AI": TRIPOD_AI}


def run_facts(config: dict[str, Any], provenance: dict[str, Any], predictions: pd.DataFrame) -> dict[str, str]:
    """What the run can say, as short sentences that point at the report's own tables and figures."""
    from engine.features.preprocess import preprocessing_text
    from engine.common.predictions import ordered_splits
    from engine.report.methods import clinical_selection_text, harmonization_text, selection_text, tuning_text

    cohort, grid = config.get("cohort") or {}, config.get("grid") or {}
    radiomics, deep = config.get("radiomics") or {}, config.get("deep") or {}
    packages = provenance.get("packages") or {}
    imaging = bool(cohort.get("manifest"))
    splits = ordered_splits(predictions)
    external = [s for s in splits if s.startswith("external")]
    flow = provenance.get("flowchart") or {}
    excluded = flow.get("excluded") or {}
    patients = predictions.drop_duplicates("patient_id")
    families = provenance.get("families") or {}
    models = [m for m in dict.fromkeys(predictions["model"]) if not str(m).endswith("(reference)")]
    references = [m for m in dict.fromkeys(predictions["model"]) if str(m).endswith("(reference)")]
    params = _extraction_params(radiomics) if imaging and radiomics.get("enabled", True) else {}
    settings = params.get("setting", {})
    facts = {
        "eligibility": (
            f"{flow.get('manifest', len(patients))} patients listed; excluded: "
            + (", ".join(f"{reason} {n}" for reason, n in excluded.items()) or "none")
            + " (Figure 1). Inclusion criteria: for the author."
        ),
        "flowchart": "Figure 1 (cohort flowchart).",
        "split": (
            f"Training/internal validation split {int(100 * cohort.get('train_fraction', 0.7))}:"
            f"{100 - int(100 * cohort.get('train_fraction', 0.7))} stratified by outcome (seed {config.get('seed', 0)})"
            + (f"; external cohorts by centre: {', '.join(external)}" if external else "")
            + ". Nothing learned on a validation cohort."
        ),
        "centres": (
            f"{patients['center'].nunique()} centres ({', '.join(map(str, sorted(patients['center'].unique())))})"
            if "center" in patients
            else AUTHOR
        ),
        "clinical": ", ".join(provenance.get("clinical") or []) or "none",
        "clinical_choice": clinical_selection_text(grid.get("clinical_selection") or {}) or AUTHOR,
        "preprocessing": preprocessing_text(radiomics.get("preprocessing") or {}, settings) if imaging else "",
        "resampling": (
            f"resampledPixelSpacing {settings['resampledPixelSpacing']}, {settings.get('interpolator', 'sitkBSpline')}"
            if settings.get("resampledPixelSpacing")
            else "no resampling of the voxel grid (phases put on the first phase's grid where they differ)"
        ),
        "discretisation": (
            f"fixed bin width {settings['binWidth']}"
            if "binWidth" in settings
            else (f"fixed bin count {settings['binCount']}" if "binCount" in settings else "PyRadiomics default")
        ),
        "software": f"PyRadiomics {packages.get('pyradiomics', '')}; MONAI {packages.get('monai', '')}, PyTorch "
        f"{packages.get('torch', '')}; scikit-learn {packages.get('scikit-learn', '')}; engine "
        f"{provenance.get('engine', '')}.",
        "extraction": (
            "Handcrafted radiomics (PyRadiomics)"
            + (f" and deep features ({deep.get('backbone')} penultimate layer)" if deep.get("enabled", True) else "")
            + f" from the tumour and rings {list((radiomics.get('rings_mm') or {}))} on phases "
            f"{', '.join(provenance.get('phases') or [])}."
        ),
        "classes": ", ".join(params.get("featureClass") or {}) + f"; image types {list(params.get('imageType') or {})}",
        "n_features": ", ".join(f"{family} {n}" for family, n in families.items()),
        "default_config": f"Parameter preset '{radiomics.get('preset')}'; every other setting at PyRadiomics' default.",
        "missing": "Median (numeric) and most frequent (categorical) imputation learned on each training fold.",
        "imbalance": (
            "Event rate per cohort in the cohort table; "
            + ("SMOTE inside the training folds." if grid.get("smote") else "no resampling (AUC-based tuning).")
        ),
        "reliability": (
            f"ICC >= {radiomics['icc_threshold']} between two readers' segmentations kept."
            if radiomics.get("icc_threshold") is not None
            else "No second-reader segmentations (not done)."
        ),
        "scaling": "Standardisation (mean 0, SD 1) learned on each training fold.",
        "reduction": selection_text(grid.get("selection") or {}),
        "algorithms": f"Classifiers {', '.join(grid.get('classifiers') or [])} over the models {', '.join(models)}.",
        "tuning": tuning_text(grid),
        "confounders": harmonization_text(grid.get("harmonization") or {}) or AUTHOR,
        "model_selection": "Per model, the classifier with the best cross-validated AUC on the training cohort.",
        "testing": f"Internal validation cohort and {len(external)} external cohort(s), each reported on its own.",
        "metrics": (
            "AUC (DeLong CI), sensitivity, specificity, PPV, NPV at each model's training cutoff (Wilson CIs); "
            "calibration (curves, intercept, slope, Hosmer-Lemeshow); decision curves; C-index and time-dependent AUC "
            "for time-to-event endpoints."
        ),
        "uncertainty": "95% confidence intervals for every estimate (DeLong, Wilson, bootstrap).",
        "comparison": "Paired DeLong tests, Holm-adjusted, every model against the best and the clinical model.",
        "non_radiomic": (
            f"Clinical model{' and reference scores ' + ', '.join(references) if references else ''}; fusions "
            f"{', '.join(m for m in models if '+' in m or m == 'Combined')}."
            if "Clinical" in models or references
            else AUTHOR
        ),
        "explain": "SHAP explanations of every model (Explanations page) and a case viewer with Grad-CAM.",
        "baseline": "Table of patient characteristics by cohort (Table 1) with tests across cohorts.",
        "performance": "Discrimination and performance tables per cohort; ROC, calibration and decision curves.",
        "features_shared": "The run stores the feature table (features.parquet); sharing it: for the author.",
        "settings_shared": "The run stores its full configuration (config.json); sharing it: for the author.",
        "code_shared": f"Open-source engine {provenance.get('engine', '')}; sharing study code: for the author.",
        "model_shared": "The run stores every fitted pipeline (pipelines/*.skops); sharing them: for the author.",
        "outcome": (
            ("Binary endpoint (label)" if "label" in predictions else "No binary endpoint")
            + (
                f"; time-to-event endpoints {', '.join(provenance['survival_endpoints'])}"
                if provenance.get("survival_endpoints")
                else ""
            )
            + ". Definition and assessment: for the author."
        ),
        "predictor_handling": (
            f"log10 of {', '.join(cohort.get('log_transform') or [])}; " if cohort.get("log_transform") else ""
        )
        + "standardisation and one-hot encoding learned on training folds.",
        "heterogeneity": f"Each external centre reported as its own cohort ({', '.join(external) or 'none'}).",
        "updating": "No model updating (validation cohorts only scored).",
        "predictions": "Frozen pipelines of the training fit applied unchanged (python -m engine predict).",
        "output": "Event probabilities; each model's cutoff learned on its out-of-fold training predictions.",
        "differences": "Table 1 by cohort compares the cohorts' characteristics (with tests).",
        "counts": "Patients and events per cohort (cohort table).",
    }
    if not config:  # an uploaded predictions table: the models were developed elsewhere
        for key in (
            "split",
            "algorithms",
            "tuning",
            "model_selection",
            "reduction",
            "missing",
            "scaling",
            "imbalance",
            "predictor_handling",
            "clinical_choice",
            "confounders",
            "reliability",
            "software",
            "n_features",
            "model_shared",
            "features_shared",
            "settings_shared",
            "output",
            "predictions",
        ):
            facts[key] = AUTHOR + " (models developed outside this tool)"
    if not imaging:
        for key in ("preprocessing", "extraction", "classes", "default_config", "resampling", "discretisation"):
            facts[key] = AUTHOR + " (predictions uploaded; features made elsewhere)"
    return facts


ANSWERS = {
    "CLEAR": {
        "7": "This checklist (and METRICS, TRIPOD+AI) is attached to the report.",
        "11": "eligibility",
        "12": "Methods paragraph of this report (pipeline); a drawn pipeline figure: for the author.",
        "15": "split",
        "17": "clinical",
        "21": "preprocessing",
        "22": "resampling",
        "23": "discretisation",
        "24": "software",
        "25": "extraction",
        "26": "classes",
        "27": "n_features",
        "28": "default_config",
        "29": "missing",
        "30": "imbalance",
        "31": "reliability",
        "32": "scaling",
        "33": "reduction",
        "34": "algorithms",
        "35": "tuning",
        "36": "confounders",
        "37": "model_selection",
        "38": "testing",
        "39": "metrics",
        "40": "uncertainty",
        "41": "comparison",
        "42": "non_radiomic",
        "43": "explain",
        "44": "baseline",
        "45": "flowchart",
        "46": "Selected features table (LASSO coefficients); ICC filter where used.",
        "47": "performance",
        "48": "comparison",
        "54": "features_shared",
        "55": "settings_shared",
        "56": "code_shared",
        "57": "model_shared",
    },
    "METRICS": {
        "1": "The CLEAR checklist is attached to this report.",
        "2": "eligibility",
        "4": "centres",
        "11": "preprocessing",
        "12": "software",
        "13": "default_config",
        "14": "reliability",
        "15": "reduction",
        "16": "n_features",
        "18": "split",
        "19": "confounders",
        "20": "metrics",
        "21": "uncertainty",
        "22": "Calibration curves, intercept, slope and Hosmer-Lemeshow per validation cohort.",
        "24": "non_radiomic",
        "25": "Logistic regression among the classifiers; reference staging scores where given.",
        "26": "Internal validation cohort (held out from all training and selection).",
        "27": "heterogeneity",
        "28": "features_shared",
        "29": "code_shared",
        "30": "model_shared",
    },
    "TRIPOD+AI": {
        "6a": "centres",
        "6b": "eligibility",
        "7": "preprocessing",
        "8a": "outcome",
        "9a": "clinical_choice",
        "10": "counts",
        "11": "missing",
        "12a": "split",
        "12b": "predictor_handling",
        "12c": "tuning",
        "12d": "heterogeneity",
        "12e": "metrics",
        "12f": "updating",
        "12g": "predictions",
        "13": "imbalance",
        "15": "output",
        "16": "differences",
        "18e": "features_shared",
        "18f": "code_shared",
        "20a": "flowchart",
        "20b": "baseline",
        "20c": "differences",
        "21": "counts",
        "22": "model_shared",
        "23a": "performance",
        "23b": "heterogeneity",
        "24": "updating",
    },
}


def checklist_table(name: str, facts: dict[str, str]) -> pd.DataFrame:
    """Item (official number), topic, what the run reports (or 'For the author') and the source of the answer."""
    rows = []
    for number, topic in CHECKLISTS[name]:
        answer = ANSWERS[name].get(number)
        text = facts.get(answer, answer) if answer else AUTHOR
        text = text or AUTHOR
        rows.append(
            {
                "item": number,
                "topic": topic,
                "reported": text,
                "source": "author" if text.startswith(AUTHOR) else "this run",
            }
        )
    return pd.DataFrame(rows)


def _extraction_params(radiomics: dict[str, Any]) -> dict[str, Any]:
    from engine.features.radiomics import load_params

    try:
        return load_params(radiomics.get("preset", "ct"), radiomics.get("overrides") or {})
    except Exception:  # noqa: BLE001 - a preset that moved: the items fall back to the author
        return {}
