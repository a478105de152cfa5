"""Studies trained as jobs (engine.pipeline.jobs): two submissions queue and run one at a time, each giving the run
that `train` gives; a bad table is refused before anything is queued; Cancel stops a queued or a running job; a
server restart finds a running job's process gone and marks it interrupted; resume trains it to the end."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import yaml

from engine.config import parse_config
from engine.errors import ValidationError
from engine.pipeline.jobs import Job, JobQueue, run_jobs, run_next
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
    assert set(ended.stage_times) >= {"model grid"}  # each stage's pace, for the time left
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


def wait_for(condition, what: str, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while not condition():
        assert time.time() < deadline, what
        time.sleep(0.1)


def test_the_runner_trains_two_jobs_at_once_when_told(study):
    """parallel=2: both queued jobs run at the same time (each its own process), and each gives train's run."""
    config, base, queue = study
    slow = {**config, "grid": {**config["grid"], "classifiers": ["LR", "RF"], "n_iter": 3}}
    jobs = [queue.submit({**slow, "seed": seed}, base) for seed in (1, 2)]
    ended = []
    runner = threading.Thread(target=lambda: run_jobs(queue, parallel=2, poll=0.1, once=True, ended=ended.append))
    runner.start()
    together = []

    def both_running() -> bool:
        now = [queue.get(job.job_id) for job in jobs]
        if all(job.status == "running" and job.pid is not None for job in now):
            together.append({job.pid for job in now})
        return bool(together) or all(job.status in ("finished", "failed") for job in now)

    wait_for(both_running, "the jobs did not start")
    runner.join(timeout=120)
    assert together and len(together[0]) == 2, "the two jobs never ran at the same time"
    assert sorted(job.status for job in ended) == ["finished", "finished"], [job.message for job in ended]
    assert {job.run_id for job in ended} == {
        run_study(parse_config({**slow, "seed": seed}), base, RunStore(queue.root)) for seed in (1, 2)
    }
    with pytest.raises(ValidationError, match="parallel must be 1 or more"):
        run_jobs(queue, parallel=0)


def test_a_cancel_written_by_another_machine_stops_the_training(study):
    """A dashboard replica elsewhere can only mark the job cancelled: the runner sees it and ends the process."""
    config, base, queue = study
    slow = {**config, "grid": {**config["grid"], "classifiers": ["LR", "RF", "SVM"], "n_iter": 6, "folds": 5}}
    job = queue.submit(slow, base)
    runner = threading.Thread(target=lambda: run_jobs(queue, poll=0.1, once=True))
    runner.start()
    wait_for(lambda: queue.get(job.job_id).pid is not None, "the job did not start")
    pid = queue.get(job.job_id).pid
    queue.update(job.job_id, status="cancelled", message="cancelled by the user")  # what cancel() writes elsewhere
    runner.join(timeout=60)
    assert not runner.is_alive() and queue.get(job.job_id).status == "cancelled"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_two_runners_never_claim_the_same_job(study):
    config, base, queue = study
    for seed in range(6):
        queue.submit({**config, "seed": seed}, base)
    claimed = []
    threads = [threading.Thread(target=lambda: claimed.extend(iter(JobQueue(queue.root).claim_next, None)))
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(claimed) == 6 and len({job.job_id for job in claimed}) == 6
    assert all(job.status == "running" and job.host == socket.gethostname() for job in claimed)


def test_recover_leaves_another_machines_jobs_alone(study):
    config, base, queue = study
    job = queue.submit(config, base)
    queue.update(job.job_id, status="running", pid=999_999_999, host="replica-2", started=time.time())
    assert queue.recover() == [] and queue.get(job.job_id).status == "running"


def test_the_time_left_is_the_running_stages_pace():
    job = Job(job_id="j", name="n", user="u", created="", config={}, base="", status="running")
    job.stages = {"radiomics": [40, 40], "model grid": [3, 12]}
    job.stage_times = {"radiomics": [0.0, 50.0], "model grid": [100.0, 125.0]}
    assert job.time_left(now=130.0) == ("model grid", pytest.approx(30.0 * 9 / 3))
    job.stages["model grid"] = [0, 12]  # no step done yet: no pace to go by
    assert job.time_left(now=130.0) is None
    assert dataclasses.replace(job, status="finished").time_left(now=130.0) is None


def test_a_job_claimed_but_not_started_is_neither_signalled_nor_interrupted(study):
    """Between the claim and the child's start the job has only its runner: a Cancel from elsewhere never signals
    the runner (it is not the training process), and a recover meanwhile does not call the job interrupted."""
    config, base, queue = study
    job = queue.submit(config, base)
    claim = f"from engine.pipeline.jobs import JobQueue; JobQueue({str(queue.root)!r}).claim_next()"
    runner = subprocess.Popen(  # another process claims the job and holds it, as a runner about to start the child
        [sys.executable, "-c", f"{claim}; import time; time.sleep(60)"], start_new_session=True
    )
    try:
        wait_for(lambda: queue.get(job.job_id).status == "running", "the job was not claimed")
        claimed = queue.get(job.job_id)
        assert claimed.pid is None and claimed.runner_pid == runner.pid
        assert JobQueue(queue.root).recover() == []  # its runner is alive: not interrupted
        assert queue.cancel(job.job_id).status == "cancelled"
        time.sleep(0.5)
        assert runner.poll() is None  # the runner was not signalled
    finally:
        runner.kill()
        runner.wait()
