"""The New study, Jobs and Predict pages (AppTest): a feature table uploaded in one browser session becomes a config
whose YAML is shown and a queued job (the runner is the test here); a bad table is refused before anything is
queued; the data folder lists only its own tables; another session does not see the upload; the Jobs page shows
each job's status and stages, cancels a queued job and resumes it; the Predict page scores new patients with the
run's stored pipelines, refuses a table that lacks their columns, and offers the downloads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from engine.pipeline.jobs import JobQueue, run_next
from tests.system.test_table_checks import breast_table, edit

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(autouse=True)
def own_caches():
    """This module's stores are its own: the dashboard's cached store handle, run list and run tables are emptied
    before and after each test, so that other tests in the same process see theirs."""
    from dashboard import cached

    caches = (cached.store, cached.runs, cached.run_tables)
    for cache in caches:
        cache.clear()
    yield
    for cache in caches:
        cache.clear()


class Upload:
    def __init__(self, name: str, data: bytes):
        self.name, self._data = name, data

    def getvalue(self) -> bytes:
        return self._data


def page(
    tmp_path, monkeypatch, name: str, upload: bytes | None = None, data_root: Path | None = None, key="new_study_upload"
) -> AppTest:
    import streamlit

    from dashboard import cached

    store = tmp_path / "store"
    monkeypatch.setenv("HCC_STORE", str(store))
    monkeypatch.setenv("HCC_JOB_RUNNER", "0")  # the test runs the jobs
    monkeypatch.setattr(cached, "STORE", store)
    monkeypatch.setattr(cached, "DATA_ROOT", data_root or tmp_path / "studies")
    original = streamlit.file_uploader  # AppTest cannot drive a file uploader: the page's one gets the table

    def uploader(label, *args, **kwargs):
        if kwargs.get("key") == key:
            return Upload("features.csv", upload) if upload is not None else None
        return original(label, *args, **kwargs)

    monkeypatch.setattr(streamlit, "file_uploader", uploader)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page(f"app_pages/{name}.py").run()
    assert not at.exception, at.exception
    return at


def test_an_uploaded_table_becomes_a_config_and_a_queued_job(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch, "new_study", upload=breast_table().to_csv(index=False).encode())
    counts = next(c.value for c in at.main.caption if c.value.startswith("feature"))  # the proposed roles
    assert "feature: 8" in counts and "patient id: 1" in counts and "binary endpoint: 1" in counts
    shown = yaml.safe_load(at.code[0].value)
    assert shown["cohort"]["feature_table"] == "features.csv" and shown["cohort"]["clinical"] == ["age", "sex", "stage"]
    assert shown["endpoint"] == "label" and shown["survival_endpoints"] == ["rfs"]
    sections = [e.label for e in at.expander]
    assert (
        sections[:4] == ["Models", "Feature selection", "Search and validation", "Cohorts"] and "Survival" in sections
    )
    at.multiselect(key="new_study_grid.selection.steps").set_value(["variance", "rfe"])
    at.text_input(key="new_study_survival.horizons").set_value("12, 24").run()
    shown = yaml.safe_load(at.code[0].value)  # the YAML follows the form
    assert shown["grid"]["selection"] == {"steps": ["variance", "rfe"]} and shown["survival"]["horizons"] == [12, 24]
    at.text_input(key="new_study_survival.horizons").set_value("12, soon").run()
    assert "give numbers separated by commas" in at.error[0].value and not at.code  # no YAML, no Train
    at.text_input(key="new_study_survival.horizons").set_value("").run()
    at.number_input(key="new_study_grid.folds").set_value(3)
    at.number_input(key="new_study_grid.n_iter").set_value(1)
    at.multiselect(key="new_study_grid.classifiers").set_value(["LR"]).run()
    at.button(key="new_study_train").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "Queued as job" in at.success[0].value
    queue = JobQueue(tmp_path / "store")
    (job,) = queue.list()
    assert job.user == "browser" and job.config["grid"]["classifiers"] == ["LR"] and job.config["grid"]["folds"] == 3
    assert job.config["grid"]["selection"]["steps"] == ["variance", "rfe"]
    assert Path(job.base).parent == tmp_path / "store" / "uploads"  # this session's own folder
    assert run_next(queue, poll=0.1).status == "finished", queue.log(job.job_id)
    other = page(tmp_path, monkeypatch, "new_study")  # another browser session
    assert other.session_state["new_study_session"] != Path(job.base).name
    other.radio(key="new_study_source").set_value("A table in the data folder").run()
    assert "No table in the data folder" in other.info[0].value  # the uploads are not in the data folder


def test_a_bad_table_is_refused_before_anything_is_queued(tmp_path, monkeypatch):
    bad = edit("patient_id", 4, "P001")(breast_table()).to_csv(index=False).encode()
    at = page(tmp_path, monkeypatch, "new_study", upload=bad)
    at.button(key="new_study_train").click().run()
    assert "patient_id must be unique" in at.error[0].value and not at.success
    assert JobQueue(tmp_path / "store").list() == []


def test_the_data_folder_lists_its_own_tables_only(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "studies" / "breast").mkdir(parents=True)
    breast_table().to_csv(root / "studies" / "breast" / "features.csv", index=False)
    breast_table().to_csv(tmp_path / "outside.csv", index=False)
    at = page(tmp_path, monkeypatch, "new_study", data_root=root)
    at.radio(key="new_study_source").set_value("A table in the data folder").run()
    assert at.selectbox(key="new_study_table").options == ["studies/breast/features.csv"]
    assert yaml.safe_load(at.code[0].value)["cohort"]["feature_table"] == "features.csv"


@pytest.fixture()
def two_jobs(tmp_path):
    folder = tmp_path / "studies" / "breast"
    folder.mkdir(parents=True)
    breast_table().to_csv(folder / "features.csv", index=False)
    from tests.system.test_table_checks import BASE_CONFIG

    queue = JobQueue(tmp_path / "store")
    done = queue.submit(BASE_CONFIG, folder, user="ana")
    run_next(queue, poll=0.1)
    waiting = queue.submit({**BASE_CONFIG, "seed": 3}, folder, user="ben")
    return queue, done, waiting


def test_the_jobs_page_shows_stages_and_cancels_and_resumes(tmp_path, monkeypatch, two_jobs):
    queue, done, waiting = two_jobs
    at = page(tmp_path, monkeypatch, "jobs")
    titles = [e.label for e in at.expander]
    assert titles[0].startswith("checks · queued · started by ben")
    assert titles[1].startswith("checks · finished") and "started by ana" in titles[1]
    stages = [p.proto for p in at.get("progress")]  # the finished job's stages, full
    assert any(p.value == 100 and p.text == "model grid: 2 of 2" for p in stages), stages
    at.button(key=f"jobs_cancel_{waiting.job_id}").click().run()
    assert queue.get(waiting.job_id).status == "cancelled"
    at.button(key=f"jobs_resume_{waiting.job_id}").click().run()
    assert queue.get(waiting.job_id).status == "queued"
    at.button(key=f"jobs_open_{done.job_id}").click().run()
    assert at.session_state["sidebar_run"] == queue.get(done.job_id).run_id


def test_the_predict_page_scores_new_patients_with_the_stored_pipelines(tmp_path, monkeypatch, two_jobs):
    from engine.pipeline.new_patients import predict_new
    from engine.store import RunStore

    queue, done, _ = two_jobs
    run_id = queue.get(done.job_id).run_id
    new = breast_table(160).iloc[120:].drop(columns=["label", "rfs_time", "rfs_event", "center"])
    at = page(tmp_path, monkeypatch, "predict", upload=new.to_csv(index=False).encode(), key="predict_upload")
    assert at.selectbox(key="predict_run").value == run_id
    at.button(key="predict_go").click().run()
    assert not at.error, [e.value for e in at.error]
    assert "40 new patients scored by 2 models" in at.success[0].value
    shown = at.dataframe[0].value
    (tmp_path / "new.csv").write_text(new.to_csv(index=False))
    expected = predict_new(RunStore(tmp_path / "store").load(run_id), tmp_path / "new.csv")
    assert shown["prob"].tolist() == expected["prob"].tolist() and set(shown["rfs_risk_group"]) == {"high", "low"}
    assert set(shown["label_call"]) == {"positive", "negative"} and shown["cutoff"].notna().all()
    nomogram = at.dataframe[1].value  # the run's default nomogram: Rad-score points, total, probability and CI
    assert len(nomogram) == 40 and (nomogram["ci_low"] <= nomogram["probability"]).all()
    assert (nomogram["probability"] <= nomogram["ci_high"]).all() and "Rad-score points" in nomogram
    assert len(at.get("download_button")) == 4  # CSV and XLSX of each table
    bad = page(tmp_path, monkeypatch, "predict", upload=new.drop(columns="age").to_csv(index=False).encode(),
               key="predict_upload")  # fmt: skip
    bad.button(key="predict_go").click().run()
    assert "1 column(s) the run's models need are missing: age (for Clinical)" in bad.error[0].value


def test_a_manifest_in_the_data_folder_becomes_an_image_study(tmp_path, monkeypatch, small_cohort):
    """Image, mask and second-reader columns are proposed as such; the config is an image study (radiomics and deep
    features extracted), with the manifest's own folder as the base of its paths."""
    import shutil

    root = tmp_path / "data"
    shutil.copytree(small_cohort.parent, root / "studies" / "liver")
    at = page(tmp_path, monkeypatch, "new_study", data_root=root)
    at.selectbox(key="new_study_table").set_value("studies/liver/manifest.csv").run()
    shown = yaml.safe_load(at.code[0].value)
    assert shown["cohort"]["manifest"] == "manifest.csv" and "feature_table" not in shown["cohort"]
    assert "radiomics" not in shown and "deep" not in shown  # extracted, with the config's defaults
    assert set(shown["grid"]["models"]) == {
        "Clinical",
        "Rad",
        "DL",
        "Clinical+Rad",
        "Clinical+DL",
        "Rad+DL",
        "Combined",
    }
    counts = next(c.value for c in at.main.caption if "image" in c.value)
    assert "image: 3" in counts and "mask: 1" in counts


def test_a_running_job_shows_the_time_left_in_its_stage(tmp_path, monkeypatch, two_jobs):
    import time

    queue, _, waiting = two_jobs
    now = time.time()
    queue.update(
        waiting.job_id,
        status="running",
        started=now - 40,
        stages={"radiomics": [10, 10], "model grid": [6, 12]},
        stage_times={"radiomics": [now - 40, now - 30], "model grid": [now - 30, now - 1]},
    )
    at = page(tmp_path, monkeypatch, "jobs")
    title = at.expander[0].label
    assert re.match(r"checks · running, 4\d s, about 3\d s left in model grid · started by ben", title), title


def test_the_demos_cohort_can_be_set_up_and_trained_as_a_new_study(tmp_path, monkeypatch, small_cohort):
    """Where `engine demo` wrote its cohort, New study offers it (a newcomer has no table of their own yet): an image
    study on the demo's manifest, named after it, queued with the demo's folder as the base of its image paths;
    without the demo's folder the choice is not there."""
    import shutil

    from dashboard import cached
    from engine.pipeline.jobs import JobQueue

    monkeypatch.setattr(cached, "DEMO_STUDY", tmp_path / "no demo")
    at = page(tmp_path, monkeypatch, "new_study")
    assert "The demo's cohort (images)" not in at.radio(key="new_study_source").options
    shutil.copytree(small_cohort.parent, tmp_path / "demo_study")
    monkeypatch.setattr(cached, "DEMO_STUDY", tmp_path / "demo_study")
    at.run()
    at.radio(key="new_study_source").set_value("The demo's cohort (images)").run()
    assert not at.error, [e.value for e in at.error]
    assert at.text_input(key="new_study_name").value == "demo cohort"
    shown = yaml.safe_load(at.code[0].value)
    assert shown["cohort"]["manifest"] == "manifest.csv" and "feature_table" not in shown["cohort"]
    # the form opens with the demo's settings (assets/demo_study.yaml), not the template's heavier defaults
    assert shown["radiomics"] == {"preset": "ct_demo"} and shown["grid"]["survival_methods"] == ["Cox", "RSF"]
    assert shown["grid"]["n_iter"] == 3 and shown["grid"]["search"] == "random"
    assert shown["cohort"]["external_centers"] == ["C3"] and shown["cohort"]["log_transform"] == ["afp"]
    at.button(key="new_study_train").click().run()
    (job,) = JobQueue(tmp_path / "store").list()
    assert Path(job.base) == (tmp_path / "demo_study").resolve() and job.config["name"] == "demo cohort"
