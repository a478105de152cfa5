"""Helpers every floor of the engine uses: the predictions table's columns and cohorts, labels and paper-table
formats, spreadsheet-safe exports, the task runners (local processes, Dask), column transforms, the classifier and
model names, and where the assets are. Nothing here imports another part of the engine but engine.errors and
engine.validation."""
