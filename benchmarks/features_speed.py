"""Feature extraction speed on the demo cohort (one run; not part of the test suite).

    .venv/bin/python benchmarks/features_speed.py [n_patients] [--device cuda]

Radiomics (ct_demo preset, tumour + 5 mm ring, 3 phases) with 1 and 2 worker processes and a cache hit; deep
features (crops + ResNet-10 training and embedding) throughput on the chosen device.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from engine.cohort.manifest import Cohort, assign_splits, load_manifest  # noqa: E402
from engine.cohort.synth import SynthSpec, synthesize_cohort  # noqa: E402
from engine.features.cache import FeatureCache  # noqa: E402
from engine.features.deep import DeepFeatureSettings, deep_features, embed, train_network, tumour_crops  # noqa: E402
from engine.features.radiomics import extract_cohort, load_params  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=90)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cohort", default="demo_study/manifest.csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        manifest = Path(args.cohort)
        if not manifest.exists():
            manifest = synthesize_cohort(Path(folder) / "cohort", SynthSpec(n=max(args.n, 60), seed=0))
        cohort = load_manifest(manifest)
        cohort = Cohort(
            cohort.root, cohort.table.head(args.n), cohort.phases, cohort.survival_endpoints, cohort.clinical
        )
        params = load_params("ct_demo")
        timings = {}
        for workers in (1, 2):
            start = time.perf_counter()
            extract_cohort(cohort, params, rings_mm={"ring5": 5}, workers=workers)
            timings[f"radiomics, {workers} worker(s)"] = time.perf_counter() - start
        cache = FeatureCache(Path(folder) / "cache")
        start = time.perf_counter()
        extract_cohort(cohort, params, rings_mm={"ring5": 5}, workers=2, cache=cache)
        timings["radiomics, cold with cache writes"] = time.perf_counter() - start
        start = time.perf_counter()
        extract_cohort(cohort, params, rings_mm={"ring5": 5}, workers=2, cache=cache)
        timings["radiomics, cache hit"] = time.perf_counter() - start
        cohort = assign_splits(cohort, seed=0)
        start = time.perf_counter()
        crops = tumour_crops(cohort)
        timings["deep: crops"] = time.perf_counter() - start
        settings = DeepFeatureSettings(device=args.device, epochs=12, folds=3)
        start = time.perf_counter()
        network = train_network(crops, cohort.table["label"].to_numpy(), settings)
        timings[f"deep: train ResNet-10 ({len(crops)} crops, <=12 epochs, {args.device})"] = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(5):
            embed(network, crops, args.device)
        timings[f"deep: embed x5 ({args.device})"] = time.perf_counter() - start
        start = time.perf_counter()
        deep_features(
            crops, cohort.table["label"].to_numpy(), cohort.table["split"], settings, cohort.table["patient_id"]
        )
        timings[f"deep features, 3 folds + final ({args.device})"] = time.perf_counter() - start
    n = len(cohort.table)
    print(f"{n} patients, 3 phases")
    for name, seconds in timings.items():
        print(f"{name:<58}{seconds:>8.2f} s{n / seconds if 'embed' not in name else 5 * n / seconds:>10.1f} patients/s")
    print(f"speed-up 2 vs 1 worker: {timings['radiomics, 1 worker(s)'] / timings['radiomics, 2 worker(s)']:.2f}x")
    print(f"cache hit vs cold: {timings['radiomics, cold with cache writes'] / timings['radiomics, cache hit']:.0f}x")


if __name__ == "__main__":
    main()
