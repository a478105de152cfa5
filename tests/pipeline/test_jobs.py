"""Studies trained as jobs (engine.pipeline.jobs): two submissions queue and run one at a time, each giving the run
that `train` gives; a bad table is refused before anything is queued; Cancel stops a queued or a running job; a
server restart finds a running job's process gone and marks it interrupted; resume trains it to the end."""

from __future__ import annotations

import subprocess
import threading
import time

import numpy as np
import pytest
import yaml

from engine.config import parse_config
from engine.errors import ValidationError
from engine.pipeline.jobs import JobQueue, run_next
from engine.pipeline.study import run_study
from engine.store import RunStore
from tests.system.test_table_checks import BASE_CONFIG, breast_table, edit, write


@pytest.fixture()
def study(tmp_path):
    config_path = write(tmp_path / "study", breast_table())
    return yaml.safe_load(config_path.read_text()), config_path.parent, JobQueue(tmp_path / "store")


def test_two_submissions_queue_and_run_one_at_a_time(study):
    config, base, queue = study
    first = queue.submit(config, base, user="ana")
    second = queue.submit({**config, "seed": 1}, base, user="ben")
    assert [job.status for job in queue.list()] == ["queued", "queued"]
    assert [job.user for job in queue.list()] == ["ana", "ben"] and queue.get(first.job_id).name == "checks"
    ended = run_next(queue, poll=0.1)
    assert ended.job_id == first.job_id and ended.status == "finished", (ended.message, queue.log(first.job_id))
    assert queue.get(second.job_id).status == "queued"  # one job at a time
    assert ended.run_id == run_study(parse_config(config), base, RunStore(queue.root))  # the run `train` gives
    assert ended.stages["model grid"][0] == ended.stages["model grid"][1] > 0 and ended.elapsed() > 0
    assert "finished: run" in queue.log(first.job_id)
    assert run_next(queue, poll=0.1).status == "finished" and run_next(queue) is None
    assert (queue.path(first.job_id) / "config.yaml").exists()  # what was asked, kept with the job


def test_a_bad_table_is_refused_before_anything_is_queued(study, tmp_path):
    config, base, queue = study
    write(base, edit("patient_id", 3, "P001")(breast_table()))
    with pytest.raises(ValidationError, match="patient_id must be unique"):
        queue.submit(config, base)
    with pytest.raises(ValidationError, match="seeed: unknown setting"):
        queue.submit({**config, "seeed": 1}, base)
    assert queue.list() == []


def test_cancel_a_queued_and_a_running_job(study):
    config, base, queue = study
    slow = {**config, "grid": {**config["grid"], "classifiers": ["LR", "RF", "SVM"], "n_iter": 6, "folds": 5}}
    running = queue.submit(slow, base)
    waiting = queue.submit(config, base)
    assert queue.cancel(waiting.job_id).status == "cancelled"
    result = {}
    runner = threading.Thread(target=lambda: result.update(job=run_next(queue, poll=0.1)))
    runner.start()
    deadline = time.time() + 60
    while queue.get(running.job_id).status != "running" or queue.get(running.job_id).pid is None:
        assert time.time() < deadline, "the job did not start"
        time.sleep(0.1)
    pid = queue.get(running.job_id).pid
    assert queue.cancel(running.job_id).status == "cancelled"
    runner.join(timeout=60)
    assert not runner.is_alive() and result["job"].status == "cancelled"
    assert result["job"].run_id is None and "cancelled by the user" in result["job"].message
    with pytest.raises(ProcessLookupError):  # the training process is gone
        import os

        os.kill(pid, 0)
    assert run_next(queue) is None  # the cancelled queued job is not run
    with pytest.raises(ValidationError, match="has already cancelled"):
        queue.cancel(running.job_id)


def test_a_restart_marks_a_running_job_interrupted_and_resume_finishes_it(study):
    config, base, queue = study
    job = queue.submit(config, base)
    gone = subprocess.Popen(["true"])
    gone.wait()
    queue.update(job.job_id, status="running", pid=gone.pid, started=time.time())  # as a stopped server left it
    assert [j.job_id for j in JobQueue(queue.root).recover()] == [job.job_id]  # the restarted server's queue
    interrupted = queue.get(job.job_id)
    assert interrupted.status == "interrupted" and "resume it" in interrupted.message
    with pytest.raises(ValidationError, match="only an interrupted, failed or cancelled job resumes"):
        queue.resume(queue.submit(config, base).job_id)
    assert queue.resume(job.job_id).status == "queued"
    ended = run_next(queue, poll=0.1)
    assert ended.job_id == job.job_id and ended.status == "finished" and ended.run_id


def test_a_failing_job_says_why(study, monkeypatch):
    config, base, queue = study
    job = queue.submit(config, base)
    table = breast_table()
    table["label"] = np.where(np.arange(len(table)) < 3, 1, 0)  # 3 events: the grid cannot train
    write(base, table)
    ended = run_next(queue, poll=0.1)
    assert ended.status == "failed" and ended.message, queue.log(job.job_id)
    assert BASE_CONFIG["name"] == queue.get(job.job_id).name
