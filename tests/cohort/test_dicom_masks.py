"""DICOM-SEG and RTSTRUCT masks on real public files: highdicom's SEG of pydicom's small CT series, pydicom's own
RTSTRUCT; rasterised onto the image through the manifest, with clear errors for another series or a missing ROI."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pydicom.data
import pytest
import SimpleITK as sitk

from engine.cohort.dicom_masks import _fill
from engine.cohort.manifest import load_manifest
from engine.cohort.images import read_image
from engine.errors import ValidationError

DATA = Path(__file__).resolve().parents[1] / "reference" / "data" / "dicom"
TEST_FILES = Path(pydicom.data.get_testdata_file("rtstruct.dcm")).parent
CT_SERIES = TEST_FILES / "dicomdirtests" / "77654033" / "CT2"  # 4 slices of 16 x 16; the SEGs were drawn on it


def _manifest(folder: Path, image: str, mask: str, roi: str | None = None) -> Path:
    row = {"patient_id": "P1", "label": 1, "image_ct": image, "mask": mask}
    if roi is not None:
        row["roi"] = roi
    pd.DataFrame([row]).to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


def _study(tmp_path: Path, seg: str) -> Path:
    shutil.copytree(CT_SERIES, tmp_path / "ct")
    shutil.copy(DATA / seg, tmp_path / seg)
    return tmp_path


def test_seg_mask_lands_on_the_slices_it_was_drawn_on(tmp_path):
    """highdicom's SEG covers 638 voxels: 0, 127, 256 and 255 on the instances 17106, 17136, 17166, 17196; slice k of
    the rasterised mask is the k-th file of the series as SimpleITK sorts it (by slice position; the series is
    irregularly spaced, so the volume's slice index, not its nominal z, identifies the instance)."""
    folder = _study(tmp_path, "seg_image_ct_binary.dcm")
    cohort = load_manifest(_manifest(folder, "ct", "seg_image_ct_binary.dcm"))
    converted = Path(cohort.table.loc[0, "mask"])
    assert converted.parent.name == ".converted_masks" and converted.suffix == ".gz"
    mask, image = read_image(converted), read_image(folder / "ct")
    assert mask.GetSize() == image.GetSize() and np.allclose(mask.GetOrigin(), image.GetOrigin())
    array = sitk.GetArrayFromImage(mask)
    assert int(array.sum()) == 638
    expected = {"17106": 0, "17136": 127, "17166": 256, "17196": 255}
    order = [Path(f).name for f in sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder / "ct"))]
    positions = [float(pydicom.dcmread(CT_SERIES / name).ImagePositionPatient[2]) for name in order]
    assert positions == sorted(positions) or positions == sorted(positions, reverse=True)
    for name, count in expected.items():
        assert int(array[order.index(name)].sum()) == count, name


def test_seg_with_two_segments_needs_a_name_and_lists_them(tmp_path):
    folder = _study(tmp_path, "seg_image_ct_binary_overlap.dcm")
    with pytest.raises(ValidationError, match=r"holds 2 segments \['first segment', 'second segment'\]; name"):
        load_manifest(_manifest(folder, "ct", "seg_image_ct_binary_overlap.dcm"))
    with pytest.raises(ValidationError, match=r"segment 'liver' is not in the file; the segments found are"):
        load_manifest(_manifest(folder, "ct", "seg_image_ct_binary_overlap.dcm", roi="liver"))
    import highdicom as hd

    seg = hd.seg.segread(folder / "seg_image_ct_binary_overlap.dcm")
    files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder / "ct"))
    uids = [str(pydicom.dcmread(f).SOPInstanceUID) for f in files]
    second = seg.get_pixels_by_source_instance(source_sop_instance_uids=uids, segment_numbers=[2])[..., 0]
    cohort = load_manifest(_manifest(folder, "ct", "seg_image_ct_binary_overlap.dcm", roi="second segment"))
    array = sitk.GetArrayFromImage(read_image(cohort.table.loc[0, "mask"]))
    assert second.sum() > 0 and np.array_equal(array, (second > 0).astype(np.uint8))


def test_seg_drawn_on_another_series_is_refused(tmp_path):
    folder = _study(tmp_path, "seg_image_ct_binary.dcm")
    for path in (folder / "ct").iterdir():
        data = pydicom.dcmread(path)
        data.SeriesInstanceUID = "1.2.3.4.5.6"
        data.save_as(path)
    with pytest.raises(ValidationError, match=r"references series .* but the image is series 1\.2\.3\.4\.5\.6"):
        load_manifest(_manifest(folder, "ct", "seg_image_ct_binary.dcm"))


def _grid(folder: Path) -> None:
    """100 x 80 x 3 voxels of 5 x 5 x 10 mm with centres at x = -247.5 ... 247.5, y = -197.5 ... 197.5, z = -200,
    -190, -180 (the three slices of pydicom's RTSTRUCT), never on a contour edge."""
    image = sitk.Image(100, 80, 3, sitk.sitkInt16)
    image.SetSpacing((5.0, 5.0, 10.0))
    image.SetOrigin((-247.5, -197.5, -200.0))
    sitk.WriteImage(image, str(folder / "grid.nii.gz"))


def test_rtstruct_rectangle_fills_the_known_voxels(tmp_path):
    """pydicom's rtstruct.dcm: ROI 'patient' is the rectangle -200 < x < 200, -150 < y < 150 mm on 3 slices:
    80 x 60 = 4,800 voxel centres per slice, 14,400 in all."""
    shutil.copy(TEST_FILES / "rtstruct.dcm", tmp_path / "rtstruct.dcm")
    _grid(tmp_path)
    cohort = load_manifest(_manifest(tmp_path, "grid.nii.gz", "rtstruct.dcm", roi="patient"))
    array = sitk.GetArrayFromImage(read_image(cohort.table.loc[0, "mask"]))
    assert [int(s.sum()) for s in array] == [4800, 4800, 4800]
    rows, cols = np.nonzero(array[0])
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (10, 89, 10, 69)  # x -197.5..197.5, y -147.5..147.5


def test_rtstruct_roi_errors_list_what_is_there(tmp_path):
    shutil.copy(TEST_FILES / "rtstruct.dcm", tmp_path / "rtstruct.dcm")
    _grid(tmp_path)
    with pytest.raises(ValidationError, match=r"holds 3 ROIs \['patient', 'Isocenter 1', 'Isocenter 2'\]"):
        load_manifest(_manifest(tmp_path, "grid.nii.gz", "rtstruct.dcm"))
    with pytest.raises(ValidationError, match=r"ROI 'tumour' is not in the file; the ROIs found are \['patient'"):
        load_manifest(_manifest(tmp_path, "grid.nii.gz", "rtstruct.dcm", roi="tumour"))
    with pytest.raises(ValidationError, match=r"ROI 'Isocenter 1' has no closed planar contour"):
        load_manifest(_manifest(tmp_path, "grid.nii.gz", "rtstruct.dcm", roi="Isocenter 1"))


def test_fill_by_hand_with_a_hole():
    """A 10 x 10 square (corners at -0.5 and 9.5) minus a 4 x 4 hole (3.5 .. 7.5): 100 - 16 = 84 pixels."""
    outer = _fill(np.array([-0.5, 9.5, 9.5, -0.5]), np.array([-0.5, -0.5, 9.5, 9.5]), (12, 12))
    hole = _fill(np.array([3.5, 7.5, 7.5, 3.5]), np.array([3.5, 3.5, 7.5, 7.5]), (12, 12))
    assert outer.sum() == 100 and hole.sum() == 16 and (outer ^ hole).sum() == 84
    triangle = _fill(np.array([-0.5, 10.0, -0.5]), np.array([-0.5, -0.5, 10.0]), (12, 12))  # x + y < 9.5
    assert triangle.sum() == sum(1 for r in range(12) for c in range(12) if c + r <= 9) == 55
