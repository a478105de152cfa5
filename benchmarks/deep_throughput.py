"""Deep-feature throughput from saved crops, on CPU or GPU (one run; not part of the tests).

    .venv/bin/python benchmarks/deep_throughput.py CROPS_DIR --device cpu|cuda

CROPS_DIR holds crops.npy (n, 3, 64, 64), labels.npy and split.npy (as tumour_crops and assign_splits give
for the demo cohort). Times out-of-fold deep features (3 folds + final model, ResNet-10 width 16, <= 12 epochs)
and embedding, and checks that the features carry signal on the held-out patients.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.features.deep import DeepFeatureSettings, build_backbone, deep_features, embed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("crops")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    folder = Path(args.crops)
    crops, labels, split = (
        np.load(folder / f"{name}.npy", allow_pickle=False) for name in ("crops", "labels", "split")
    )
    import torch

    print(
        f"device {args.device}: {torch.cuda.get_device_name(0) if args.device == 'cuda' else 'cpu'}, torch "
        f"{torch.__version__}"
    )
    settings = DeepFeatureSettings(device=args.device)
    deep_features(
        crops[:40],
        labels[:40],
        np.where(np.arange(40) < 30, "train", "internal"),
        DeepFeatureSettings(device=args.device, epochs=1, folds=2),
    )
    start = time.perf_counter()
    table = deep_features(crops, labels, split, settings)
    seconds = time.perf_counter() - start
    print(
        f"deep features (3 folds + final, {len(crops)} patients): {seconds:.2f} s, {len(crops) / seconds:.1f} "
        "patients/s"
    )
    network = build_backbone("resnet10", 3, width=16).to(args.device).eval()
    embed(network, crops, args.device)
    start = time.perf_counter()
    for _ in range(10):
        embed(network, crops, args.device, batch_size=128)
    if args.device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    print(f"embedding only: {10 * len(crops) / seconds:.0f} patients/s")
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = table.filter(regex="^dl_").to_numpy()  # the final network's features (fold blocks are for the grid)
    train = split == "train"
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=5000)).fit(values[train], labels[train])
    print(
        "held-out AUC of a logistic model on the final network's features: "
        f"{roc_auc_score(labels[~train], model.predict_proba(values[~train])[:, 1]):.3f}"
    )


if __name__ == "__main__":
    main()
