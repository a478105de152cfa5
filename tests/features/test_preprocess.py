"""Preprocessing before extraction: N4 removes a synthetic bias field, normalisation in the liver mask, phases on
another grid resampled onto the first phase (and reported by the manifest check)."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from engine.cohort.manifest import load_manifest
from engine.cohort.images import read_image
from engine.features.preprocess import Preprocessing, n4, normalise, prepare_phases, same_geometry


def _phantom(bias_slope: float = 0.0, seed: int = 0):
    """A 48 x 48 x 16 image: an ellipsoidal 'liver' of intensity 100 (+ noise) times exp(bias_slope * x)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[:16, :48, :48]
    liver = ((x - 24) / 20) ** 2 + ((y - 24) / 18) ** 2 + ((z - 8) / 7) ** 2 <= 1
    values = np.where(liver, 100.0, 10.0) + rng.normal(scale=2.0, size=liver.shape)
    values *= np.exp(bias_slope * x)
    image = sitk.GetImageFromArray(values.astype(np.float32))
    image.SetSpacing((1.0, 1.0, 2.5))
    mask = sitk.GetImageFromArray(liver.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask, liver


def _log_slope(image, liver) -> float:
    """Slope of log mean liver intensity against the x index (per voxel)."""
    array = sitk.GetArrayFromImage(image)
    columns = [x for x in range(48) if liver[:, :, x].sum() > 30]
    means = [np.log(array[:, :, x][liver[:, :, x]].mean()) for x in columns]
    return float(np.polyfit(columns, means, 1)[0])


def test_n4_flattens_a_synthetic_bias_field():
    image, mask, liver = _phantom(bias_slope=0.015)
    before = _log_slope(image, liver)
    assert before == pytest.approx(0.015, abs=0.002)
    after = _log_slope(n4(image, mask), liver)
    assert abs(after) < 0.2 * before  # the slope of the field is (nearly) gone
    flat, flat_mask, _ = _phantom(bias_slope=0.0)
    assert abs(_log_slope(n4(flat, flat_mask), liver)) < 0.002  # no field: nothing invented


def test_normalisation_in_the_liver_mask():
    image, mask, liver = _phantom()
    z = sitk.GetArrayFromImage(normalise(image, mask, "zscore"))[liver]
    assert z.mean() == pytest.approx(0, abs=1e-5) and z.std() == pytest.approx(1, abs=1e-4)
    p = sitk.GetArrayFromImage(normalise(image, mask, "percentile"))[liver]
    assert np.percentile(p, 1) == pytest.approx(0, abs=1e-5) and np.percentile(p, 99) == pytest.approx(1, abs=1e-5)


def test_phases_on_another_grid_are_resampled_onto_the_first():
    arterial, mask, _ = _phantom()
    coarse = sitk.Resample(
        arterial,
        [24, 24, 16],
        sitk.Transform(),
        sitk.sitkLinear,
        arterial.GetOrigin(),
        (2.0, 2.0, 2.5),
        arterial.GetDirection(),
        0.0,
        arterial.GetPixelID(),
    )
    images, masks, _, resampled = prepare_phases(
        {"arterial": arterial, "portal": coarse}, {"arterial": mask, "portal": mask}, None, Preprocessing()
    )
    assert resampled == ["portal"] and all(same_geometry(images[p], arterial) for p in images)
    assert all(same_geometry(m, arterial) for m in masks.values())
    from scipy import ndimage

    interior = ndimage.binary_erosion(sitk.GetArrayViewFromImage(mask) > 0, iterations=2)  # away from the blurred edge
    assert sitk.GetArrayViewFromImage(images["portal"])[interior].mean() == pytest.approx(100, abs=1)


def test_manifest_reports_resampled_phases_and_extraction_runs(small_cohort, tmp_path):
    from engine.features.radiomics import extract_cohort, load_params

    folder = tmp_path / "cohort"
    shutil.copytree(small_cohort.parent, folder)
    table = pd.read_csv(folder / "manifest.csv").head(3)
    for index in (0, 1):
        portal = read_image(folder / table.loc[index, "image_portal"])
        size = [s // 2 for s in portal.GetSize()[:2]] + [portal.GetSize()[2]]
        spacing = [sp * 2 for sp in portal.GetSpacing()[:2]] + [portal.GetSpacing()[2]]
        coarse = sitk.Resample(
            portal,
            size,
            sitk.Transform(),
            sitk.sitkLinear,
            portal.GetOrigin(),
            spacing,
            portal.GetDirection(),
            0.0,
            portal.GetPixelID(),
        )
        sitk.WriteImage(coarse, str(folder / "images" / f"coarse{index}.nii.gz"))
        table.loc[index, "image_portal"] = f"images/coarse{index}.nii.gz"
    table.to_csv(folder / "manifest.csv", index=False)
    cohort = load_manifest(folder / "manifest.csv")
    assert cohort.resampled == {"portal": 2}
    features, failures = extract_cohort(cohort, load_params("ct_demo", {}), rings_mm={})
    assert failures == {} and len(features) == 3
    assert np.isfinite(features.filter(like="portal_tumour_original_firstorder_Mean")).all().all()


def test_rigid_registration_recovers_a_known_shift():
    """The portal phase is the arterial phantom sampled at x + (3, -2, 2.5) mm (its content moved by -(3, -2, 2.5)):
    the registration maps arterial points onto portal ones by that -(3, -2, 2.5) mm (within 0.5 mm), and the
    registered phase matches the arterial one far better than the unregistered one."""
    from engine.features.preprocess import rigid_transform

    arterial, mask, _ = _phantom(seed=1)
    shift = sitk.TranslationTransform(3, (3.0, -2.0, 2.5))
    portal = sitk.Resample(arterial, arterial, shift, sitk.sitkLinear, 10.0, arterial.GetPixelID())
    transform = rigid_transform(portal, arterial)
    moved = transform.TransformPoint((0.0, 0.0, 20.0))
    assert np.allclose(np.subtract(moved, (0.0, 0.0, 20.0)), (-3.0, 2.0, -2.5), atol=0.5)
    again = rigid_transform(portal, arterial).TransformPoint((0.0, 0.0, 20.0))  # a fixed seed, not the wall clock
    np.testing.assert_allclose(again, moved, rtol=0, atol=1e-9)
    images, _, _, resampled = prepare_phases(
        {"arterial": arterial, "portal": portal},
        {"arterial": mask, "portal": mask},
        None,
        Preprocessing(register_phases=True),
    )
    reference = sitk.GetArrayFromImage(arterial)
    before = np.abs(sitk.GetArrayFromImage(portal) - reference).mean()
    after = np.abs(sitk.GetArrayFromImage(images["portal"]) - reference)[2:-2, 4:-4, 4:-4].mean()
    assert resampled == ["portal"] and after < 0.4 * before


def test_methods_text_states_preprocessing_and_harmonisation():
    from engine.config import load_config
    from engine.report import methods_text

    config, _ = load_config(Path(__file__).resolve().parents[2] / "assets" / "study_template.yaml")
    raw = config.canonical()
    assert "ComBat" not in methods_text(raw, {"packages": {}}) and "N4" not in methods_text(raw, {"packages": {}})
    raw["radiomics"]["preprocessing"].update(n4=True, normalize="zscore", register_phases=True)
    raw["grid"]["harmonization"].update(families=["radiomics"], unseen="none")
    text = methods_text(raw, {"packages": {}})
    assert "corrected with N4" in text and "normalised to zero mean and unit SD within the liver mask" in text
    assert "rigid registration" in text and "PyRadiomics resampled images to 1 x 1 x 1 mm voxels (BSpline" in text
    assert "removed with ComBat" in text and "external centres not seen in training were left unharmonised" in text
