"""What a fitted model pipeline takes: its input columns, and what each must hold.

New patients (engine.pipeline.new_patients) are checked against these before a pipeline scores them, so that a level
training never saw (a new centre's coding "Male" for "M") is named instead of scored silently as the reference.
"""

from __future__ import annotations

from sklearn.compose import ColumnTransformer

from engine.selection.clinical import input_columns

NUMERIC = "numeric"  # a column the pipeline imputes and scales: numbers
ANY = "any"  # a column the pipeline takes but does not model as a number or a level (dropped by its clinical
# selection, or the centre that ComBat harmonises by)


def pipeline_inputs(pipeline) -> dict[str, str | tuple[str, ...]]:
    """Input column -> NUMERIC, ANY, or its training levels (a categorical column), in the pipeline's order."""
    kinds: dict[str, str | tuple[str, ...]] = dict.fromkeys(input_columns(pipeline), ANY)
    prepare = pipeline.named_steps.get("prepare")
    if not isinstance(prepare, ColumnTransformer):
        return kinds
    for name, transformer, columns in prepare.transformers_:  # columns as resolved when fitted
        if not hasattr(transformer, "steps") or not len(columns):
            continue  # the remainder, or a branch left with no column (not fitted)
        if name == "categorical":
            for column, categories in zip(columns, transformer[-1].categories_, strict=True):
                kinds[str(column)] = tuple(str(v) for v in categories)
        elif name in ("numeric", "harmonized"):
            batch = getattr(transformer[0], "batch_column", None)  # the harmonised branch starts with the centre
            kinds.update({str(c): NUMERIC for c in columns if c in kinds and c != batch})
    return kinds
