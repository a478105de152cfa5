"""Masks stored as DICOM-SEG or RTSTRUCT, rasterised onto the image they were drawn on.

A manifest mask entry may point at a DICOM-SEG file (read with highdicom) or an RTSTRUCT file (read with pydicom;
its closed planar contours filled slice by slice, even-odd rule for holes, a voxel inside when its centre is). The
ROI (RTSTRUCT) or segment (SEG) is named by the manifest's ``roi`` column or the config's ``cohort.roi``; a file
with one ROI/segment needs no name. The result is written once as NIfTI next to the manifest
(``.converted_masks/``, named by the hash of the inputs) and the manifest row points at it, so every later step reads
an ordinary mask in the image's geometry.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from engine.errors import ValidationError

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
RTSTRUCT_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.481.3"


def dicom_kind(path: str | Path) -> str | None:
    """``seg``, ``rtstruct`` or None (not a DICOM SEG/RTSTRUCT file)."""
    path = Path(path)
    if path.is_dir() or path.suffix.lower() not in (".dcm", ""):
        return None
    import pydicom

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, force=True, specific_tags=["SOPClassUID", "Modality"])
    except Exception:  # noqa: BLE001 - not DICOM at all: the caller reads it as an image
        return None
    sop, modality = str(header.get("SOPClassUID", "")), str(header.get("Modality", ""))
    if sop == SEG_SOP_CLASS or modality == "SEG":
        return "seg"
    if sop == RTSTRUCT_SOP_CLASS or modality == "RTSTRUCT":
        return "rtstruct"
    return None


def _series_files(image_path: Path) -> list[str]:
    import SimpleITK as sitk

    folder = image_path if image_path.is_dir() else image_path.parent
    return list(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))


def _series_uid(image_path: Path) -> str | None:
    import pydicom

    if not image_path.is_dir():
        return None
    files = _series_files(image_path)
    return str(pydicom.dcmread(files[0], stop_before_pixels=True).SeriesInstanceUID) if files else None


def _pick(names: list[str], roi: str | None, what: str, path: Path) -> str:
    if roi is None:
        if len(names) == 1:
            return names[0]
        raise ValidationError(
            f"{path.name} holds {len(names)} {what}s {names}; name the one to use in the manifest's roi column or "
            "cohort.roi."
        )
    if roi not in names:
        raise ValidationError(f"{path.name}: {what} {roi!r} is not in the file; the {what}s found are {names}.")
    return roi


def rtstruct_mask(path: Path, image, roi: str | None = None, *, image_series: str | None = None) -> np.ndarray:
    """The ROI's closed planar contours filled on ``image``'s grid (z, y, x uint8 array)."""
    import pydicom

    data = pydicom.dcmread(path, force=True)
    names = {str(item.ROIName): int(item.ROINumber) for item in data.StructureSetROISequence}
    chosen = _pick(list(names), roi, "ROI", path)
    referenced = [
        str(series.SeriesInstanceUID)
        for frame in getattr(data, "ReferencedFrameOfReferenceSequence", [])
        for study in getattr(frame, "RTReferencedStudySequence", [])
        for series in getattr(study, "RTReferencedSeriesSequence", [])
    ]
    if image_series and referenced and image_series not in referenced:
        raise ValidationError(
            f"{path.name} references series {referenced}, but the image is series {image_series}; point the mask at "
            "the structure set drawn on this image."
        )
    contours = [
        item
        for roi_contour in data.ROIContourSequence
        if int(roi_contour.ReferencedROINumber) == names[chosen]
        for item in getattr(roi_contour, "ContourSequence", [])
        if str(item.ContourGeometricType) == "CLOSED_PLANAR"
    ]
    if not contours:
        raise ValidationError(f"{path.name}: ROI {chosen!r} has no closed planar contour (a point or an open line?).")
    size = image.GetSize()
    mask = np.zeros(size[::-1], dtype=np.uint8)
    for contour in contours:
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        index = np.array([image.TransformPhysicalPointToContinuousIndex(tuple(p)) for p in points])
        k = int(round(float(np.mean(index[:, 2]))))
        if not 0 <= k < size[2]:
            continue
        mask[k] ^= _fill(index[:, 0], index[:, 1], (size[1], size[0]))
    return mask


def _fill(x: np.ndarray, y: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pixels (rows = y, columns = x) whose centres lie inside the polygon (even-odd rule)."""
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    inside = np.zeros(shape, dtype=bool)
    x_prev, y_prev = np.roll(x, 1), np.roll(y, 1)
    for x0, y0, x1, y1 in zip(x_prev, y_prev, x, y):
        if y0 == y1:
            continue
        crosses = (y0 > rows) != (y1 > rows)
        x_at = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (cols < x_at)
    return inside.astype(np.uint8)


def seg_mask(path: Path, image_path: Path, roi: str | None = None) -> np.ndarray:
    """The segment of a DICOM-SEG on the referenced series' slices, in the order SimpleITK reads them."""
    import highdicom as hd
    import pydicom

    seg = hd.seg.segread(path)
    labels = {str(item.SegmentLabel): int(item.SegmentNumber) for item in seg.SegmentSequence}
    chosen = _pick(list(labels), roi, "segment", path)
    if not image_path.is_dir():
        raise ValidationError(
            f"{path.name} is a DICOM-SEG: its image must be the DICOM series folder it was drawn on; got {image_path}."
        )
    files = _series_files(image_path)
    uids = [str(pydicom.dcmread(f, stop_before_pixels=True).SOPInstanceUID) for f in files]
    referenced = {str(s.SeriesInstanceUID) for s in seg.ReferencedSeriesSequence}
    series = _series_uid(image_path)
    if series not in referenced:
        raise ValidationError(
            f"{path.name} references series {sorted(referenced)}, but the image is series {series}; point the mask "
            "at the segmentation drawn on this image."
        )
    pixels = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[labels[chosen]], assert_missing_frames_are_empty=True
    )
    return (pixels[..., 0] > 0).astype(np.uint8)


def converted_mask(mask_path: Path, image_path: Path, roi: str | None, folder: Path) -> Path | None:
    """The NIfTI mask of a SEG/RTSTRUCT entry (written once into ``folder``), or None for an ordinary mask file."""
    kind = dicom_kind(mask_path)
    if kind is None:
        return None
    import SimpleITK as sitk

    from engine.cohort.images import read_image

    digest = hashlib.sha256(f"{mask_path.resolve()}|{image_path.resolve()}|{roi}".encode())
    digest.update(mask_path.read_bytes())
    target = folder / f"{digest.hexdigest()[:20]}.nii.gz"
    if target.exists():
        return target
    image = read_image(image_path)
    if kind == "rtstruct":
        array = rtstruct_mask(mask_path, image, roi, image_series=_series_uid(image_path))
    else:
        array = seg_mask(mask_path, image_path, roi)
    if array.shape != image.GetSize()[::-1]:
        raise ValidationError(
            f"{mask_path.name}: the segmentation has shape {array.shape}, the image {image.GetSize()[::-1]}."
        )
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(image)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(f".tmp{hash(target) % 10_000}.nii.gz")
    sitk.WriteImage(mask, str(temporary))
    temporary.replace(target)
    return target
