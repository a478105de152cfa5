"""Jobs: every study queued from the New study page or `hcc-study jobs submit`, with its stages, elapsed time, log,
Cancel and Resume; a finished job's run opens on the Overview."""

import os
import time

import streamlit as st

from dashboard import cached
from engine.errors import ValidationError

STATUS_ICONS = {
    "queued": ":material/schedule:",
    "running": ":material/play_circle:",
    "finished": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
    "interrupted": ":material/warning:",
}

st.title("Jobs")
queue = cached.job_queue(str(cached.STORE))


def active() -> bool:
    return any(job.status in ("queued", "running") for job in queue.list())


@st.fragment(run_every=2.0 if active() else None)
def job_list() -> None:
    """Every job, newest first; redrawn every 2 s while one is queued or running (the rest of the page stays)."""
    jobs = list(reversed(queue.list()))
    if not jobs:
        st.info("No job yet: set up a study on the New study page and press Train.")
        return
    parallel = int(os.environ.get("HCC_JOB_PARALLEL", "1"))
    at_once = "One job runs" if parallel == 1 else f"Up to {parallel} jobs run"
    st.caption(f"{at_once} at a time; closing the tab does not stop a job.")
    now = time.time()
    for index, job in enumerate(jobs):
        show(job, now, expanded=job.status == "running" or (index == 0 and not active()))


def duration(seconds: float) -> str:
    """12 s, 4 min, 1 h 05 min."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:02.0f} min"


def show(job, now: float, *, expanded: bool) -> None:
    ran = f", {duration(job.elapsed(now))}" if job.started else ""
    left = job.time_left(now)
    if left is not None:
        ran += f", about {duration(left[1])} left in {left[0]}"
    when = job.created.replace("T", " ")[:16] + " UTC"
    title = f"{job.name} · {job.status}{ran} · started by {job.user} · {when}"
    with st.expander(title, expanded=expanded, icon=STATUS_ICONS.get(job.status)):
        st.caption(
            f"job {job.job_id}"
            + (" · the time left is the current stage's, at its pace so far" if left is not None else "")
        )
        for stage, (done, total) in job.stages.items():
            st.progress(min(done / total, 1.0) if total else 0.0, text=f"{stage}: {done} of {total}")
        if job.message:
            (st.error if job.status == "failed" else st.info)(job.message)
        log = queue.log(job.job_id, lines=20)
        if log:
            st.code(log, language="text")
        buttons = st.columns(3)
        try:
            if job.status in ("queued", "running") and buttons[0].button("Cancel", key=f"jobs_cancel_{job.job_id}"):
                queue.cancel(job.job_id)
                st.rerun()
            resumable = job.status in ("interrupted", "failed", "cancelled")
            if resumable and buttons[0].button("Resume", key=f"jobs_resume_{job.job_id}"):
                queue.resume(job.job_id)
                st.rerun()
        except ValidationError as error:
            st.error(str(error))
        if job.status == "finished" and job.run_id and buttons[1].button("Open its run", key=f"jobs_open_{job.job_id}"):
            st.session_state["open_run"] = job.run_id  # the sidebar picks it before its widgets are drawn
            st.switch_page("app_pages/overview.py")


job_list()
