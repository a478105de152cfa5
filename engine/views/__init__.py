"""What the pages and the report compute from a stored run: comparisons of binary models (analysis), survival at
horizons, per-model performance at the training cutoffs, one patient's case, the study's summary, SHAP explanations
and uploaded predictions tables. Reads runs; never trains."""
