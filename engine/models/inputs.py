"""What a fitted model pipeline takes: its input columns, and for each categorical one the levels it was trained on.

New patients (engine.new_patients) are checked against these before a pipeline scores them, so that a level
training never saw (a new centre's coding "Male" for "M") is named instead of scored silently as the reference.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer

from engine.selection.clinical import input_columns


def pipeline_inputs(pipeline) -> dict[str, tuple[str, ...] | None]:
    """Input column -> its training levels (a categorical column) or None (a numeric one)."""
    levels: dict[str, tuple[str, ...] | None] = dict.fromkeys(input_columns(pipeline))
    prepare = pipeline.named_steps.get("prepare")
    if not isinstance(prepare, ColumnTransformer):
        return levels
    for name, transformer, _ in prepare.transformers_:
        if name != "categorical":
            continue
        imputer, encoder = transformer[0], transformer[-1]
        for column, categories in zip(imputer.feature_names_in_, encoder.categories_, strict=True):
            levels[str(column)] = tuple(str(v) for v in categories)
    return levels
