"""Names shared by the config and the grid (kept free of heavy imports so the CLI starts fast)."""

DEFAULT_MODELS = {
    "Clinical": ["clinical"],
    "Rad": ["radiomics"],
    "DL": ["deep"],
    "Clinical+Rad": ["clinical", "radiomics"],
    "Clinical+DL": ["clinical", "deep"],
    "Rad+DL": ["radiomics", "deep"],
    "Combined": ["clinical", "radiomics", "deep"],
}
ALL_CLASSIFIERS = ["LR", "SVM", "RF", "KNN", "DT", "MLP", "AdaBoost", "GBDT", "XGBoost", "LightGBM"]
# Feature selection steps (engine.selection), applied in the order given, inside every training fold.
SELECTION_STEPS = ("variance", "correlation", "univariate", "lasso", "rfe")
DEFAULT_SELECTION = ("variance", "correlation", "univariate", "lasso")
# Survival models: plain Cox (small families only), LASSO-penalised Cox, random survival forest.
SURVIVAL_METHODS = ("Cox", "LASSO-Cox", "RSF")
# Deep-feature networks (engine.features.deep.build_backbone).
BACKBONES = ("resnet10", "resnet18", "resnet34", "resnet50", "densenet121")
