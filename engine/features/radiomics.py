"""Handcrafted radiomics with PyRadiomics: presets per modality, tumour and peritumoral regions, every phase,
delta features between phases, a content-addressed cache and parallel extraction over patients.

Feature names are ``<phase>_<region>_<pyradiomics name>``, e.g. ``arterial_tumour_original_glcm_Contrast``;
delta features ``delta_<phase b>-<phase a>_<region>_<name>``.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from engine.cohort.manifest import Cohort
from engine.cohort.images import read_image
from engine.common.paths import assets_folder
from engine.errors import ValidationError
from engine.features.cache import FeatureCache, content_key
from engine.common.parallel import map_patients

ASSETS = assets_folder() / "radiomics"
PRESETS = {"ct", "mr", "us", "ct_demo"}


def load_params(
    preset_or_path: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """PyRadiomics parameters from a preset name (ct, mr, us, ct_demo), a YAML file or a dict; ``overrides``
    are merged into ``setting`` / ``imageType`` / ``featureClass``."""
    if isinstance(preset_or_path, Mapping):
        params = copy.deepcopy(dict(preset_or_path))
    else:
        text = str(preset_or_path)
        path = ASSETS / f"{text}.yaml" if text in PRESETS else Path(text)
        if not path.exists():
            raise ValidationError(f"radiomics params must be a preset {sorted(PRESETS)} or a YAML file; got {text!r}.")
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, values in (overrides or {}).items():
        params.setdefault(section, {})
        params[section].update(values)
    return params


def build_extractor(params: Mapping[str, Any]):
    """A new PyRadiomics extractor for ``params``, without the diagnostics (image hashes...: never used)."""
    import radiomics
    from radiomics import featureextractor

    radiomics.setVerbosity(logging.ERROR)
    params = copy.deepcopy(dict(params))
    params["setting"] = {**params.get("setting", {}), "additionalInfo": False}
    return featureextractor.RadiomicsFeatureExtractor(params)


def _extractor(params: Mapping[str, Any]):
    """The extractor for ``params``, built once per process (building one validates the parameters against
    PyRadiomics' YAML schema, which took half as long as extracting a small tumour); never changed after."""
    return _extractor_for(json.dumps(params, sort_keys=True, default=str))


@functools.lru_cache(maxsize=8)
def _extractor_for(params_json: str):
    return build_extractor(json.loads(params_json))


def _without_shape(params: Mapping[str, Any]) -> dict[str, Any] | None:
    """``params`` without the shape classes (None when it computes no shape feature)."""
    classes = params.get("featureClass")
    shape = {"shape", "shape2D"}
    if classes is not None and not shape & set(classes):
        return None
    if classes is None:  # PyRadiomics' default: every class
        from radiomics import getFeatureClasses

        classes = {name: None for name in getFeatureClasses()}
    return {**params, "featureClass": {k: v for k, v in classes.items() if k not in shape}}


def _same_region(a, b) -> bool:
    """Two masks of the same voxels on the same grid (shape features depend on nothing else)."""
    return (
        a.GetSize() == b.GetSize()
        and np.allclose(a.GetSpacing(), b.GetSpacing())
        and np.allclose(a.GetOrigin(), b.GetOrigin())
        and np.allclose(a.GetDirection(), b.GetDirection())
        and np.array_equal(_array(a), _array(b))
    )


def region_masks(
    mask, *, rings_mm: Mapping[str, float] | None = None, eroded_mm: float | None = None, liver=None
) -> dict[str, Any]:
    """Binary masks (label 1) for the tumour and its peritumoral regions, distances in millimetres.

    ``rings_mm``: name -> d: the shell 0 < distance <= d outside the tumour (clipped to ``liver`` if given);
    ``eroded_mm``: the tumour core at least this far inside the boundary (region ``core``).
    """
    import SimpleITK as sitk

    tumour = sitk.Cast(mask > 0, sitk.sitkUInt8)
    regions = {"tumour": tumour}
    if not rings_mm and eroded_mm is None:
        return regions
    distance = sitk.SignedMaurerDistanceMap(tumour, insideIsPositive=False, squaredDistance=False, useImageSpacing=True)
    for name, width in (rings_mm or {}).items():
        ring = sitk.Cast((distance > 0) & (distance <= float(width)), sitk.sitkUInt8)
        if liver is not None:
            ring = ring * sitk.Cast(liver > 0, sitk.sitkUInt8)
        regions[name] = ring
    if eroded_mm is not None:
        regions["core"] = sitk.Cast(distance <= -float(eroded_mm), sitk.sitkUInt8)
    return regions


def extract_image(image, mask, params: Mapping[str, Any]) -> dict[str, float]:
    """PyRadiomics features of one image and mask (diagnostics dropped), as floats."""
    result = _extractor(params).execute(image, mask, label=int(params.get("setting", {}).get("label", 1)))
    return {key: float(value) for key, value in result.items() if not key.startswith("diagnostics_")}


def _patient_task(task: dict[str, Any]) -> dict[str, float]:
    """Everything for one patient (runs in a worker process)."""
    from engine.features.preprocess import Preprocessing, prepare_phases

    images = {phase: read_image(path) for phase, path in task["images"].items()}
    masks = {phase: read_image(task["masks"][phase]) for phase in images}
    for phase, mask in masks.items():
        if mask.GetSize() == images[phase].GetSize():  # tolerate header rounding between image and mask files
            mask.CopyInformation(images[phase])
    liver = read_image(task["liver"]) if task.get("liver") else None
    first = next(iter(images.values()))
    if liver is not None and liver.GetSize() == first.GetSize():
        liver.CopyInformation(first)
    settings = Preprocessing(**task.get("preprocess", {}))
    shared = len(set(task["masks"].values())) == 1
    images, masks, liver, _ = prepare_phases(images, masks, liver, settings, shared_mask=shared)
    features: dict[str, float] = {}
    no_shape = _without_shape(task["params"])
    shapeless = set() if task.get("ring_shape", False) or no_shape is None else set(task["rings_mm"])
    shapes: dict[str, tuple[Any, dict[str, float]]] = {}  # region -> (its mask, its shape features) of a phase
    regions_of: dict[tuple, dict[str, Any]] = {}  # one mask file on one grid: its regions computed once
    for phase, image in images.items():
        mask = masks[phase]
        grid = (task["masks"][phase], mask.GetSize(), mask.GetSpacing(), mask.GetOrigin(), mask.GetDirection())
        if grid not in regions_of:
            regions_of[grid] = region_masks(mask, rings_mm=task["rings_mm"], eroded_mm=task["eroded_mm"], liver=liver)
        for region, region_mask in regions_of[grid].items():
            if not np.any(_array(region_mask)):
                raise ValueError(f"{phase} {region} region is empty")
            known = shapes.get(region)
            if region in shapeless:  # a ring's shape follows from the tumour's and the ring width: left out
                values = extract_image(image, region_mask, no_shape)
            elif no_shape is not None and known is not None and _same_region(known[0], region_mask):
                values = {**known[1], **extract_image(image, region_mask, no_shape)}  # shape first, as PyRadiomics
            else:  # a phase's own mask (or grid): its own shape features
                values = extract_image(image, region_mask, task["params"])
                shapes[region] = (region_mask, {k: v for k, v in values.items() if "_shape" in k})
            for name, value in values.items():
                features[f"{phase}_{region}_{name}"] = value
    if task["delta"] and len(images) > 1:
        phases = list(images)
        for first, second in zip(phases[:-1], phases[1:]):
            for key in [k for k in features if k.startswith(f"{first}_")]:
                rest = key[len(first) + 1 :]
                if "shape" in rest:
                    continue
                features[f"delta_{second}-{first}_{rest}"] = features[f"{second}_{rest}"] - features[key]
    return features


def _array(image) -> np.ndarray:
    import SimpleITK as sitk

    return sitk.GetArrayViewFromImage(image)


def extract_cohort(
    cohort: Cohort,
    params: Mapping[str, Any],
    *,
    rings_mm: Mapping[str, float] | None = None,
    eroded_mm: float | None = None,
    delta: bool = False,
    ring_shape: bool = False,
    preprocess: Mapping[str, Any] | None = None,
    mask_column: str | None = None,
    cache: FeatureCache | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Radiomics table (one row per patient, ``patient_id`` first) and the failures {patient_id: reason}.

    The peritumoral rings get PyRadiomics' shape classes only with ``ring_shape`` (a shell's shape is fixed by
    the tumour's and the ring width, and its mesh diameters cost four times the ring's other features).
    ``mask_column`` chooses another reader's masks (e.g. ``mask2`` for the ICC). Cached patients are read from
    ``cache``; the others run on ``workers`` local processes, or on a Dask cluster at ``scheduler``. A failing
    patient is reported and does not lose the others' features.
    """
    tasks, keys = {}, {}
    for _, row in cohort.table.iterrows():
        masks = {phase: row[mask_column or cohort.mask_column(phase)] for phase in cohort.phases}
        task = {
            "images": {phase: row[f"image_{phase}"] for phase in cohort.phases},
            "masks": masks,
            "liver": row.get("liver_mask") if isinstance(row.get("liver_mask"), str) else None,
            "params": dict(params),
            "rings_mm": dict(rings_mm or {}),
            "eroded_mm": eroded_mm,
            "delta": delta,
            "ring_shape": ring_shape,
            **({"preprocess": dict(preprocess)} if preprocess else {}),  # only when not the default: cache keys stay
        }
        files = [*task["images"].values(), *masks.values(), *([task["liver"]] if task["liver"] else [])]
        keys[row["patient_id"]] = content_key(
            files, {k: v for k, v in task.items() if k not in ("images", "masks", "liver")}, kind="radiomics"
        )
        tasks[row["patient_id"]] = task
    rows, failures = {}, {}
    todo = {}
    for pid, key in keys.items():
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            rows[pid] = cached
            if progress:
                progress(1)
        else:
            todo[pid] = tasks[pid]
    for pid, outcome in map_patients(
        _patient_task, todo, workers=workers, scheduler=scheduler, progress=progress
    ).items():
        if isinstance(outcome, Exception):
            failures[pid] = f"{type(outcome).__name__}: {outcome}"
            continue
        rows[pid] = outcome
        if cache is not None:
            cache.put(keys[pid], outcome)
    order = [pid for pid in cohort.table["patient_id"] if pid in rows]
    table = pd.DataFrame([rows[pid] for pid in order])
    table.insert(0, "patient_id", order)
    return table, failures


def extraction_options(settings) -> dict[str, Any]:
    """Keyword arguments of ``extract_cohort`` for a study's radiomics settings (engine.config.RadiomicsConfig)."""
    from engine.config import PreprocessingConfig

    return {
        "params": load_params(settings.preset, settings.overrides),
        "rings_mm": settings.rings_mm,
        "eroded_mm": settings.eroded_mm,
        "delta": settings.delta,
        "ring_shape": settings.ring_shape,
        "preprocess": None if settings.preprocessing == PreprocessingConfig() else settings.preprocessing.model_dump(),
    }
