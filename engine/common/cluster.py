"""The study on a Dask cluster: a scheduler's address, or ``local:N`` for a LocalCluster of N worker processes.

Inside :func:`dask_cluster`, joblib's Dask backend is active, so every grid cell (model x classifier, its searches
inside), out-of-fold prediction, survival fit and bootstrap refit that runs through joblib (``n_jobs=-1``) becomes
a Dask task; the per-patient
radiomics go to the same cluster (engine.common.parallel). A worker that dies mid-run is survived: the scheduler
gives its tasks to the other workers. Results equal a local run with the same seed, because every random choice is
made from the seed in the launching process, not from where a task runs (see :func:`again_if_lost` for the tasks
whose data died with the worker).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError
from contextlib import contextmanager
from typing import Any, TypeVar

from engine.errors import ValidationError

LOCAL = re.compile(r"local:(\d+)")
GPU = "GPU"  # the Dask resource a worker with a GPU advertises: dask worker ... --resources "GPU=1"
ATTEMPTS = 3
T = TypeVar("T")


def check_scheduler(scheduler: str | None) -> None:
    """Raise a clear error unless ``scheduler`` is None, ``local:N`` (N >= 1) or ``tcp://host:port``."""
    if scheduler is None:
        return
    local = LOCAL.fullmatch(scheduler)
    if (local and int(local.group(1)) >= 1) or re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+", scheduler):
        return
    raise ValidationError(
        f"scheduler must be 'local:N' (a LocalCluster of N >= 1 worker processes) or a Dask scheduler address "
        f"such as 'tcp://10.0.0.5:8786'; got {scheduler!r}."
    )


@contextmanager
def dask_cluster(scheduler: str | None, *, connect_timeout: float = 30) -> Iterator[str | None]:
    """Connect to (or start) the cluster and make joblib send its work there; yields the scheduler's address
    (None without a scheduler: nothing changes and everything runs on this machine)."""
    check_scheduler(scheduler)
    if scheduler is None:
        yield None
        return
    import joblib
    from distributed import Client, LocalCluster

    local = LOCAL.fullmatch(scheduler)
    cluster = (
        LocalCluster(n_workers=int(local.group(1)), threads_per_worker=1, processes=True, dashboard_address=None)
        if local
        else None
    )
    try:
        client = Client(cluster if cluster is not None else scheduler, timeout=connect_timeout)
    except OSError as error:
        if cluster is not None:
            cluster.close()
        raise ValidationError(
            f"could not reach the Dask scheduler at {scheduler} ({error}); start one with `dask scheduler` and "
            f"workers with `dask worker {scheduler}`, or use --scheduler local:2."
        ) from None
    try:
        with joblib.parallel_config(backend="dask", wait_for_workers_timeout=60):
            yield client.scheduler.address
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def again_if_lost(call: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """``call()``, run again when Dask cancelled its tasks because a worker died. The scheduler reruns a dead
    worker's tasks itself, but joblib scatters large arguments (the feature matrix) to one worker, and tasks whose
    scattered data died with it are cancelled; every call here is deterministic, so a rerun gives the same result."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except CancelledError:  # distributed's FutureCancelledError; a local run never raises it
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


class Serial:
    """``function`` as a task that does its own joblib work (a search's folds, a forest's trees) in its process,
    one piece after another. Inside a task, joblib's Dask backend would send every nested ``Parallel`` back to the
    cluster as tasks of their own: a random forest cell took twice the CPU time and 2.5x the wall time on a
    2-process LocalCluster (local worker processes already run nested work serially).

    The task runs under the warning filters of the code that made it: a worker process (local or Dask) starts
    with Python's defaults, and a caller's ``warnings.simplefilter("ignore")`` or ``-W ignore`` would not reach it
    (the demo printed scikit-learn's deprecation warnings once per fold)."""

    def __init__(self, function: Callable[..., T]) -> None:
        self.function = function
        self.warning_filters = [  # as filterwarnings() takes them: text, not compiled patterns (None: any)
            (
                action,
                getattr(message, "pattern", message) or "",
                category,
                getattr(module, "pattern", module) or "",
                line,
            )
            for action, message, category, module, line in warnings.filters
        ]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import joblib

        with joblib.parallel_config(backend="sequential"), warnings.catch_warnings():
            warnings.resetwarnings()
            for rule in reversed(self.warning_filters):  # each goes in front: the first ends first, as it was
                warnings.filterwarnings(*rule)
            return self.function(*args, **kwargs)


def jobs(scheduler: str | None, workers: int) -> int:
    """joblib's n_jobs: every worker thread of the cluster (-1), else ``workers`` local processes."""
    return -1 if scheduler else max(1, workers)


def run_on_gpu_worker(scheduler: str | None, function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """Run ``function(*args)`` on a worker of the cluster that advertises a GPU (resource ``GPU``), returning
    (True, its result); (False, None) when there is no cluster or no such worker, for the caller to run it here."""
    if not scheduler:
        return False, None
    from distributed import Client

    with Client(scheduler, timeout=30) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        if not any(worker.get("resources", {}).get(GPU, 0) >= 1 for worker in workers):
            return False, None
        return True, client.submit(function, *args, resources={GPU: 1}, pure=False).result()
