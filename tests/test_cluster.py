"""The whole study on a Dask cluster (engine.common.cluster): a LocalCluster of 2 worker processes gives the run a local
process gives, a worker killed mid-run does not change it, and a worker advertising a GPU trains the network."""

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from engine.common.cluster import check_scheduler, dask_cluster, run_on_gpu_worker
from engine.config import parse_config
from engine.errors import ValidationError
from engine.store import RunStore
from engine.pipeline.study import run_study


def _feature_study(folder):
    """A feature-table study with a binary label and a survival endpoint (real features: breast cancer)."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True)
    rng = np.random.default_rng(7)
    frame = data.data.iloc[:300, :6].copy()
    frame.columns = [f"rad_{c.replace(' ', '_')}" for c in frame.columns]
    label = 1 - data.target.iloc[:300].to_numpy()
    frame.insert(0, "patient_id", [f"P{i:03d}" for i in range(len(frame))])
    frame.insert(1, "label", label)
    frame["age"] = rng.normal(60, 9, len(frame)).round()
    frame["tumour_size"] = frame["rad_mean_radius"] + rng.normal(0, 2, len(frame))
    hazard = np.exp(0.8 * label + 0.02 * (frame["age"] - 60))
    event_time, censor_time = rng.exponential(30 / hazard), rng.uniform(5, 60, len(frame))
    frame["rfs_time"] = np.minimum(event_time, censor_time).round(2)
    frame["rfs_event"] = (event_time <= censor_time).astype(int)
    frame.to_csv(folder / "features.csv", index=False)
    return parse_config(
        {
            "name": "cluster",
            "cohort": {"feature_table": "features.csv", "clinical": ["age", "tumour_size"]},
            "survival_endpoints": ["rfs"],
            "grid": {
                "models": {"Clinical": ["clinical"], "Rad": ["radiomics"]},
                "classifiers": ["LR", "RF"],
                "n_iter": 2,
                "search": "random",
                "survival_models": True,
                "survival_methods": ["Cox", "LASSO-Cox"],
            },
            "device": "cpu",
        }
    )


def _outputs(store, run_id):
    run = store.load(run_id)
    survival = pd.read_parquet(run.path / "survival_predictions.parquet")
    return run.predictions.sort_values(["model", "patient_id"]).reset_index(drop=True), survival


def _assert_same(local, remote):
    (binary, survival), (binary_remote, survival_remote) = local, remote
    pd.testing.assert_frame_equal(binary, binary_remote, rtol=1e-12, atol=1e-12)
    pd.testing.assert_frame_equal(survival, survival_remote, rtol=1e-10, atol=1e-12)


def _kill_a_busy_worker(client, killed, pids):
    """SIGKILL the first worker seen holding a task (the nanny then starts a new one)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = [worker for worker, tasks in client.processing().items() if tasks and worker in pids]
        if busy:
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.005)


def test_the_study_on_a_cluster_equals_the_local_run_even_when_a_worker_dies(tmp_path):
    """--scheduler local:2: the grid's searches, out-of-fold predictions and survival fits run as Dask tasks on two
    worker processes, and every prediction equals the run made in this process. Then one of two workers is killed
    (SIGKILL) while it holds tasks; its work is done again elsewhere and the run is still the local run."""
    from distributed import Client, LocalCluster

    config = _feature_study(tmp_path)
    local = _outputs(RunStore(tmp_path / "local"), run_study(config, tmp_path, RunStore(tmp_path / "local")))
    assert (
        set(local[0]["model"]) >= {"Clinical", "Rad", "Stacked(Clinical+Rad)"} and len(local[1]) == 2 * 300
    )  # 2 survival models
    on_cluster = RunStore(tmp_path / "cluster")
    _assert_same(local, _outputs(on_cluster, run_study(config, tmp_path, on_cluster, scheduler="local:2")))

    killed, survived = [], RunStore(tmp_path / "killed")
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, killed, client.run(os.getpid)))
        killer.start()
        remote = _outputs(survived, run_study(config, tmp_path, survived, scheduler=cluster.scheduler_address))
        killer.join(timeout=5)
        assert killed, "no worker was busy while the study ran"
        assert killed[0] not in client.scheduler_info(n_workers=-1)["workers"]  # it really died
    _assert_same(local, remote)


def _where_it_ran(value):
    return value, os.getpid()


def test_the_network_goes_to_a_worker_with_a_gpu():
    """A worker started with --resources GPU=1 takes the deep training; without one it stays in this process."""
    from distributed import LocalCluster

    assert run_on_gpu_worker(None, _where_it_ran, 3) == (False, None)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as plain:
        assert run_on_gpu_worker(plain.scheduler_address, _where_it_ran, 3) == (False, None)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, resources={"GPU": 1}
    ) as gpu:
        remote, (value, pid) = run_on_gpu_worker(gpu.scheduler_address, _where_it_ran, 3)
    assert remote and value == 3 and pid != os.getpid()


def test_bootstrap_refits_on_the_cluster_equal_the_local_ones():
    """calibration_bootstrap's refits as Dask tasks: the same resamples, the same bias-corrected curve."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from engine.stats import calibration_bootstrap

    X, y = load_breast_cancer(return_X_y=True)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500))
    here = calibration_bootstrap(model, X[:200, :5], 1 - y[:200], n_boot=20, seed=4)
    with dask_cluster("local:2"):
        there = calibration_bootstrap(model, X[:200, :5], 1 - y[:200], n_boot=20, seed=4, n_jobs=-1)
    pd.testing.assert_frame_equal(here.curve, there.curve, rtol=1e-12)
    assert here.mean_abs_error == pytest.approx(there.mean_abs_error, rel=1e-12)


@pytest.mark.parametrize("scheduler", ["local:0", "localhost:8786", "local:two"])
def test_a_bad_scheduler_is_named(scheduler):
    with pytest.raises(ValidationError, match="scheduler must be 'local:N'"):
        check_scheduler(scheduler)


def test_an_unreachable_scheduler_says_how_to_start_one():
    with pytest.raises(ValidationError, match="dask scheduler"):
        with dask_cluster("tcp://127.0.0.1:9", connect_timeout=2):
            pass


def test_the_deep_step_trains_on_the_gpu_worker_as_it_does_here():
    """engine.pipeline.feature_steps.train_deep shipped to a worker with the GPU resource (no CUDA there: it resolves
    to the CPU) gives the features, the network and the Grad-CAM gallery it gives in this process."""
    from distributed import LocalCluster

    from engine.pipeline.feature_steps import train_deep

    rng = np.random.default_rng(0)
    n = 40
    labels = (np.arange(n) % 2).astype(float)
    crops = rng.normal(size=(n, 2, 24, 24)).astype(np.float32)
    crops[labels == 1, :, 8:16, 8:16] += 2.0  # a bright square marks the events
    splits = pd.Series(np.where(np.arange(n) < 30, "train", "internal"))
    ids = pd.Series([f"P{i}" for i in range(n)])
    settings = dict(backbone="resnet10", width=4, epochs=2, folds=2, seed=0, weights=None, objective="binary")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the worker (the nanny sets OMP_NUM_THREADS=1): the same float sums
    try:
        here, state, gallery, device = train_deep(crops, labels, splits, settings, ids, "cpu")
    finally:
        torch.set_num_threads(threads)
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, resources={"GPU": 1}
    ) as gpu:
        remote, (there, state_there, gallery_there, device_there) = run_on_gpu_worker(
            gpu.scheduler_address, train_deep, crops, labels, splits, settings, ids, "auto"
        )
    assert remote and device == device_there == "cpu"
    assert list(here.columns) == list(there.columns) and len(there) == n
    np.testing.assert_allclose(there.filter(like="dl").to_numpy(), here.filter(like="dl").to_numpy(), atol=1e-6)
    assert state.keys() == state_there.keys()
    np.testing.assert_array_equal(gallery["patient_id"], gallery_there["patient_id"])
    np.testing.assert_allclose(gallery["heatmap"], gallery_there["heatmap"], atol=1e-6)


def _pids_of_nested_work(count):
    from joblib import Parallel, delayed

    return set(Parallel(n_jobs=-1)(delayed(os.getpid)() for _ in range(count)))


def test_a_task_does_its_nested_joblib_work_in_its_own_process():
    """A grid cell's search folds stay in the worker that runs the cell (Serial); without it, joblib's Dask
    backend sends them back to the cluster as tasks of their own, on both workers."""
    from joblib import Parallel, delayed

    from engine.common.cluster import Serial

    with dask_cluster("local:2"):
        plain = Parallel(n_jobs=-1)(delayed(_pids_of_nested_work)(40) for _ in range(2))
        serial = Parallel(n_jobs=-1)(delayed(Serial(_pids_of_nested_work))(40) for _ in range(2))
    assert any(len(pids) == 2 for pids in plain)
    assert all(len(pids) == 1 for pids in serial)


def _warnings_shown() -> list[str]:
    import warnings

    with warnings.catch_warnings(record=True) as shown:
        warnings.warn("the probability parameter was deprecated", FutureWarning)
        warnings.warn("a user warning", UserWarning)
    return sorted(str(w.message) for w in shown)


def test_a_task_runs_under_the_warning_filters_of_its_caller():
    """A worker process starts with Python's default filters; the task carries its caller's (a filter that
    ignores one warning, one that shows every warning) in a local worker process."""
    import warnings

    from joblib import Parallel, delayed

    from engine.common.cluster import Serial

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The probability", category=FutureWarning)
        quiet = Parallel(n_jobs=2)(delayed(Serial(_warnings_shown))() for _ in range(2))
        warnings.simplefilter("ignore")
        silent = Parallel(n_jobs=2)(delayed(Serial(_warnings_shown))() for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        loud = Parallel(n_jobs=2)(delayed(Serial(_warnings_shown))() for _ in range(2))
    assert quiet == [["a user warning"]] * 2  # the message pattern, case-insensitive as filterwarnings makes it
    assert silent == [[]] * 2
    assert loud == [["a user warning", "the probability parameter was deprecated"]] * 2
