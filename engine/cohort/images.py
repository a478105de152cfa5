"""Reading images and masks (SimpleITK): NIfTI, NRRD, PNG/JPEG frames, a DICOM file or a DICOM series folder.

Only pixel data and geometry are read: no DICOM header field (patient name, ID, dates) is ever copied anywhere.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.cohort.file_index import FileIndex


def image_information(
    path: Path, index: FileIndex | None = None
) -> tuple[tuple[int, ...], tuple[float, ...], tuple[float, ...]]:
    """(size, spacing, origin) from the header only (NIfTI, NRRD, PNG, a DICOM file or a DICOM series folder);
    remembered in ``index`` (engine.cohort.file_index) when given."""
    if index is not None:
        size, spacing, origin = index.get(path, "header", lambda: _header_entry(path))
        return tuple(size), tuple(spacing), tuple(origin)
    import SimpleITK as sitk

    if path.is_dir():
        files = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path))
        if not files:
            raise ValueError("no DICOM series in the folder")
        first = _header(files[0])
        size = (*first.GetSize()[:2], len(files))
        spacing = first.GetSpacing()
        if len(files) > 1:  # slice spacing from the slice positions (first to last over n - 1), as ITK's series reader
            extent = np.linalg.norm(np.subtract(_header(files[-1]).GetOrigin(), first.GetOrigin()))
            spacing = (*spacing[:2], float(extent) / (len(files) - 1))
        return size, spacing, first.GetOrigin()
    reader = _header(path)
    return reader.GetSize(), reader.GetSpacing(), reader.GetOrigin()


def _header(path: str | Path):
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return reader


def largest_slice(mask: np.ndarray) -> int:
    """The slice (first axis of a SimpleITK array) where the mask has the most voxels."""
    return int(np.argmax(mask.reshape(mask.shape[0], -1).sum(axis=1)))


def read_image(path: str | Path):
    """A SimpleITK image; 2-D images (ultrasound frames) become one-slice volumes."""
    import SimpleITK as sitk

    path = Path(path)
    if path.is_dir():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path)))
        image = reader.Execute()
    else:
        image = sitk.ReadImage(str(path))
    if image.GetNumberOfComponentsPerPixel() > 1:  # RGB ultrasound frames: luminance
        image = sitk.VectorIndexSelectionCast(image, 0)
    if image.GetDimension() == 2:
        image = sitk.JoinSeries(image)
    return image


def _header_entry(path: str) -> list[list[float]]:
    """A file's header as the index remembers it (lists: JSON)."""
    return [list(v) for v in image_information(Path(path))]
