"""Run one function per patient: in this process, on local worker processes, or on a Dask cluster.

Each patient's outcome is its result or the exception it raised, so one failure never loses the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any


def _single_threaded_worker() -> None:
    """One thread per worker process: ITK, BLAS and OpenMP would otherwise each start one per core and the
    workers would fight over the cores (seen: 3x slower extraction after torch was imported in the parent)."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"
    try:
        import SimpleITK as sitk

        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)
    except ImportError:
        pass


def _safe(function: Callable[[Any], Any], task: Any) -> Any:
    try:
        return function(task)
    except Exception as error:  # noqa: BLE001 - reported per patient by the caller
        return error


def map_patients(
    function: Callable[[Any], Any],
    tasks: Mapping[str, Any],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """{patient_id: result or exception}. ``scheduler`` ("tcp://host:port", or "local:N" for a LocalCluster)
    sends the work to Dask; a task of a worker that dies is given to another worker."""
    results: dict[str, Any] = {}
    if not tasks:
        return results
    if scheduler:
        from distributed import Client, as_completed as dask_completed

        from engine.common.cluster import dask_cluster

        with dask_cluster(scheduler) as address, Client(address) as client:
            futures = {client.submit(_safe, function, task, pure=False): pid for pid, task in tasks.items()}
            for future in dask_completed(futures):
                results[futures[future]] = future.result()
                if progress:
                    progress(1)
        return results
    if workers <= 1:
        for pid, task in tasks.items():
            results[pid] = _safe(function, task)
            if progress:
                progress(1)
        return results
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_single_threaded_worker) as pool:
        futures = {pool.submit(_safe, function, task): pid for pid, task in tasks.items()}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            if progress:
                progress(1)
    return results
