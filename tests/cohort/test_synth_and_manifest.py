"""The synthetic cohort and manifest validation."""

import shutil

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from engine.cohort.manifest import assign_splits, load_manifest
from engine.cohort.images import read_image
from engine.cohort.synth import SynthSpec, clinical_table, synthesize_cohort
from engine.errors import ValidationError
from engine.stats import auc, concordance_index


def test_synthetic_cohort_is_deterministic_and_complete(small_cohort, tmp_path):
    manifest = pd.read_csv(small_cohort)
    assert len(manifest) == 48 and manifest["patient_id"].is_unique
    for column in (
        "label",
        "rfs_time",
        "rfs_event",
        "os_time",
        "os_event",
        "image_arterial",
        "image_portal",
        "image_delayed",
        "mask",
        "mask2",
    ):
        assert column in manifest
    again = synthesize_cohort(  # the same cohort from 2 worker processes: each patient has its own random stream
        tmp_path / "again", SynthSpec(n=48, centers=3, shape=(16, 40, 40), spacing=(1.0, 1.0, 3.0), seed=3), workers=2
    )
    pd.testing.assert_frame_equal(
        pd.read_csv(again).drop(columns=[c for c in manifest if c.startswith(("image", "mask", "liver"))]),
        manifest.drop(columns=[c for c in manifest if c.startswith(("image", "mask", "liver"))]),
    )
    for column in [c for c in manifest if c.startswith(("image", "mask", "liver"))]:
        for path in manifest[column]:
            first = sitk.GetArrayFromImage(read_image(small_cohort.parent / path))
            np.testing.assert_array_equal(first, sitk.GetArrayFromImage(read_image(again.parent / path)), err_msg=path)


def test_latent_traits_drive_outcomes_and_images(small_cohort):
    """Documented signals: the latent traits predict early recurrence and survival; invasiveness raises the
    tumour's arterial enhancement relative to the liver."""
    table = clinical_table(SynthSpec(n=600, seed=11))
    risk = table["latent_heterogeneity"] + table["latent_invasiveness"]
    assert auc(table["label"], risk) > 0.75
    assert concordance_index(table["rfs_time"], table["rfs_event"], risk).c_index > 0.65
    assert 0.2 < table["label"].mean() < 0.6 and table["sex"].eq("M").mean() > 0.7
    manifest = pd.read_csv(small_cohort)
    truth = pd.read_csv(small_cohort.parent / "truth.csv")
    contrast = []
    for _, row in manifest.iterrows():
        image = sitk.GetArrayFromImage(read_image(small_cohort.parent / row["image_arterial"])).astype(float)
        mask = sitk.GetArrayFromImage(read_image(small_cohort.parent / row["mask"])) > 0
        liver = sitk.GetArrayFromImage(read_image(small_cohort.parent / row["liver_mask"])) > 0
        contrast.append(image[mask].mean() - image[liver & ~mask].mean())
    assert np.corrcoef(contrast, truth["latent_invasiveness"])[0, 1] > 0.5


def test_second_reader_disagrees_plausibly(small_cohort):
    manifest = pd.read_csv(small_cohort)
    dice = []
    for _, row in manifest.head(10).iterrows():
        a = sitk.GetArrayFromImage(read_image(small_cohort.parent / row["mask"])) > 0
        b = sitk.GetArrayFromImage(read_image(small_cohort.parent / row["mask2"])) > 0
        dice.append(2 * (a & b).sum() / (a.sum() + b.sum()))
    assert 0.6 < np.mean(dice) < 0.98


def test_ultrasound_frames_load_as_one_slice_volumes(tmp_path):
    manifest = synthesize_cohort(tmp_path, SynthSpec(n=12, centers=1, modality="us", shape=(8, 48, 48), seed=1))
    cohort = load_manifest(manifest)
    assert cohort.phases == ("arterial",)
    image = read_image(cohort.table["image_arterial"][0])
    assert image.GetSize()[2] == 1


def test_manifest_loads_and_splits(small_cohort):
    cohort = load_manifest(small_cohort)
    assert cohort.phases == ("arterial", "portal", "delayed")
    assert set(cohort.survival_endpoints) == {"rfs", "os"}
    assert "age" in cohort.clinical and "mask2" not in cohort.clinical
    split = assign_splits(cohort, external_centers=["C3"], seed=0).table
    assert (split.loc[split["center"] == "C3", "split"] == "external_C3").all()
    inner = split[split["center"] != "C3"]
    assert set(inner["split"]) == {"train", "internal"}
    assert abs((inner["split"] == "train").mean() - 0.7) < 0.06


def test_manifest_reports_every_problem_row_by_row(small_cohort, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(small_cohort.parent, folder)
    table = pd.read_csv(folder / "manifest.csv")
    table.loc[1, "patient_id"] = table.loc[0, "patient_id"]
    table.loc[2, "image_portal"] = "images/missing.nii.gz"
    table.loc[3, "mask"] = "../../etc/passwd"
    table.loc[4, "rfs_time"] = -3
    empty = sitk.Image(40, 40, 16, sitk.sitkUInt8)
    empty.SetSpacing((1.0, 1.0, 3.0))
    sitk.WriteImage(empty, str(folder / "images" / "empty.nii.gz"))
    table.loc[5, "mask2"] = "images/empty.nii.gz"
    small = sitk.Image(20, 20, 16, sitk.sitkUInt8)
    sitk.WriteImage(small, str(folder / "images" / "small.nii.gz"))
    table.to_csv(folder / "manifest.csv", index=False)
    with pytest.raises(ValidationError) as info:
        load_manifest(folder / "manifest.csv")
    message = str(info.value)
    for expected in (
        "patient_id must be unique",
        "row 4",
        "missing.nii.gz",
        "row 5",
        "leaves the manifest's folder",
        "rfs_time must be a finite number >= 0",
    ):
        assert expected in message, message
    table = pd.read_csv(small_cohort)
    table.loc[0, "mask"] = "images/small.nii.gz"
    table.loc[5, "mask2"] = "images/empty.nii.gz"
    table.to_csv(folder / "manifest.csv", index=False)
    with pytest.raises(ValidationError) as info:
        load_manifest(folder / "manifest.csv")
    assert "image size" in str(info.value) and "mask is empty" in str(info.value)


def test_dicom_series_and_png_frames_load(tmp_path):
    """A DICOM series folder loads as a volume (no header field is copied); a PNG frame as a one-slice volume."""
    volume = np.arange(4 * 16 * 16, dtype=np.int16).reshape(4, 16, 16)
    series = tmp_path / "series"
    series.mkdir()
    for index in range(4):
        image = sitk.GetImageFromArray(volume[index])
        image.SetSpacing((0.7, 0.7))
        image.SetMetaData("0010|0010", "DOE^JANE")  # patient name
        image.SetMetaData("0020|0013", str(index + 1))
        image.SetMetaData("0020|0032", f"0\\0\\{2.5 * index}")
        image.SetMetaData("0020|000e", "1.2.826.0.1.3680043.2.1125.1")
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetFileName(str(series / f"slice{index:02d}.dcm"))
        writer.Execute(image)
    loaded = read_image(series)
    assert loaded.GetSize() == (16, 16, 4)
    np.testing.assert_array_equal(np.sort(sitk.GetArrayFromImage(loaded).ravel()), np.sort(volume.ravel()))
    assert not any("DOE" in loaded.GetMetaData(key) for key in loaded.GetMetaDataKeys())
    frame = sitk.GetImageFromArray((np.arange(20 * 30) % 255).astype(np.uint8).reshape(20, 30))
    sitk.WriteImage(frame, str(tmp_path / "frame.png"))
    png = read_image(tmp_path / "frame.png")
    assert png.GetSize() == (30, 20, 1)


def test_incomplete_patients_are_left_out_with_their_reason_and_counted_in_the_flowchart(small_cohort, tmp_path):
    """cohort.exclude_incomplete: a missing image file, an empty mask and a missing outcome each exclude their
    patient (the flowchart's reasons); other problems still fail the load, with the file's row numbers."""
    from engine.plots.flowchart import flowchart_figure
    from engine.pipeline.paper_tables import flowchart_counts

    folder = tmp_path / "incomplete"
    shutil.copytree(small_cohort.parent, folder)
    table = pd.read_csv(folder / "manifest.csv")
    empty = sitk.Image(40, 40, 16, sitk.sitkUInt8)
    empty.SetSpacing((1.0, 1.0, 3.0))
    sitk.WriteImage(empty, str(folder / "images" / "empty.nii.gz"))
    table.loc[2, "image_portal"] = "images/missing.nii.gz"
    table.loc[6, "mask"] = "images/empty.nii.gz"
    table.loc[9, "label"] = np.nan
    table.loc[11, "os_time"] = np.nan
    table.to_csv(folder / "manifest.csv", index=False)
    with pytest.raises(ValidationError, match="missing.nii.gz"):
        load_manifest(folder / "manifest.csv")  # strict by default
    cohort = load_manifest(folder / "manifest.csv", exclude_incomplete=True)
    ids = table["patient_id"].astype(str)
    expected = {ids[2]: "missing image", ids[6]: "empty mask", ids[9]: "missing outcome", ids[11]: "missing outcome"}
    assert dict(zip(cohort.excluded["patient_id"], cohort.excluded["reason"])) == expected
    assert cohort.listed == len(table) and len(cohort.table) == len(table) - 4
    assert not set(expected) & set(cohort.table["patient_id"]) and list(cohort.table.index) == list(range(44))

    split = assign_splits(cohort, external_centers=["C3"], seed=0)
    flow = flowchart_counts(split, split.table)
    assert flow == {
        "manifest": 48,
        "excluded": {"missing outcome": 2, "missing image": 1, "empty mask": 1},
        "analysed": 44,
        "cohorts": {s: int((split.table["split"] == s).sum()) for s in ("train", "internal", "external_C3")},
    }
    assert sum(flow["cohorts"].values()) == flow["analysed"] == flow["manifest"] - sum(flow["excluded"].values())
    texts = " ".join(a.text for a in flowchart_figure(flow).layout.annotations)
    assert "n = 48" in texts and "missing outcome: 2" in texts and "External cohort C3" in texts

    table.loc[20, "rfs_time"] = -3  # not an incomplete patient: still an error, at the file's row
    table.to_csv(folder / "manifest.csv", index=False)
    with pytest.raises(ValidationError, match=r"rfs_time must be a finite number >= 0 .* row 22 \(HCC0021\)"):
        load_manifest(folder / "manifest.csv", exclude_incomplete=True)


def test_tumour_mask_drawn_in_its_box_equals_the_whole_volume_drawn():
    """Oracle: the lobed ball drawn over every voxel (the synthetic cohort's formula before the bounding box)."""
    from engine.cohort.synth import _tumour_mask

    def whole_volume(rng, shape, spacing, centre_mm, radius_mm, irregularity):
        z, y, x = np.indices(shape, dtype=float)
        dz, dy, dx = z * spacing[2] - centre_mm[0], y * spacing[1] - centre_mm[1], x * spacing[0] - centre_mm[2]
        distance = np.sqrt(dz**2 + dy**2 + dx**2)
        theta, phi = np.arctan2(dy, dx), np.arccos(np.clip(dz / (distance + 1e-9), -1, 1))
        lobes = sum(rng.normal() * np.cos(k * theta + rng.uniform(0, 6.3)) * np.sin(phi) ** k for k in (2, 3, 5))
        return distance <= radius_mm * (1 + irregularity * 0.12 * lobes)

    shape, spacing = (24, 64, 64), (0.8, 0.8, 2.5)
    draws = np.random.default_rng(11)
    checked = 0
    for seed in range(60):
        centre = draws.uniform([-10, -10, -10], [70, 60, 60])  # some near or past the volume's edges
        radius, irregularity = draws.uniform(2, 20), draws.choice([0.0, 0.5, 1.0, 3.0, 6.0])
        expected = whole_volume(np.random.default_rng(seed), shape, spacing, centre, radius, irregularity)
        got = _tumour_mask(np.random.default_rng(seed), shape, spacing, centre, radius, irregularity)
        np.testing.assert_array_equal(got, expected)
        checked += expected.any()
    assert checked > 30  # most draws put a tumour in the volume
