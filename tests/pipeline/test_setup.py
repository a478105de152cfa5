"""A study set up as the New study page does it (engine.pipeline.setup): the proposed roles of a real feature table,
the config they give written as YAML, and the round trip: `hcc-study train --config` on that YAML gives the run the
browser's job gives. And the data folder's boundary (engine.common.data_root): nothing outside it is read or
listed, '..', absolute paths and links included."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from engine.cli import app
from engine.common.data_root import inside, tables_in
from engine.errors import ValidationError
from engine.pipeline.jobs import JobQueue, run_next
from engine.pipeline.setup import config_from_roles, propose_roles, study_yaml
from tests.system.test_table_checks import breast_table


def exported_table():
    """The breast-cancer features named as a PyRadiomics export, with clinical columns, outcomes and notes."""
    table = breast_table()
    table = table.rename(columns={c: c.replace("rad_", "original_firstorder_") for c in table.columns})
    table["diagnostics_Versions_PyRadiomics"] = "v3.0.1"
    table["notes"] = [f"seen by reader {i}" for i in range(len(table))]
    return table


def test_the_roles_proposed_for_an_exported_feature_table():
    roles = propose_roles(exported_table())
    assert roles["patient_id"] == "patient id" and roles["label"] == "binary endpoint"
    assert roles["rfs_time"] == "survival time" and roles["rfs_event"] == "survival event"
    assert roles["center"] == "centre" and roles["age"] == roles["sex"] == roles["stage"] == "clinical"
    assert roles["original_firstorder_mean_radius"] == "feature"
    assert roles["diagnostics_Versions_PyRadiomics"] == roles["notes"] == "ignore"
    assert sum(role == "feature" for role in roles.values()) == 8


def test_the_config_of_the_roles_round_trips_through_yaml_to_the_same_run(tmp_path):
    """The browser path (roles -> config -> a job) and the terminal path (the YAML the page offers -> train) give one
    run id."""
    table = exported_table()
    folder = tmp_path / "data" / "studies" / "breast"
    folder.mkdir(parents=True)
    table.to_csv(folder / "features.csv", index=False)
    roles = propose_roles(table)
    roles["stage"] = "reference score"
    settings = {
        "name": "breast",
        "reference_scores": {"stage": {"column": "stage", "order": ["A", "B", "C"]}},  # the page asks for the order
        "grid": {"classifiers": ["LR"], "n_iter": 1, "folds": 3, "stacking": False, "search": "random"},
        "device": "cpu",
    }
    config = config_from_roles(roles, source="features.csv", settings=settings)
    assert config["cohort"]["clinical"] == ["age", "sex"] and config["survival_endpoints"] == ["rfs"]
    assert config["cohort"]["ignore_columns"] == ["diagnostics_Versions_PyRadiomics", "notes"]
    assert config["reference_scores"] == {"stage": {"column": "stage", "order": ["A", "B", "C"]}}
    assert config["endpoint"] == "label"
    assert set(config["grid"]["models"]) == {"Clinical", "Rad", "Clinical+Rad"}
    queue = JobQueue(tmp_path / "store")
    job = queue.submit(config, folder, user="radiologist")
    browser = run_next(queue, poll=0.1)
    assert browser.status == "finished", (browser.message, queue.log(job.job_id))
    (folder / "study.yaml").write_text(study_yaml(config), encoding="utf-8")
    store = str(tmp_path / "store")
    result = CliRunner().invoke(app, ["train", "--config", str(folder / "study.yaml"), "--store", store])
    assert result.exit_code == 0, result.output
    assert result.output.split()[-1] == browser.run_id  # served from the store: the same run


def test_roles_the_engine_cannot_read_are_refused_with_the_fix():
    roles = propose_roles(breast_table().rename(columns={"patient_id": "ID"}))
    assert roles["ID"] == "patient id"
    with pytest.raises(ValidationError, match=r"patient id is read from one column named 'patient_id'; got \['ID'\]"):
        config_from_roles(roles, source="features.csv")
    with pytest.raises(ValidationError, match="role must be one of"):
        config_from_roles({"patient_id": "patient id", "x": "outcome?"}, source="features.csv")
    with pytest.raises(ValidationError, match=r"grid.n_iter"):
        config_from_roles({"patient_id": "patient id"}, source="f.csv", settings={"grid": {"n_iter": 0}})


def test_nothing_outside_the_data_folder_is_read_or_listed(tmp_path):
    root = tmp_path / "data"
    (root / "studies" / "a").mkdir(parents=True)
    (root / "studies" / "a" / "features.csv").write_text("patient_id\n1\n")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.csv").write_text("x\n")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "patients.csv").write_text("patient_id\n1\n")
    os.symlink(outside, root / "studies" / "link_out")  # a folder link pointing out
    os.symlink(outside / "patients.csv", root / "studies" / "patients.csv")  # a file link pointing out
    os.symlink(root / "studies" / "a", root / "studies" / "link_in")  # a link that stays inside
    assert inside(root, "studies/a/features.csv") == (root / "studies" / "a" / "features.csv").resolve()
    for escaping in ("../elsewhere/patients.csv", "studies/../../elsewhere/patients.csv", str(outside / "patients.csv"),
                     "studies/link_out/patients.csv", "studies/patients.csv", "/etc/passwd"):  # fmt: skip
        with pytest.raises(ValidationError, match="leaves the data folder"):
            inside(root, escaping)
    assert inside(root, "studies/link_in/features.csv") == (root / "studies" / "a" / "features.csv").resolve()
    assert tables_in(root) == ["studies/a/features.csv"]  # not the hidden folder, not through links
