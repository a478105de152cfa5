"""Studies trained as jobs: queued, run by a runner (one at a time unless told more), recorded in the store.

A job is a folder ``<store>/jobs/<job_id>/`` holding ``job.json`` (who started what, when, with which config; its
status and each stage's progress) and ``log.txt``. ``JobQueue.submit`` checks the config and the data first (every
problem is listed before anything is queued); the runner (``run_jobs``, or ``hcc-study jobs run``) claims the oldest
queued job under the queue's lock and trains it in a child process, so that closing a browser tab does not stop it
and a Cancel (from any process: the runner watches the job's status) stops it at once. A job whose process is gone
while it says "running" (the server was restarted, the machine went down) is marked interrupted by ``recover``;
``resume`` queues it again, and its study reuses the finished steps (radiomics, deep features) from
``<store>/partial`` as ``train`` does. The history survives restarts: it is the folder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from engine.errors import ValidationError

STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")
DONE = ("finished", "failed", "cancelled")


@dataclasses.dataclass
class Job:
    """One study to train: its settings, who asked, and how far it got."""

    job_id: str
    name: str
    user: str
    created: str
    config: dict[str, Any]  # the study config as given (YAML-able)
    base: str  # the folder the config's relative paths resolve against
    status: str = "queued"
    run_id: str | None = None
    message: str = ""  # the error of a failed job, the reason of a cancelled or interrupted one
    stages: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # stage -> [done, total]
    started: float | None = None  # epoch seconds
    ended: float | None = None
    pid: int | None = None  # the child process training it (its own process group: Cancel ends it)
    runner_pid: int | None = None  # the runner that claimed it (never signalled; tells a restart from a start)
    submitted: float = 0.0  # epoch seconds at submission: the queue's order
    host: str = ""  # the machine whose runner trains it (a pid means something there only)
    stage_times: dict[str, list[float]] = dataclasses.field(default_factory=dict)  # stage -> [first seen, last]

    def elapsed(self, now: float | None = None) -> float:
        """Seconds the job has run (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.ended or now or time.time()) - self.started

    def time_left(self, now: float | None = None) -> tuple[str, float] | None:
        """(stage, seconds) left in the stage under way, from its pace so far (None before a step of it is done).
        Later stages are not known in advance: the estimate is the current stage's."""
        if self.status != "running":
            return None
        now = now or time.time()
        for stage in reversed(list(self.stages)):
            done, total = self.stages[stage]
            if stage in self.stage_times and 0 < done < total:
                spent = now - self.stage_times[stage][0]
                return stage, spent * (total - done) / done
            if done < total:
                return None
        return None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class JobQueue:
    """The jobs of one store (``<store>/jobs``)."""

    def __init__(self, store_root: str | Path):
        self.root = Path(store_root)
        self.folder = self.root / "jobs"
        self.folder.mkdir(parents=True, exist_ok=True)

    # -- reading and writing one job (atomic replace: a reader never sees half a file)
    def path(self, job_id: str) -> Path:
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValidationError(f"job id must be one of the queue's ids; got {job_id!r}.")
        return self.folder / job_id

    def get(self, job_id: str) -> Job:
        file = self.path(job_id) / "job.json"
        if not file.exists():
            raise ValidationError(f"job {job_id!r} is not in the queue at {self.folder}; see hcc-study jobs list.")
        return Job(**json.loads(file.read_text(encoding="utf-8")))

    def save(self, job: Job) -> Job:
        folder = self.path(job.job_id)
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f"job.{os.getpid()}.tmp"
        temporary.write_text(json.dumps(dataclasses.asdict(job), indent=1), encoding="utf-8")
        os.replace(temporary, folder / "job.json")
        return job

    def update(self, job_id: str, **changes: Any) -> Job:
        """Change a job's fields under its lock (the runner, the training process and a Cancel never overwrite one
        another's change)."""
        with open(self.path(job_id) / "lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                return self.save(dataclasses.replace(self.get(job_id), **changes))
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def claim_next(self) -> Job | None:
        """The oldest queued job, marked running by this process under the queue's lock (two runners never take the
        same job), or None."""
        with open(self.folder / "queue.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                queued = [job for job in self.list() if job.status == "queued"]
                if not queued:
                    return None
                return self.update(
                    queued[0].job_id,
                    status="running",
                    started=time.time(),
                    ended=None,
                    pid=None,
                    runner_pid=os.getpid(),
                    host=socket.gethostname(),
                    message="",
                )
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def list(self) -> list[Job]:
        """Every job, oldest first."""
        jobs = []
        for file in self.folder.glob("*/job.json"):
            try:
                jobs.append(Job(**json.loads(file.read_text(encoding="utf-8"))))
            except (ValueError, TypeError):  # a job file written by another version: left out, not fatal
                continue
        return sorted(jobs, key=lambda job: (job.submitted, job.job_id))

    def log(self, job_id: str, lines: int = 40) -> str:
        """The last ``lines`` lines of the job's log."""
        file = self.path(job_id) / "log.txt"
        return (
            "\n".join(file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]) if file.exists() else ""
        )

    # -- what a user does
    def submit(self, config: dict[str, Any], base: str | Path, *, user: str = "local") -> Job:
        """Queue a study after checking its config and its data (a ValidationError lists every problem)."""
        from engine.config import parse_config
        from engine.pipeline.inputs import load_study_table

        study = parse_config(config)
        load_study_table(study, Path(base))  # the input checks: nothing is queued for a table that cannot train
        job = Job(
            job_id=f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}",
            name=study.name,
            user=user,
            created=_now(),
            config=config,
            base=str(Path(base).resolve()),
            submitted=time.time(),
        )
        self.save(job)
        (self.path(job.job_id) / "config.yaml").write_text(
            yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        return job

    def cancel(self, job_id: str) -> Job:
        """Stop a queued or running job: marked cancelled, and its runner terminates the training process (here at
        once when the runner is on this machine)."""
        job = self.get(job_id)
        if job.status in DONE:
            raise ValidationError(
                f"job {job_id} has already {job.status}; only a queued or running job can be cancelled."
            )
        if job.status == "running" and job.pid and job.host == socket.gethostname():
            try:
                os.killpg(job.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.update(job_id, status="cancelled", message="cancelled by the user", ended=time.time(), pid=None)

    def recover(self) -> list[Job]:
        """Mark as interrupted every job of this machine that says it is running but whose process is gone (a
        restart). The runner calls it; another machine's jobs are its runner's to judge."""
        found = []
        for job in self.list():
            here = job.host in ("", socket.gethostname())
            training = (job.pid and _alive(job.pid)) or (job.pid is None and job.runner_pid and _alive(job.runner_pid))
            if job.status == "running" and here and not training:
                found.append(
                    self.update(
                        job.job_id,
                        status="interrupted",
                        message="interrupted: its process ended without finishing (a restart?); resume it to go on "
                        "from the finished steps",
                        pid=None,
                    )
                )
        return found

    def resume(self, job_id: str) -> Job:
        """Queue an interrupted, failed or cancelled job again; its finished steps are reused."""
        job = self.get(job_id)
        if job.status not in ("interrupted", "failed", "cancelled"):
            raise ValidationError(
                f"job {job_id} is {job.status}; only an interrupted, failed or cancelled job resumes."
            )
        return self.update(job_id, status="queued", message="", ended=None, pid=None)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not yet reaped is a zombie: gone for our purpose
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def start(queue: JobQueue, job: Job, *, workers: int = 1, scheduler: str | None = None) -> subprocess.Popen:
    """Train a claimed job in a child process in its own session (so that Cancel can end it with its workers)."""
    log = open(queue.path(job.job_id) / "log.txt", "a", encoding="utf-8")  # noqa: SIM115 - the child's output
    command = [sys.executable, "-m", "engine", "jobs", "work", job.job_id, "--store", str(queue.root)]
    command += ["--workers", str(workers), *(["--scheduler", scheduler] if scheduler else [])]
    child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()  # the child holds its own copy
    queue.update(job.job_id, pid=child.pid)
    return child


def settle(queue: JobQueue, job_id: str, child: subprocess.Popen) -> Job:
    """The job as its ended process left it (a process killed without saying how: failed, with its status)."""
    ended = queue.get(job_id)
    if ended.status == "running":
        ended = queue.update(
            job_id, status="failed", message=f"the job's process ended with status {child.returncode}", pid=None
        )
    return ended


def _stop_if_cancelled(queue: JobQueue, job_id: str, child: subprocess.Popen) -> None:
    if child.poll() is None and queue.get(job_id).status == "cancelled":
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def run_next(queue: JobQueue, *, workers: int = 1, poll: float = 0.5, scheduler: str | None = None) -> Job | None:
    """Train the oldest queued job in a child process and wait for it (a Cancel terminates the child); returns the
    job as it ended, or None when nothing is queued."""
    job = queue.claim_next()
    if job is None:
        return None
    child = start(queue, job, workers=workers, scheduler=scheduler)
    while child.poll() is None:
        _stop_if_cancelled(queue, job.job_id, child)
        time.sleep(poll)
    return settle(queue, job.job_id, child)


def run_jobs(
    queue: JobQueue,
    *,
    parallel: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
    poll: float = 0.5,
    once: bool = False,
    stop: threading.Event | None = None,
    ended: Callable[[Job], None] = lambda job: None,
) -> None:
    """The runner: up to ``parallel`` jobs at a time, oldest first, each in its own process with ``workers`` cores
    (or on the Dask ``scheduler``); a cancelled job's process is terminated. ``once``: stop when nothing is queued or
    running; ``stop``: stop taking jobs when set (the running ones finish)."""
    if parallel < 1:
        raise ValidationError(f"parallel must be 1 or more jobs at a time; got {parallel}.")
    running: dict[str, subprocess.Popen] = {}
    while True:
        for job_id, child in list(running.items()):
            _stop_if_cancelled(queue, job_id, child)
            if child.poll() is not None:
                ended(settle(queue, job_id, running.pop(job_id)))
        while len(running) < parallel and not (stop and stop.is_set()):
            job = queue.claim_next()
            if job is None:
                break
            running[job.job_id] = start(queue, job, workers=workers, scheduler=scheduler)
        if not running and (once or (stop and stop.is_set())):
            return
        time.sleep(poll)


def work(queue: JobQueue, job_id: str, *, workers: int = 1, scheduler: str | None = None) -> Job:
    """Train one job here (the child process of ``run_next``): progress into job.json, the outcome at the end."""
    from engine.config import parse_config
    from engine.pipeline.study import run_study
    from engine.store import RunStore

    job = queue.get(job_id)
    stages: dict[str, list[int]] = dict(job.stages)
    times: dict[str, list[float]] = {}  # this attempt's pace (a resumed job's earlier stages keep their bars)
    last = [0.0]

    def progress(stage: str, done: int, total: int) -> None:
        name, now = stage.split(":")[0], time.time()
        stages[name] = [int(done), int(total)]
        times.setdefault(name, [now, now])[1] = now
        print(f"{stage}: {done}/{total}", flush=True)
        if now - last[0] > 0.5 or (total and done >= total):
            last[0] = now
            queue.update(job_id, stages=dict(stages), stage_times=dict(times))  # a Cancel meanwhile stays

    try:
        run_id = run_study(
            parse_config(job.config),
            Path(job.base),
            RunStore(queue.root),
            workers=workers,
            scheduler=scheduler,
            progress=progress,
        )
    except ValidationError as error:
        print(f"error: {error}", flush=True)
        return queue.update(job_id, status="failed", message=str(error), ended=time.time(), pid=None, stages=stages)
    except Exception as error:  # noqa: BLE001 - said on the jobs panel; the traceback is in the log
        import traceback

        traceback.print_exc()
        message = f"unexpected error ({type(error).__name__}: {error}); the traceback is in the job's log"
        return queue.update(job_id, status="failed", message=message, ended=time.time(), pid=None, stages=stages)
    print(f"finished: run {run_id}", flush=True)
    if queue.get(job_id).status == "cancelled":  # cancelled as it finished: the run is stored, the job says so
        return queue.update(job_id, run_id=run_id, stages=stages)
    return queue.update(job_id, status="finished", run_id=run_id, ended=time.time(), pid=None, stages=stages)
