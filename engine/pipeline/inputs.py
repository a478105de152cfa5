"""A study's inputs: the patient table (a manifest's or a feature table's, checked by engine.validation, with
splits assigned), its digest and fingerprint, and a stored run's config as the run was made."""

from __future__ import annotations

import dataclasses
import hashlib
from importlib import metadata
from pathlib import Path

import pandas as pd

from engine.cohort.file_index import FileIndex
from engine.cohort.manifest import assign_splits, file_columns, load_manifest, read_table
from engine.validation import check_table, read_table_file
from engine.validation.study_tables import announce, study_roles
from engine.config import StudyConfig
from engine.errors import ValidationError
from engine.cohort.file_index import file_digest


def _cohort_digest(table: pd.DataFrame, path_columns: list[str], files: FileIndex) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(table.drop(columns=path_columns), index=False).values.tobytes())
    for column in path_columns:
        for value in table[column].dropna():
            digest.update(files.get(value, "sha256", lambda path=value: file_digest(path)).encode())
    return digest.hexdigest()


def read_feature_table(path: Path, config: StudyConfig) -> pd.DataFrame:
    """A feature table read and checked against the study's roles (engine.validation): every problem in one
    ValidationError; outcomes recoded to 0/1, what was changed said (InputNotice)."""
    table = read_table_file(path, what="feature table", parquet=True)
    checked = check_table(table, study_roles(config, table, "feature table")).raise_problems(
        f"feature table {path.name}"
    )
    announce(checked.notices)
    return checked.table


def load_study_table(config: StudyConfig, base: Path, files: FileIndex | None = None):
    """(cohort or None, patient table with splits assigned and the endpoint as ``label``, image path columns, data
    digest) for a manifest or a feature-table study; ``files`` remembers what was read from each image file."""
    files = files or FileIndex(None)
    if config.cohort.manifest:
        cohort = load_manifest(
            base / config.cohort.manifest,
            clinical=config.cohort.clinical or None,
            roi=config.cohort.roi,
            exclude_incomplete=config.cohort.exclude_incomplete,
            files=files,
            roles=lambda frame: study_roles(config, frame, "manifest", features=False),
        )
        announce(cohort.notices)
        cohort = assign_splits(
            cohort,
            external_centers=config.cohort.external_centers,
            train_fraction=config.cohort.train_fraction,
            seed=config.seed,
        )
        table = cohort.table
        path_columns = file_columns(table)
        digest = _cohort_digest(table, path_columns, files)
    else:
        cohort = None
        feature_file = base / config.cohort.feature_table
        table = read_feature_table(feature_file, config)
        if "split" not in table:
            from engine.cohort.manifest import Cohort

            table = assign_splits(
                Cohort(base, table, (), (), ()),
                external_centers=config.cohort.external_centers,
                train_fraction=config.cohort.train_fraction,
                seed=config.seed,
            ).table
        path_columns = []
        digest = file_digest(feature_file)
    if config.endpoint != "label":
        table = table.rename(columns={config.endpoint: "label"})
        if cohort is not None:
            cohort = dataclasses.replace(cohort, table=table)
    return cohort, table, path_columns, digest


def study_fingerprint(config: StudyConfig, base: Path) -> str:
    """The study's files as they are now, without reading an image: the size and modification time of the manifest
    (or feature table) and of every image and mask it names (a DICOM folder by its files), with the engine's and
    scikit-learn's versions (splits come from scikit-learn). Equal fingerprints and configs mean the run recorded
    for them is this run; any other file in the folder does not count."""
    from engine.cohort.file_index import signature

    source = base / (config.cohort.manifest or config.cohort.feature_table)
    digest = hashlib.sha256(
        f"{package_version('engine')}|{package_version('scikit-learn')}|{source.resolve()}".encode()
    )
    if not source.exists():
        return "files:" + digest.hexdigest()  # the full path says what is missing
    digest.update(signature(source).encode())
    if config.cohort.manifest:
        try:
            table = read_table(source)
        except (ValidationError, ValueError, OSError):
            return "files:" + digest.hexdigest()
        for column in file_columns(table):
            for value in table[column].dropna().astype(str):
                path = source.parent / value
                digest.update(f"{value}|{signature(path) if path.exists() else 'missing'};".encode())
    return "files:" + digest.hexdigest()


def package_version(name: str) -> str:
    if name == "engine":
        import engine

        return engine.__version__
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def run_config(settings: dict) -> StudyConfig:
    """A stored run's config, as the run was made: one made before ``radiomics.ring_shape`` existed (engine < 0.6.0)
    extracted the rings' shape features too, and its pipelines expect them."""
    from engine.config import parse_config

    config = parse_config(settings)
    if "ring_shape" not in (settings.get("radiomics") or {}):
        config.radiomics.ring_shape = True
    return config
