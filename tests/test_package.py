"""The engine as an installed package (pyproject.toml): a wheel with its assets and the hcc-study command, usable
from outside the checkout (as on a Dask node or in a notebook's environment)."""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(arguments: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments], capture_output=True, encoding="utf-8", errors="replace", cwd=cwd, **kwargs
    )


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy: building writes build/ and *.egg-info next to pyproject.toml
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "requirements-runtime.txt"):
        shutil.copy(ROOT / name, source / name)
    for package in ("engine", "dashboard", "assets"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    built = _run(["-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(source), "-w", "."], tmp_path)
    assert built.returncode == 0, built.stderr
    wheel = next(tmp_path.glob("hcc_study-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/assets/demo_study.yaml" in names and "engine/assets/radiomics/ct_demo.yaml" in names
    assert "dashboard/app.py" in names and "dashboard/app_pages/case_viewer.py" in names
    site = tmp_path / "site"
    installed = _run(["-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], tmp_path)
    assert installed.returncode == 0, installed.stderr
    outside = {**os.environ, "PYTHONPATH": str(site)}
    probe = _run(
        ["-c", "import engine.cli, engine.features.radiomics as r; print(engine.cli.ASSETS, r.ASSETS)"],
        tmp_path,
        env=outside,
    )
    assert probe.returncode == 0, probe.stderr
    assets, presets = probe.stdout.split()
    assert Path(assets) == site / "engine" / "assets" and (Path(presets) / "ct_demo.yaml").exists()
    command = _run([str(site / "bin" / "hcc-study"), "--help"], tmp_path, env=outside)
    assert command.returncode == 0 and "demo" in command.stdout and "train" in command.stdout
