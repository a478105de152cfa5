"""The methods paragraph of the report and its parts: selection, tuning, clinical predictors, cutoffs, ComBat,
reference scores, external cohorts, the deep network's objective, what-if filters and the statistics used."""

from __future__ import annotations

from typing import Any


def methods_text(config: dict[str, Any], provenance: dict[str, Any]) -> str:
    """A methods paragraph generated from the run's config and provenance."""
    packages = provenance.get("packages", {})
    cohort = config.get("cohort", {})
    parts = []
    if cohort.get("manifest"):
        parts.append(
            f"{external_text(cohort.get('external_centers') or [])}"
            "the remaining patients were split "
            f"{int(100 * cohort.get('train_fraction', 0.7))}:{100 - int(100 * cohort.get('train_fraction', 0.7))} "
            f"into training and internal validation cohorts, stratified by outcome (seed {config.get('seed', 0)})."
        )
    radiomics = config.get("radiomics", {})
    if cohort.get("manifest") and radiomics.get("enabled", True):
        rings = ", ".join(f"{v:g} mm" for v in (radiomics.get("rings_mm") or {}).values())
        parts.append(
            f"Radiomics features were extracted with PyRadiomics {packages.get('pyradiomics', '')} (parameter "
            f"preset '{radiomics.get('preset')}') "
            f"from the tumour{' and peritumoral rings of ' + rings if rings else ''} on every contrast phase"
            f"{'' if not rings or radiomics.get('ring_shape') else ' (shape features from the tumour only)'}"
            f"{', with delta features between consecutive phases' if radiomics.get('delta') else ''}."
        )
        from engine.features.preprocess import preprocessing_text

        try:
            from engine.features.radiomics import load_params

            extraction = load_params(radiomics.get("preset", "ct"), radiomics.get("overrides") or {}).get("setting", {})
        except Exception:  # noqa: BLE001 - a preset file that moved: the sentence leaves the resampling out
            extraction = {}
        parts.append(preprocessing_text(radiomics.get("preprocessing") or {}, extraction))
        if radiomics.get("icc_threshold") is not None:
            parts.append(
                "Features were extracted again from a second reader's segmentations of the training patients; only "
                "features "
                f"with ICC({radiomics.get('icc_kind', '2,1')}) >= {radiomics['icc_threshold']} between readers were "
                "kept."
            )
    deep = config.get("deep", {})
    if cohort.get("manifest") and deep.get("enabled", True):
        parts.append(
            f"Deep-learning features were taken from the penultimate layer of a {deep.get('backbone')} (MONAI "
            f"{packages.get('monai', '')}, "
            f"PyTorch {packages.get('torch', '')}) trained "
            f"{'from local weights' if deep.get('weights') else 'from scratch'} on "
            f"{deep.get('size')}x{deep.get('size')} tumour crops ({deep.get('channels')} as channels) of the "
            "training cohort, with flips, "
            "rotations and intensity augmentation and early stopping on validation loss. One network was trained "
            "per fold of the "
            f"training cohort ({deep.get('folds')} folds) and one on the whole training cohort; models using deep "
            "features were "
            "cross-validated on these folds, each fold scored with features from the network trained without it, "
            "and internal and "
            f"external patients received the final network's features. {deep_objective_text(deep, config)}"
        )
    grid = config.get("grid", {})
    parts.append(selection_text(grid.get("selection", {})) + " " + tuning_text(grid))
    parts.append(clinical_selection_text(grid.get("clinical_selection") or {}))
    parts.append(cutoff_text(grid.get("cutoff") or {}))
    parts.append(harmonization_text(grid.get("harmonization") or {}))
    if config.get("reference_scores"):
        parts.append(reference_text(config["reference_scores"]))
    if grid.get("survival_models") and config.get("survival_endpoints"):
        methods = grid.get("survival_methods", [])
        parts.append(
            f"For each time-to-event endpoint ({', '.join(config['survival_endpoints'])}), {', '.join(methods)} "
            "models were fitted on "
            "the same feature families (an unpenalised Cox model only for families of at most 15 predictors; "
            "LASSO-Cox with the "
            "penalty chosen by cross-validated partial likelihood; random survival forests), and the method with "
            "the best "
            "out-of-fold Harrell's C on the training cohort was kept for each model."
        )
    parts.append(STATISTICS_TEXT)
    return " ".join(part for part in parts if part)


def deep_objective_text(deep: dict[str, Any], config: dict[str, Any]) -> str:
    """What the CNN was trained to predict, in words."""
    objective = deep.get("objective", "binary")
    endpoint = deep.get("endpoint") or (config.get("survival_endpoints") or ["the survival endpoint"])[0]
    unit = (config.get("survival") or {}).get("time_unit", "")
    if objective == "cox":
        return f"The networks were trained with the Cox partial-likelihood loss on {endpoint} (time and event)."
    if objective == "landmark":
        return (
            f"The networks were trained to predict {endpoint} events by {deep.get('landmark'):g} {unit}; patients "
            "censored "
            "earlier were left out of training."
        )
    return "The networks were trained to predict the binary endpoint."


def external_text(centers: list[str]) -> str:
    """Which centres were external validation cohorts, in words."""
    if not centers:
        return "No centre was held out for external validation; "
    if len(centers) == 1:
        return f"Patients from centre {centers[0]} formed the external validation cohort; "
    listed = f"{', '.join(centers[:-1])} and {centers[-1]}"
    return f"Patients from each of the centres {listed} formed an external validation cohort of its own; "


SELECTION_WORDS = {
    "variance": "a variance filter",
    "correlation": "a Pearson correlation filter (|r| > {correlation_threshold:g}, keeping the feature more "
    "associated with the outcome)",
    "univariate": "a univariate test (t-test or Mann-Whitney U by Shapiro-Wilk normality, p < {univariate_p:g})",
    "lasso": "LASSO-penalised logistic regression with the penalty chosen by 5-fold cross-validated AUC",
    "rfe": "recursive feature elimination with a decision tree (down to {rfe_features} features)",
}


def selection_text(selection: dict[str, Any]) -> str:
    """The selection steps of the config in words."""
    settings = {
        "steps": ["variance", "correlation", "univariate", "lasso"],
        "correlation_threshold": 0.8,
        "univariate_p": 0.05,
        "rfe_features": 10,
        **selection,
    }
    words = [SELECTION_WORDS[step].format(**settings) for step in settings["steps"]]
    listed = ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1] if words else "no selection step"
    return f"Within each training fold, features were standardised and selected by {listed}."


def tuning_text(grid: dict[str, Any]) -> str:
    """How the classifiers were tuned and chosen, in words."""
    repeats = int(grid.get("repeats", 1))
    repeated = f" repeated {repeats} times" if repeats > 1 else ""
    cv = f"{grid.get('folds', 5)}-fold stratified cross-validation{repeated} on the training cohort"
    search = f"randomised search ({grid.get('n_iter')} candidates"
    if grid.get("search", "random") == "refined":
        search += f", then up to {grid.get('n_iter')} candidates on a grid around the best one"
    return (
        f"Classifiers ({', '.join(grid.get('classifiers', []))}) were tuned by {search}; {cv}) for each model "
        f"({', '.join(grid.get('models', {}))}); the classifier with the best cross-validated AUC was retained for "
        "each model"
        + (
            "; a late-fusion model stacked the family models’ out-of-fold probabilities by logistic regression"
            if grid.get("stacking")
            else ""
        )
        + "."
    )


def clinical_selection_text(selection: dict[str, Any]) -> str:
    """How the clinical predictors were chosen, in words."""
    method = selection.get("method", "none")
    enter, stay = selection.get("enter_p", 0.05), selection.get("stay_p", 0.05)
    tables = (
        f"Univariable and multivariable logistic (odds ratios) and Cox (hazard ratios) regressions of the clinical "
        f"variables on the training cohort are reported; variables with a univariable p < {enter:g} entered the "
        "multivariable model."
    )
    if method == "multivariable":
        return tables + (
            f" The clinical models used the variables that kept p < {stay:g} in the multivariable logistic model; "
            "this choice was repeated within every cross-validation fold."
        )
    if method == "backward_aic":
        return tables + (
            " The clinical models used the variables kept by backward elimination on the Akaike information "
            "criterion; this choice was repeated within every cross-validation fold."
        )
    return tables + " The clinical models used every clinical variable."


def cutoff_text(cutoff: dict[str, Any]) -> str:
    method = cutoff.get("method", "youden")
    how = "maximising Youden's index" if method == "youden" else f"reaching a {method} of {cutoff.get('target')}"
    return (
        f"Each model's classification cutoff was chosen on its out-of-fold training predictions by {how} and applied "
        "unchanged to the internal and each external validation cohort."
    )


def harmonization_text(harmonization: dict[str, Any]) -> str:
    families = harmonization.get("families") or []
    if not families:
        return ""
    unseen = (
        "an external centre not seen in training was harmonised with its own location and scale estimated on its own "
        "features (no outcomes), standardised by the training centres' pooled mean and variance"
        if harmonization.get("unseen", "own") == "own"
        else "external centres not seen in training were left unharmonised"
    )
    return (
        f"Scanner and centre effects on the {' and '.join(families)} features were removed with ComBat (parametric "
        "empirical Bayes, Johnson et al. 2007, without covariates so that no outcome enters; batch = centre), fitted "
        "within every training fold and on the whole training cohort and applied unchanged to internal patients of "
        f"the same centres; {unseen}."
    )


def reference_text(references: dict[str, Any]) -> str:
    names = ", ".join(references)
    return (
        f"Existing scores ({names}) were compared as reference models: their raw scores (ordered stages as ranks) for "
        "discrimination, and probabilities from a univariable logistic recalibration fitted on the training cohort for "
        "calibration, reclassification and decision curves."
    )


def upload_methods_text(source: str) -> str:
    """The methods paragraph for an uploaded predictions table (the models were fitted elsewhere)."""
    return (
        f"Predicted probabilities were read from the table '{source}'; the models were developed outside this tool, so "
        "their feature selection and fitting are described in the study's own methods. "
    )


STATISTICS_TEXT = (
    "Discrimination was summarised by the AUC with DeLong 95% confidence intervals and compared by paired DeLong "
    "tests with "
    "Holm adjustment; reclassification by category-free NRI and IDI (Pencina); calibration by calibration curves, the "
    "Hosmer-Lemeshow test, calibration intercept and slope, Brier score and Spiegelhalter's z; clinical usefulness "
    "by decision "
    "curve analysis. For time-to-event endpoints, risk groups were defined by a cutoff learned on the training "
    "cohort and "
    "compared by Kaplan-Meier curves, log-rank tests and Cox hazard ratios; discrimination by Harrell's C. "
    "Statistics were "
    "computed with the study engine's statistics module, validated against R (pROC, Hmisc, rms, survival, "
    "riskRegression)."
)


def filters_text(filters: dict[str, Any] | None) -> str:
    """The what-if restriction in words ('' when there is none)."""
    if not filters:
        return ""
    parts = []
    for column, wanted in filters.items():
        if isinstance(wanted, tuple):
            parts.append(f"{column} between {wanted[0]:g} and {wanted[1]:g}")
        else:
            parts.append(f"{column} in {{{', '.join(str(w) for w in wanted)}}}")
    return "All analyses are restricted to the sub-cohort with " + "; ".join(parts) + "."
