"""The dashboard's pages, in the sidebar's sections and order: (file under app_pages/, title). The app, its tests and
the page-load benchmark all read these. Every page is listed (Streamlit folds a sidebar of more than 12 into ten
and "View 5 more", which hid the pages that set up a study, train it and score new patients)."""

SECTIONS = {
    "Results": (
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
    ),
    "Study": (
        ("new_study", "New study"),
        ("jobs", "Jobs"),
        ("predict", "Predict"),
    ),
}
PAGES = tuple(page for pages in SECTIONS.values() for page in pages)
PAGE_FILES = [name for name, _ in PAGES]
