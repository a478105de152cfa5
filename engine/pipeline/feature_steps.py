"""The study's feature steps: radiomics (cached per patient), the inter-reader ICC filter and the deep network's
out-of-fold features (on a GPU worker when the cluster has one), each reusing a finished step's file."""

from __future__ import annotations

import gc
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pandas as pd

from engine.common.cluster import run_on_gpu_worker
from engine.config import resolve_device
from engine.features.radiomics import extraction_options
from engine.features.deep import study_crops, training_target
from engine.errors import ValidationError
from engine.features.cache import FeatureCache


def radiomics_step(cohort, config, store, partial, frame, workers, scheduler, progress, timings):
    from engine.features.radiomics import extract_cohort

    target = partial / "radiomics.parquet"
    start = time.perf_counter()
    if target.exists():
        radiomics = pd.read_parquet(target)
    else:
        total, done = len(cohort.table), [0]

        def tick(count: int) -> None:
            done[0] += count
            progress("radiomics", done[0], total)

        radiomics, failures = extract_cohort(
            cohort,
            **extraction_options(config.radiomics),
            cache=FeatureCache(store.feature_cache_dir),
            workers=workers,
            scheduler=scheduler,
            progress=tick,
        )
        if failures:
            shown = "; ".join(f"{pid}: {why}" for pid, why in list(failures.items())[:10])
            raise ValidationError(
                f"radiomics failed for {len(failures)} patient(s) ({shown}). The other patients' features are cached; "
                f"fix or drop these rows and run again."
            )
        radiomics.to_parquet(target, index=False)
    timings["radiomics"] = time.perf_counter() - start
    columns = [c for c in radiomics.columns if c != "patient_id"]
    return frame.merge(radiomics, on="patient_id", how="left"), columns


def icc_step(cohort, config, store, partial, frame, columns, workers, scheduler, progress) -> list[str]:
    """Keep the radiomics features reproducible between readers: ICC between the two readers' features on the
    training patients (no outcome is used, so filtering before the grid leaks nothing)."""
    from engine.cohort.manifest import Cohort
    from engine.features.radiomics import extract_cohort
    from engine.selection import icc

    readers = {cohort.second_reader_column(phase) for phase in cohort.phases}
    if None in readers or len(readers) != 1:
        raise ValidationError(
            "radiomics.icc_threshold needs a second reader's mask (mask2, or mask2_<phase> for every phase) in the "
            "manifest."
        )
    target = partial / "icc.csv"
    if not target.exists():
        train = cohort.table[cohort.table["split"] == "train"]
        second, failures = extract_cohort(
            Cohort(cohort.root, train, cohort.phases, cohort.survival_endpoints, cohort.clinical),
            **extraction_options(config.radiomics),
            mask_column=readers.pop(),
            cache=FeatureCache(store.feature_cache_dir),
            workers=workers,
            scheduler=scheduler,
            progress=lambda k: progress("second reader", k, len(train)),
        )
        if failures:
            raise ValidationError(f"second-reader radiomics failed for {len(failures)} patient(s): {failures}")
        first = frame.set_index("patient_id").loc[second["patient_id"], columns]
        values = icc(first.reset_index(drop=True), second[columns].reset_index(drop=True), config.radiomics.icc_kind)
        values.rename("icc").rename_axis("feature").reset_index().to_csv(target, index=False)
    table = pd.read_csv(target)
    kept = set(table.loc[table["icc"] >= config.radiomics.icc_threshold, "feature"])
    return [c for c in columns if c in kept]


def in_background(function, *args) -> Future:
    """``function(*args)`` on a thread of its own; the thread ends when it returns."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(function, *args)
    pool.shutdown(wait=False)
    return future


def deep_inputs(cohort, config):
    """The tumour crops, with the network's libraries imported first (torch, MONAI, torch's optimiser machinery:
    about 5 s on one core for the demo, crops 2 s more). Run on a thread while the worker processes extract
    radiomics, so that the deep step does not wait on one core.

    The first import makes some 500,000 objects that live as long as the process; the garbage collector walked
    them again at each of its full collections during the import and after (2 s of one core in the cold demo).
    So no collection runs during that import, and what it made is frozen after it (left out of collections)."""
    first = "torch" not in sys.modules
    collecting = gc.isenabled()
    gc.disable()
    try:
        import torch
        from monai.networks import nets  # noqa: F401 - imported for the network built later

        torch.optim.AdamW([torch.zeros(1, requires_grad=True)])  # the first optimiser built imports torch._dynamo
    finally:
        if collecting:
            gc.enable()
    if first:
        gc.freeze()
    return study_crops(config.deep, cohort)


def deep_step(cohort, config, partial, frame, device, scheduler, progress, timings, crops: Future | None = None):
    target = partial / "deep.parquet"
    start = time.perf_counter()
    if target.exists():
        deep = pd.read_parquet(target)
    else:
        progress("deep features: crops", 0, 1)
        crops = crops.result() if crops is not None else study_crops(config.deep, cohort)
        progress("deep features: training", 0, 1)
        try:
            objective, labels = training_target(
                config.deep, cohort.table, config.survival_endpoints or list(cohort.survival_endpoints)
            )
        except ValueError as error:
            raise ValidationError(str(error)) from None
        settings = dict(
            backbone=config.deep.backbone,
            width=config.deep.width,
            epochs=config.deep.epochs,
            folds=config.deep.folds,
            seed=config.seed,
            weights=config.deep.weights,
            objective=objective,
        )
        arguments = (crops, labels, cohort.table["split"], settings, cohort.table["patient_id"])
        remote, trained = run_on_gpu_worker(scheduler, train_deep, *arguments, config.device)
        deep, network_state, gallery, used = trained if remote else train_deep(*arguments, device)
        (partial / "deep_device.txt").write_text(f"{used} on a Dask GPU worker" if remote else used, encoding="utf-8")
        import torch

        torch.save(network_state, partial / "deep_network.pt")
        if gallery is not None:
            np.savez_compressed(partial / "gradcam.npz", **gallery)
        deep.to_parquet(target, index=False)
        progress("deep features", 1, 1)
    timings["deep"] = time.perf_counter() - start
    columns = [
        c for c in deep.columns if c.startswith("dl_")
    ]  # the fold blocks travel in the frame (engine.models.deep_folds)
    return frame.merge(deep, on="patient_id", how="left"), columns


def train_deep(crops, labels, splits, settings, patient_ids, device):
    """Train the network (out-of-fold deep features) and draw the Grad-CAM gallery of up to 24 validation
    patients: (features, the network's state_dict on the CPU, the gallery arrays or None for 3-D crops, the
    device used). Runs here or on a Dask worker with a GPU; ``device`` is resolved where it runs."""
    from engine.features.deep import DeepFeatureSettings, deep_features, gradcam_for_or_against

    device = resolve_device(device)
    deep, network = deep_features(
        crops, labels, splits, DeepFeatureSettings(**settings, device=device), patient_ids, return_network=True
    )
    gallery = None
    shown = np.flatnonzero(splits.to_numpy() != "train")[:24]
    if crops.ndim == 4:  # the Grad-CAM gallery shows 2-D crops
        heatmaps, against = gradcam_for_or_against(network, crops[shown], device)
        gallery = {
            "patient_id": patient_ids.to_numpy()[shown].astype(str),
            "label": np.nan_to_num(labels if labels.ndim == 1 else labels[:, 1]).astype(int)[shown],
            "crop": crops[shown],
            "heatmap": heatmaps,
            "against": against,
        }
    state = {name: tensor.detach().cpu() for name, tensor in network.state_dict().items()}
    return deep, state, gallery, device
