"""The dashboard's pages, in the sidebar's order: (file under app_pages/, title). The app, its tests and the page-load
benchmark all read this one list."""

PAGES = (
    ("overview", "Overview"),
    ("clinical_factors", "Clinical factors"),
    ("roc", "ROC"),
    ("delong", "DeLong"),
    ("reclassification", "NRI / IDI"),
    ("calibration", "Calibration"),
    ("decision_curves", "Decision curves"),
    ("survival", "Survival"),
    ("nomogram", "Nomogram"),
    ("features", "Features"),
    ("explanations", "Explanations"),
    ("case_viewer", "Case viewer"),
    ("new_study", "New study"),
    ("jobs", "Jobs"),
    ("predict", "Predict"),
)
PAGE_FILES = [name for name, _ in PAGES]
