"""A whole study, start to finish: cohort -> features (cached) -> model grid -> run store.

``run_study`` returns the run id; the same config on the same data is served from the store; finished steps
of an interrupted run (radiomics, deep features) are reused.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path


from engine.common.cluster import dask_cluster
from engine.cohort.file_index import FileIndex
from engine.config import StudyConfig
from engine.pipeline.inputs import load_study_table, study_fingerprint
from engine.pipeline.steps import BUILD_STEPS, Progress, StudyState
from engine.store import RunStore, run_key


def _noop(stage: str, done: int, total: int) -> None:
    return None


def run_study(
    config: StudyConfig,
    base: Path,
    store: RunStore,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress = _noop,
    force: bool = False,
    stratum: tuple[str, str] | None = None,
) -> str:
    """Run (or fetch from the store) the study described by ``config``; relative paths resolve against ``base``.
    With ``config.strata`` the study runs once per stratum (engine.pipeline.strata); ``stratum`` = (column, level)
    restricts a run to one stratum's patients."""
    if config.strata and stratum is None:
        from engine.pipeline.strata import run_stratified

        return run_stratified(
            config, base, store, workers=workers, scheduler=scheduler, progress=progress, force=force, run_one=run_study
        )
    started = time.perf_counter()
    settings = {**config.canonical(), **({"stratum": list(stratum)} if stratum else {})}
    shortcut = run_key(settings, study_fingerprint(config, base))
    recorded = store.recorded(shortcut)
    if recorded and not force and _served(store, recorded, progress):
        return recorded  # the same config on the same files (sizes, times) as a stored run: no file read at all
    files = FileIndex(store.root / "file_index.sqlite", workers=1 if scheduler else workers)
    cohort, table, path_columns, digest = load_study_table(config, base, files)
    files.save()
    if stratum is not None:
        column, level = stratum
        table = table[table[column].astype(str) == level].reset_index(drop=True)
        cohort = dataclasses.replace(cohort, table=table) if cohort is not None else None
    run_id = run_key(settings, digest)
    store.record(shortcut, run_id)
    if not force and _served(store, run_id, progress):
        return run_id
    with store.lock(run_id):  # another process building the same run: wait for it, then serve what it wrote
        if not force and _served(store, run_id, progress):
            return run_id
        with dask_cluster(scheduler) as address:  # local:N starts its LocalCluster here, only when building
            frame = table.drop(columns=path_columns)
            return _build(StudyState(config, store, run_id, cohort, frame, workers, address, progress, started))


def _served(store: RunStore, run_id: str, progress: Progress) -> bool:
    """True when the run is in the store and intact; a damaged run is announced and rebuilt."""
    if not store.exists(run_id):
        return False
    problems = store.problems(run_id)
    if problems:
        progress(f"rebuilding damaged run {run_id}: {problems[0]}", 0, 1)
        return False
    progress("served from the store", 1, 1)
    return True


def _build(state: StudyState) -> str:
    """The run built step by step (engine.pipeline.steps.BUILD_STEPS) and written to the store."""
    for step in BUILD_STEPS:
        state = step(state)
    return state.run_id
