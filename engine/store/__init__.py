"""The run store: one folder per run, keyed by the hash of (config, data, engine version).

A run holds ``config.json``, ``predictions.parquet`` (the long predictions table of DESIGN.md), ``grid.csv``,
``selected_features.csv``, ``metrics.csv``, ``provenance.json``, the fitted pipelines (``pipelines/*.skops``) and,
with deep features, ``gradcam.npz`` (Grad-CAM maps of internal/external patients).
A run is written into a staging folder and renamed into place, so a reader never sees half a run; finished
steps of an interrupted run are kept in ``partial/<key>/`` and reused when it is started again.

Integrity: ``manifest.json`` lists every file of a run with its size and SHA-256; loading verifies it, so a
truncated, changed or half-copied run is reported as damaged (which file, and how to rebuild or remove it) instead
of failing somewhere inside a reader. Building a run holds a lock on its key (``locks/<key>.lock``), so two
``train`` commands on the same store wait for each other and the second serves what the first wrote.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import engine
from engine.errors import ValidationError

PREDICTION_COLUMNS = ("patient_id", "split", "model", "prob")
MANIFEST = "manifest.json"


class DamagedRunError(ValidationError):
    """A stored run whose files do not match its manifest (truncated, changed, missing or half-copied)."""


def damaged_message(run_id: str, problems: list[str]) -> str:
    return (
        f"run {run_id} is damaged: {'; '.join(problems)}. Rebuild it with `python -m engine train --config "
        f"<study.yaml> --force` (`make demo` rebuilds the demo run), or remove it with "
        f"`python -m engine runs rm {run_id}`."
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path) -> None:
    """List every file under ``folder`` (but the manifest) with its size and SHA-256, in ``manifest.json``."""
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.name != MANIFEST)
    listing = {
        path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size, "sha256": _sha256(path)} for path in files
    }
    (folder / MANIFEST).write_text(json.dumps({"files": listing}, indent=1))


def manifest_problems(folder: Path, *, checksums: bool = True) -> list[str]:
    """What is wrong with a run folder against its manifest ([] when intact); ``checksums=False`` checks only that
    every file is there with its size (fast, for listings)."""
    try:
        listing = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        return [f"{MANIFEST} is missing (the run was copied only in part, or written by an older engine)"]
    except (ValueError, KeyError, TypeError):
        return [f"{MANIFEST} cannot be read (it was truncated or edited)"]
    problems = []
    for name, expected in listing.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != expected["bytes"]:
            problems.append(
                f"{name} has {path.stat().st_size} bytes where the manifest says {expected['bytes']} "
                "(truncated or changed)"
            )
        elif checksums and _sha256(path) != expected["sha256"]:
            problems.append(f"{name} does not match its SHA-256 in the manifest (changed after the run was written)")
    return problems


def run_key(config: dict[str, Any], data_digest: str) -> str:
    text = json.dumps(
        {"config": config, "data": data_digest, "engine": engine.__version__}, sort_keys=True, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclasses.dataclass
class Run:
    """A finished run, loaded."""

    run_id: str
    path: Path
    config: dict[str, Any]
    predictions: pd.DataFrame
    grid: pd.DataFrame
    selected: pd.DataFrame
    metrics: pd.DataFrame
    provenance: dict[str, Any]

    def gradcam(self) -> dict[str, np.ndarray] | None:
        """Grad-CAM gallery of the deep model (patient_id, label, crop, heatmap), when the run has one."""
        path = self.path / "gradcam.npz"
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}

    def features(self) -> pd.DataFrame | None:
        """The feature table the grid was trained on (patient_id, split, label, features), when stored."""
        path = self.path / "features.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def survival_predictions(self) -> pd.DataFrame | None:
        """Risk scores of the survival models (LASSO-Cox / RSF per model and endpoint), when the run has them."""
        path = self.path / "survival_predictions.parquet"
        return pd.read_parquet(path) if path.exists() else None

    def risk_cutoffs(self) -> pd.DataFrame | None:
        """Risk cutoffs learned on the training cohort (endpoint, source, model, method, cutoff), when stored."""
        path = self.path / "risk_cutoffs.csv"
        return pd.read_csv(path) if path.exists() else None

    def _optional(self, name: str) -> pd.DataFrame | None:
        path = self.path / name
        if not path.exists():
            return None
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, float_precision="round_trip")

    def performance(self) -> pd.DataFrame | None:
        """The performance table: each model's training cutoff applied to every cohort (engine.performance)."""
        return self._optional("performance.csv")

    def classifier_predictions(self) -> pd.DataFrame | None:
        """Held-out predictions of every classifier of every model (not only the chosen one)."""
        return self._optional("classifier_predictions.parquet")

    def reference_scores(self) -> pd.DataFrame | None:
        """The reference scores' training recalibrations (model, column, order, intercept, slope)."""
        return self._optional("reference_scores.csv")

    def clinical_tables(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        """Univariable and multivariable OR / HR tables of the clinical predictors on the training cohort."""
        univariable, multivariable = (
            self._optional("clinical_univariable.csv"),
            self._optional("clinical_multivariable.csv"),
        )
        return None if univariable is None else (univariable, multivariable)

    def pipeline(self, model: str):
        """The fitted pipeline of ``model``, loaded with skops from this run's own folder only."""
        import skops.io as sio

        path = self.path / "pipelines" / f"{_safe_name(model)}.skops"
        if not path.exists():
            raise ValidationError(f"run {self.run_id} has no fitted pipeline for model {model!r}.")
        return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_+" else "_" for ch in name)


class RunStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        (self.root / "runs").mkdir(parents=True, exist_ok=True)
        (self.root / "partial").mkdir(parents=True, exist_ok=True)
        (self.root / "features").mkdir(parents=True, exist_ok=True)

    @property
    def feature_cache_dir(self) -> Path:
        return self.root / "features"

    def path(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def exists(self, run_id: str) -> bool:
        return (self.path(run_id) / "provenance.json").exists()

    def partial(self, run_id: str) -> Path:
        folder = self.root / "partial" / run_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def write(
        self,
        run_id: str,
        *,
        config: dict[str, Any],
        predictions: pd.DataFrame,
        grid: pd.DataFrame,
        selected: pd.DataFrame,
        metrics: pd.DataFrame,
        provenance: dict[str, Any],
        pipelines: dict[str, Any] | None = None,
        artifacts: list[Path] | None = None,
    ) -> Path:
        missing = [c for c in PREDICTION_COLUMNS if c not in predictions]
        if missing:
            raise ValidationError(f"predictions must have the columns {list(PREDICTION_COLUMNS)}; missing {missing}.")
        staging = self.root / "runs" / f".staging-{run_id}-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        (staging / "pipelines").mkdir(parents=True)
        (staging / "config.json").write_text(json.dumps(config, indent=2, default=str))
        predictions.to_parquet(staging / "predictions.parquet", index=False)
        grid.to_csv(staging / "grid.csv", index=False)
        selected.to_csv(staging / "selected_features.csv", index=False)
        metrics.to_csv(staging / "metrics.csv", index=False)
        if pipelines:
            import skops.io as sio

            for name, pipeline in pipelines.items():
                sio.dump(pipeline, staging / "pipelines" / f"{_safe_name(name)}.skops")
        for artifact in artifacts or []:
            shutil.copy2(artifact, staging / Path(artifact).name)
        (staging / "provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
        write_manifest(staging)
        target = self.path(run_id)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
        shutil.rmtree(self.root / "partial" / run_id, ignore_errors=True)
        return target

    def recorded(self, shortcut: str) -> str | None:
        """The run id recorded for a (config, files-as-they-are) shortcut key (engine.study.study_fingerprint)."""
        try:
            return json.loads((self.root / "run_index.json").read_text(encoding="utf-8")).get(shortcut)
        except (FileNotFoundError, ValueError, AttributeError):
            return None

    def record(self, shortcut: str, run_id: str) -> None:
        """Remember the run id of a shortcut key (atomic replace; the index is only a shortcut: losing it costs
        one slower start)."""
        path = self.root / "run_index.json"
        try:
            known = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            known = {}
        if known.get(shortcut) == run_id:
            return
        known[shortcut] = run_id
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known, indent=1))
        os.replace(temporary, path)

    def problems(self, run_id: str, *, checksums: bool = True) -> list[str]:
        """What is wrong with a stored run ([] when it is intact)."""
        return manifest_problems(self.path(run_id), checksums=checksums)

    @contextlib.contextmanager
    def lock(self, run_id: str) -> Iterator[None]:
        """Hold the build lock of ``run_id`` (another process building the same run waits here)."""
        folder = self.root / "locks"
        folder.mkdir(exist_ok=True)
        with open(folder / f"{run_id}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def load(self, run_id: str) -> Run:
        if not self.exists(run_id):
            known = ", ".join(self.list()["run_id"]) or "none"
            raise ValidationError(f"run {run_id!r} is not in the store at {self.root}; runs: {known}.")
        problems = self.problems(run_id)
        if problems:
            raise DamagedRunError(damaged_message(run_id, problems))
        try:
            return self._read(run_id)
        except (OSError, ValueError) as error:  # a file changed between the check and the read
            raise DamagedRunError(damaged_message(run_id, [f"reading it failed ({type(error).__name__})"])) from None

    def _read(self, run_id: str) -> Run:
        path = self.path(run_id)

        def table(name: str) -> pd.DataFrame:
            file = path / name
            return pd.read_csv(file) if file.exists() and file.stat().st_size > 1 else pd.DataFrame()

        return Run(
            run_id=run_id,
            path=path,
            config=json.loads((path / "config.json").read_text(encoding="utf-8")),
            predictions=pd.read_parquet(path / "predictions.parquet"),
            grid=table("grid.csv"),
            selected=table("selected_features.csv"),
            metrics=table("metrics.csv"),
            provenance=json.loads((path / "provenance.json").read_text(encoding="utf-8")),
        )

    def list(self) -> pd.DataFrame:
        rows = []
        for folder in sorted((self.root / "runs").iterdir()):
            if folder.name.startswith(".") or not (folder / "provenance.json").exists():
                continue
            problems = manifest_problems(folder, checksums=False)
            try:
                provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
            except ValueError:
                provenance, problems = {}, problems or ["provenance.json cannot be read"]
            rows.append(
                {
                    "run_id": folder.name,
                    "name": provenance.get("name", ""),
                    "created": provenance.get("created", ""),
                    "patients": provenance.get("patients"),
                    "models": provenance.get("models"),
                    "status": f"damaged: {problems[0]}" if problems else "ok",
                }
            )
        return pd.DataFrame(rows, columns=["run_id", "name", "created", "patients", "models", "status"])

    def remove(self, run_id: str) -> None:
        if not self.path(run_id).exists():
            raise ValidationError(f"run {run_id!r} is not in the store; nothing removed.")
        shutil.rmtree(self.path(run_id))
