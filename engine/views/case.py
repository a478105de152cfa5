"""One patient, as a paper's "typical case" figure shows them: each phase's slice through the tumour with the tumour
and peritumoral-ring contours, the deep network's Grad-CAM on its input crop, a radiomics voxel map of one feature
(PyRadiomics voxel-based extraction on the tumour neighbourhood), and the patient's predictions against each
model's training cutoff and risk groups per survival endpoint. Nothing here is learned: every cutoff comes from the
run (learned on the training cohort)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd

from engine.features.deep import study_crops
from engine.errors import ValidationError

_RADIOMICS_NAME = re.compile(r"^(?P<phase>[^_]+)_(?P<region>[^_]+)_original_(?P<klass>[a-z]+)_(?P<feature>\w+)$")
VOXEL_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


@dataclasses.dataclass(frozen=True)
class PhaseSlice:
    """One phase at the slice where the tumour is largest (first phase's mask): image, tumour and ring masks."""

    phase: str
    index: int  # slice number (0-based, along the image's third axis)
    image: np.ndarray  # 2-D, as stored (e.g. HU)
    tumour: np.ndarray  # 2-D bool
    rings: dict[str, np.ndarray]  # ring name -> 2-D bool
    spacing: tuple[float, float]  # (row, column) in mm


def run_manifest(run) -> Path | None:
    """The manifest a run was trained on (absolute path), when the run recorded it and it is still there."""
    recorded = (run.provenance or {}).get("manifest")
    return Path(recorded) if recorded and Path(recorded).exists() else None


def patient_row(cohort, patient_id: str) -> pd.Series:
    rows = cohort.table[cohort.table["patient_id"].astype(str) == str(patient_id)]
    if rows.empty:
        raise ValidationError(
            f"patient_id {patient_id!r} is not in the manifest {cohort.root}; pick a patient of this run's cohort."
        )
    return rows.iloc[0]


def case_slices(cohort, patient_id: str, rings_mm: dict[str, float] | None = None) -> list[PhaseSlice]:
    """Each phase's slice through the largest tumour cross-section, with the tumour and ring masks on it."""
    import SimpleITK as sitk

    from engine.cohort.images import largest_slice, read_image
    from engine.features.radiomics import region_masks

    row = patient_row(cohort, patient_id)
    first = cohort.phases[0]
    reference = sitk.GetArrayFromImage(read_image(row[cohort.mask_column(first)])) > 0
    index = largest_slice(reference)
    slices = []
    for phase in cohort.phases:
        image = read_image(row[f"image_{phase}"])
        mask = read_image(row[cohort.mask_column(phase)])
        regions = region_masks(mask, rings_mm=rings_mm)
        arrays = {name: sitk.GetArrayFromImage(region)[index] > 0 for name, region in regions.items()}
        spacing = image.GetSpacing()
        slices.append(
            PhaseSlice(
                phase=phase,
                index=index,
                image=sitk.GetArrayFromImage(image)[index].astype(float),
                tumour=arrays.pop("tumour"),
                rings=arrays,
                spacing=(float(spacing[1]), float(spacing[0])),
            )
        )
    return slices


def case_gradcam(run, cohort, patient_id: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(crop, Grad-CAM map) of the run's stored deep network for this patient, 2-D networks only; None without one.
    The map is computed for the event logit; where it has no positive evidence anywhere (all 0), it is computed
    for the opposite direction (evidence against the event), as Grad-CAM of the predicted class does."""
    import torch

    from engine.config import parse_config
    from engine.features.deep import build_backbone, gradcam_for_or_against

    network_file = run.path / "deep_network.pt"
    config = parse_config(run.config)
    if not config.deep.enabled or not network_file.exists() or config.deep.spatial_dims != 2:
        return None
    one = dataclasses.replace(cohort, table=cohort.table[cohort.table["patient_id"].astype(str) == str(patient_id)])
    patient_row(one, patient_id)
    crops = study_crops(config.deep, one)
    network = build_backbone(config.deep.backbone, crops.shape[1], spatial_dims=2, width=config.deep.width)
    network.load_state_dict(torch.load(network_file, map_location="cpu", weights_only=True))
    maps, _ = gradcam_for_or_against(network, crops)
    return crops[0], maps[0]


def voxel_feature_choices(features: list[str]) -> list[str]:
    """The features a voxel map can show: radiomics features of the original image in a voxel-capable class."""
    return [f for f in features if (m := _RADIOMICS_NAME.match(f)) and m["klass"] in VOXEL_CLASSES]


def voxel_map(
    cohort,
    patient_id: str,
    feature: str,
    *,
    params: dict | None = None,
    kernel_radius: int = 1,
    margin_mm: float = 10.0,
) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """PyRadiomics voxel-based map of one original-image feature (e.g. ``arterial_tumour_original_glcm_Contrast``)
    on the tumour slice of its phase: every voxel of the tumour and a ``margin_mm`` neighbourhood gets the feature of
    its (2 ``kernel_radius`` + 1)^2 in-plane kernel. Returns (image crop, feature map crop with NaN outside the
    neighbourhood, (row, column) of the crop's corner in the slice)."""
    import SimpleITK as sitk

    from engine.cohort.images import largest_slice, read_image
    from engine.features.radiomics import build_extractor

    match = _RADIOMICS_NAME.match(feature)
    if not match or match["klass"] not in VOXEL_CLASSES:
        raise ValidationError(
            f"feature must be an original-image radiomics feature of {list(VOXEL_CLASSES)} named "
            f"<phase>_<region>_original_<class>_<name>; got {feature!r}."
        )
    if match["phase"] not in cohort.phases:
        raise ValidationError(f"feature {feature!r} is of phase {match['phase']!r}; the cohort has {cohort.phases}.")
    row = patient_row(cohort, patient_id)
    image = read_image(row[f"image_{match['phase']}"])
    mask = sitk.GetArrayFromImage(read_image(row[cohort.mask_column(cohort.phases[0])])) > 0
    index = largest_slice(mask)
    spacing = image.GetSpacing()
    rows, columns = np.nonzero(mask[index])
    pad_r, pad_c = int(round(margin_mm / spacing[1])), int(round(margin_mm / spacing[0]))
    r0, r1 = max(rows.min() - pad_r, 0), min(rows.max() + pad_r + 1, mask.shape[1])
    c0, c1 = max(columns.min() - pad_c, 0), min(columns.max() + pad_c + 1, mask.shape[2])
    plane = sitk.GetArrayFromImage(image)[index, r0:r1, c0:c1].astype(np.float32)
    from scipy.ndimage import distance_transform_edt

    tumour = mask[index, r0:r1, c0:c1]
    distance = distance_transform_edt(~tumour, sampling=(spacing[1], spacing[0]))
    neighbourhood = (distance <= margin_mm).astype(np.uint8)
    neighbourhood[[0, -1], :] = neighbourhood[:, [0, -1]] = 0  # PyRadiomics needs background in a mask
    crop = sitk.GetImageFromArray(plane[None])
    crop.SetSpacing(spacing)
    region = sitk.GetImageFromArray(neighbourhood[None])
    region.CopyInformation(crop)
    settings = dict((params or {}).get("setting", {"binWidth": 25}))
    settings.update(label=1, force2D=True, correctMask=True)
    extractor = build_extractor({"imageType": {"Original": {}}, "featureClass": {}, "setting": settings})
    extractor.settings.update(kernelRadius=kernel_radius, maskedKernel=False)  # voxel settings: not in the schema
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(**{match["klass"]: [match["feature"]]})
    result = extractor.execute(crop, region, voxelBased=True)
    key = f"original_{match['klass']}_{match['feature']}"
    if key not in result:
        raise ValidationError(f"PyRadiomics returned no voxel map for {feature!r}.")
    computed = result[key]
    values = np.full(plane.shape, np.nan)
    _, row, column = crop.TransformPhysicalPointToIndex(computed.GetOrigin())[::-1]
    block = sitk.GetArrayFromImage(computed)[0].astype(float)  # PyRadiomics' box around the mask
    values[row : row + block.shape[0], column : column + block.shape[1]] = block
    values[neighbourhood == 0] = np.nan
    return plane, values, (int(r0), int(c0))


def is_probability(predictions: pd.DataFrame) -> pd.Series:
    """Which rows hold a probability (not a reference score's or an upload's raw score)."""
    from engine.models.reference import RAW_SCORE, is_reference

    raw = predictions["model"].map(is_reference)
    if "classifier" in predictions:
        raw |= predictions["classifier"] == RAW_SCORE
    return ~raw


def case_predictions(predictions: pd.DataFrame, cutoffs: dict[str, float], patient_id: str) -> pd.DataFrame:
    """The patient's probability per model (as stored) against each model's training cutoff: model, split, prob,
    cutoff, prediction (high risk when prob >= cutoff, the rule the performance table uses), outcome."""
    rows = predictions[predictions["patient_id"].astype(str) == str(patient_id)]
    if rows.empty:
        raise ValidationError(f"patient_id {patient_id!r} has no predictions in this run.")
    columns = ["model", "split", "prob", *[c for c in ("classifier", "label") if c in rows]]
    table = rows[columns].drop_duplicates("model").reset_index(drop=True)
    table["cutoff"] = table["model"].map(cutoffs).astype(float)
    table["scale"] = np.where(is_probability(table), "probability", "raw score")
    table = table.drop(columns=[c for c in ("classifier",) if c in table])
    table["prediction"] = np.where(
        table["cutoff"].isna(), "", np.where(table["prob"] >= table["cutoff"], "high risk", "low risk")
    )
    if "label" in table:
        table["outcome"] = table["label"].map({1: "event", 0: "no event"}).fillna("unknown")
        table = table.drop(columns="label")
    return table


def case_risk_groups(
    risk_cutoffs: pd.DataFrame | None, predictions: pd.DataFrame, survival: pd.DataFrame | None, patient_id: str
) -> pd.DataFrame:
    """Risk group per survival endpoint, model and cutoff method (median / maxstat, learned on training): endpoint,
    model, source, method, score, cutoff, group. The score is the model's probability (source binary) or its
    survival model's risk (source survival)."""
    columns = ["endpoint", "model", "source", "method", "score", "cutoff", "group"]
    if risk_cutoffs is None or risk_cutoffs.empty:
        return pd.DataFrame(columns=columns)
    patient = str(patient_id)
    binary = predictions[predictions["patient_id"].astype(str) == patient].drop_duplicates("model")
    scores = {("binary", m, e): p for m, p in zip(binary["model"], binary["prob"]) for e in risk_cutoffs["endpoint"]}
    if survival is not None and len(survival):
        mine = survival[survival["patient_id"].astype(str) == patient]
        scores.update({("survival", m, e): r for m, r, e in zip(mine["model"], mine["risk"], mine["endpoint"])})
    rows = []
    for cutoff in risk_cutoffs.itertuples(index=False):
        score = scores.get((cutoff.source, cutoff.model, cutoff.endpoint))
        if score is None or not np.isfinite(cutoff.cutoff):
            continue
        group = "high risk" if score > cutoff.cutoff else "low risk"
        rows.append([cutoff.endpoint, cutoff.model, cutoff.source, cutoff.method, score, cutoff.cutoff, group])
    return pd.DataFrame(rows, columns=columns)


def default_nomogram_terms(columns: list[str], models: list[str]) -> tuple[list[str], list[str]]:
    """The nomogram's default predictors (cirrhosis, tumour number, log10 AFP where the table has them) and model
    scores (Rad, DL): what the Nomogram page opens with and the case viewer uses."""
    predictors = [c for c in ("cirrhosis", "tumour_number", "log10_afp") if c in columns]
    return predictors, [m for m in ("Rad", "DL") if m in models][:2]


def nomogram_values(
    predictions: pd.DataFrame, patient_id: str, predictors: list[str], scores: list[str]
) -> dict[str, object]:
    """The patient's values on a nomogram fitted by engine.views.analysis.fit_nomogram: each predictor from the table,
    each model score as the logit of the model's probability (a reference score's training recalibration)."""
    from engine.models.reference import as_probabilities
    from engine.views.analysis import model_score

    rows = predictions[predictions["patient_id"].astype(str) == str(patient_id)]
    if rows.empty:
        raise ValidationError(f"patient_id {patient_id!r} has no predictions in this table.")
    values: dict[str, object] = {column: rows.iloc[0][column] for column in predictors}
    probabilities = as_probabilities(rows, scores).drop_duplicates("model").set_index("model")["prob"]
    for model in scores:
        values[f"{model}-score"] = float(model_score(float(probabilities[model])))
    return values
