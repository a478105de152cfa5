"""Run integrity: every file of a run is in its SHA-256 manifest; a damaged run says which file and how to rebuild
or remove it (store, CLI, train); two ``train`` processes on one store both finish and the run stays intact."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from engine.cli import app
from engine.config import parse_config
from engine.store import MANIFEST, DamagedRunError, RunStore
from engine.pipeline.study import run_study

ROOT = Path(__file__).resolve().parents[2]
RAW_CONFIG = {
    "name": "breast cancer (sklearn)",
    "cohort": {"feature_table": "features.csv"},
    "grid": {
        "models": {"Rad": ["radiomics"]},
        "classifiers": ["LR"],
        "n_iter": 2,
        "stacking": False,
        "search": "random",
    },
    "device": "cpu",
}


def _write_study(folder: Path) -> Path:
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    frame = data.data.iloc[:, :8].copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    frame.insert(0, "patient_id", [f"P{i}" for i in range(len(frame))])
    frame.insert(1, "label", 1 - data.target)
    frame.to_csv(folder / "features.csv", index=False)
    (folder / "study.yaml").write_text(yaml.safe_dump(RAW_CONFIG))
    return folder / "study.yaml"


@pytest.fixture()
def stored(tmp_path):
    _write_study(tmp_path)
    store = RunStore(tmp_path / "store")
    run_id = run_study(parse_config(RAW_CONFIG), tmp_path, store)
    return tmp_path, store, run_id


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def test_manifest_lists_every_file_with_its_checksum(stored):
    _, store, run_id = stored
    folder = store.path(run_id)
    listing = json.loads((folder / MANIFEST).read_text())["files"]
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}
    assert set(listing) == on_disk and {"predictions.parquet", "provenance.json", "pipelines/Rad.skops"} <= on_disk
    import hashlib

    assert listing["grid.csv"]["sha256"] == hashlib.sha256((folder / "grid.csv").read_bytes()).hexdigest()
    assert store.problems(run_id) == [] and store.list()["status"].tolist() == ["ok"]


def test_truncated_file_is_reported_with_the_fix_and_train_rebuilds_it(stored):
    folder, store, run_id = stored
    _truncate(store.path(run_id) / "predictions.parquet")
    with pytest.raises(DamagedRunError) as info:
        store.load(run_id)
    message = str(info.value)
    assert "predictions.parquet" in message and "truncated" in message
    assert "--force" in message and f"runs rm {run_id}" in message
    assert store.list()["status"].iloc[0].startswith("damaged: predictions.parquet")
    runner = CliRunner()
    shown = runner.invoke(app, ["runs", "show", run_id, "--store", str(store.root)])
    assert shown.exit_code == 2 and "is damaged" in shown.output and "Traceback" not in shown.output
    checked = runner.invoke(app, ["runs", "check", "--store", str(store.root)])
    assert checked.exit_code == 1 and "predictions.parquet" in checked.output
    stages = []
    rebuilt = run_study(
        parse_config(RAW_CONFIG), folder, store, progress=lambda stage, done, total: stages.append(stage)
    )
    assert rebuilt == run_id and any(s.startswith(f"rebuilding damaged run {run_id}") for s in stages)
    assert "served from the store" not in stages
    assert store.problems(run_id) == [] and len(store.load(run_id).predictions) > 0


def test_same_size_change_missing_file_and_half_copied_run(stored):
    _, store, run_id = stored
    folder = store.path(run_id)
    grid = folder / "grid.csv"
    data = bytearray(grid.read_bytes())
    data[-2] = ord("7") if data[-2] != ord("7") else ord("8")
    grid.write_bytes(bytes(data))
    assert store.problems(run_id) == [
        "grid.csv does not match its SHA-256 in the manifest (changed after the run was written)"
    ]
    assert store.problems(run_id, checksums=False) == []  # the quick listing check sees sizes only; loading sees all
    (folder / "pipelines" / "Rad.skops").unlink()
    assert "pipelines/Rad.skops is missing" in store.problems(run_id)
    (folder / MANIFEST).unlink()
    with pytest.raises(DamagedRunError, match="manifest.json is missing .*copied only in part"):
        store.load(run_id)
    store.remove(run_id)  # a damaged run can always be removed
    assert store.list().empty


def test_two_train_processes_on_one_store(tmp_path):
    """Started together on an empty store: both exit 0 with the same run id; one builds, the other waits for the
    lock and serves it; the run is intact and no staging folder is left behind."""
    config = _write_study(tmp_path)
    command = [
        sys.executable,
        "-m",
        "engine",
        "train",
        "--config",
        str(config),
        "--store",
        str(tmp_path / "store"),
        "--workers",
        "1",
    ]
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8", errors="replace"
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=600) for process in processes]
    assert [p.returncode for p in processes] == [0, 0], [err[-2000:] for _, err in outputs]
    ids = {out.strip().splitlines()[-1] for out, _ in outputs}
    assert len(ids) == 1
    store = RunStore(tmp_path / "store")
    run_id = ids.pop()
    assert store.problems(run_id) == [] and store.list()["run_id"].tolist() == [run_id]
    assert not [p for p in (tmp_path / "store" / "runs").iterdir() if p.name.startswith(".staging")]
    assert sum("served from the store" in err for _, err in outputs) == 1
    assert isinstance(store.load(run_id).predictions, pd.DataFrame)
