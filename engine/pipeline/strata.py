"""Stratified studies (``strata: treatment``): one complete run per stratum level, e.g. hepatectomy and TACE.

Each stratum's run is an ordinary run on that stratum's patients only (features, deep network, selection, grid,
survival models, cutoffs, clinical tables, reference recalibrations), so nothing learned in one stratum is used in
another by construction. The parent run stores the union of the strata's predictions and tables with a ``stratum``
column (every patient scored by the models of its own stratum) and ``provenance["strata"]``: level -> run id; the
dashboard's stratum picker opens a stratum's own run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from engine.errors import ValidationError
from engine.store import RunStore, run_key

PARENT_TABLES = (
    "performance.csv",
    "risk_cutoffs.csv",
    "clinical_univariable.csv",
    "clinical_multivariable.csv",
    "reference_scores.csv",
    "survival_grid.csv",
)
PARENT_PARQUETS = ("survival_predictions.parquet", "classifier_predictions.parquet")


def strata_levels(table: pd.DataFrame, column: str) -> list[str]:
    """The stratum levels (text, sorted), or a clear error: the column absent, missing values, a single level."""
    if column not in table:
        raise ValidationError(
            f"strata: column {column!r} is not in the cohort; its columns are {list(table.columns)[:15]}."
        )
    values = table[column]
    if values.isna().any():
        raise ValidationError(
            f"strata: column {column!r} has {int(values.isna().sum())} missing values; every patient needs a stratum."
        )
    levels = sorted(values.astype(str).unique())
    if len(levels) < 2:
        raise ValidationError(
            f"strata: column {column!r} has a single level {levels}; stratify by a column with two or more."
        )
    return levels


def run_stratified(
    config,
    base: Path,
    store: RunStore,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress=None,
    force: bool = False,
    run_one=None,
) -> str:
    """Run the study once per level of ``config.strata`` (each by ``run_one``: engine.pipeline.study.run_study with
    a stratum) and store the parent run; returns the parent run id."""
    from engine.cohort.file_index import FileIndex
    from engine.pipeline.inputs import load_study_table

    progress = progress or (lambda stage, done, total: None)
    files = FileIndex(store.root / "file_index.sqlite")
    _, table, _, digest = load_study_table(config, base, files)
    files.save()
    levels = strata_levels(table, config.strata)
    runs = {}
    for level in levels:
        stage = lambda name, done, total, level=level: progress(f"stratum {level}: {name}", done, total)  # noqa: E731
        try:
            runs[level] = run_one(
                config,
                base,
                store,
                workers=workers,
                scheduler=scheduler,
                progress=stage,
                force=force,
                stratum=(config.strata, level),
            )
        except ValidationError as error:
            raise ValidationError(f"stratum {config.strata} = {level}: {error}") from None
    parent = run_key({**config.canonical(), "strata_runs": runs}, digest)
    if not force and store.exists(parent) and not store.problems(parent):
        return parent
    with store.lock(parent):
        if force or not store.exists(parent) or store.problems(parent):
            _write_parent(config, store, parent, runs)
    return parent


def _write_parent(config, store: RunStore, parent: str, runs: dict[str, str]) -> None:
    loaded = {level: store.load(run_id) for level, run_id in runs.items()}

    def union(name: str) -> pd.DataFrame:
        frames = [getattr(run, name).assign(stratum=level) for level, run in loaded.items() if len(getattr(run, name))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    partial = store.partial(parent)
    artifacts = []
    for name in (*PARENT_TABLES, *PARENT_PARQUETS):
        frames = [
            _read(run.path / name).assign(stratum=level) for level, run in loaded.items() if (run.path / name).exists()
        ]
        if frames:
            combined = pd.concat(frames, ignore_index=True)
            target = partial / name
            combined.to_parquet(target, index=False) if name.endswith(".parquet") else combined.to_csv(
                target, index=False
            )
            artifacts.append(target)
    first = next(iter(loaded.values())).provenance
    provenance = {
        **{
            k: first.get(k)
            for k in (
                "engine",
                "python",
                "packages",
                "survival_endpoints",
                "time_unit",
                "horizons",
                "phases",
                "clinical",
            )
        },
        "name": config.name,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "patients": int(sum(run.provenance.get("patients", 0) for run in loaded.values())),
        "models": list(dict.fromkeys(m for run in loaded.values() for m in run.provenance.get("models", []))),
        "references": first.get("references", []),
        "strata_column": config.strata,
        "strata": runs,
        "seed": config.seed,
    }
    store.write(
        parent,
        config=config.canonical(),
        predictions=union("predictions"),
        grid=union("grid"),
        selected=union("selected"),
        metrics=union("metrics"),
        provenance=provenance,
        pipelines=None,
        artifacts=artifacts,
    )


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, float_precision="round_trip")
