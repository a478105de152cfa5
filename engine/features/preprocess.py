"""Image preprocessing before radiomics extraction (MR above all): phases onto one grid, N4 bias-field correction,
intensity normalisation. All SimpleITK; the settings are ``radiomics.preprocessing`` (engine.config) and enter the
feature cache key, the run's provenance and the methods text.

- Phases whose geometry (size, spacing, origin, direction) differs from the reference phase (the first one) are
  resampled onto it: images with linear interpolation, masks with nearest neighbour. ``register_phases`` (off by
  default: phases of one session rarely move) first aligns each phase to the reference with a rigid (Euler 3-D)
  registration maximising Mattes mutual information, and resamples the phase (and its own mask) through it.
- N4 (Tustison et al. 2010; SimpleITK's N4BiasFieldCorrectionImageFilter) estimates a smooth multiplicative bias
  field inside the liver mask when the manifest gives one (else an Otsu foreground) on a 4x shrunk image, and divides
  the full-resolution image by it.
- Normalisation: ``zscore`` (mean 0, SD 1) or ``percentile`` (1st percentile -> 0, 99th -> 1) of the intensities in
  the same reference region. CT keeps its Hounsfield units: leave both off for CT.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.config import PreprocessingConfig as Preprocessing


def same_geometry(image, reference) -> bool:
    return (
        image.GetSize() == reference.GetSize()
        and np.allclose(image.GetSpacing(), reference.GetSpacing(), rtol=1e-4)
        and np.allclose(image.GetOrigin(), reference.GetOrigin(), atol=1e-3)
        and np.allclose(image.GetDirection(), reference.GetDirection(), atol=1e-4)
    )


def onto(image, reference, *, mask: bool = False):
    """``image`` resampled onto ``reference``'s grid (linear; nearest neighbour for a mask)."""
    import SimpleITK as sitk

    interpolator = sitk.sitkNearestNeighbor if mask else sitk.sitkLinear
    return sitk.Resample(image, reference, sitk.Transform(), interpolator, 0.0, image.GetPixelID())


def rigid_transform(moving, fixed):
    """The rigid (Euler 3-D) transform that maps ``fixed``'s physical points onto ``moving``'s, by Mattes mutual
    information (50 bins, 20% random samples, fixed seed), regular-step gradient descent, 3 resolution levels. The
    seed is 1: SimpleITK reads a seed of 0 as "from the wall clock" (sitkWallClock), which made every run differ."""
    import SimpleITK as sitk

    fixed, moving = sitk.Cast(fixed, sitk.sitkFloat32), sitk.Cast(moving, sitk.sitkFloat32)
    initial = sitk.CenteredTransformInitializer(
        fixed, moving, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentage(0.2, seed=1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-3, numberOfIterations=200)
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel([4, 2, 1])
    method.SetSmoothingSigmasPerLevel([2, 1, 0])
    method.SetInitialTransform(initial, inPlace=False)
    return method.Execute(fixed, moving)


def reference_region(image, liver=None):
    """The voxels intensities are estimated on: the liver mask when given, else an Otsu foreground."""
    import SimpleITK as sitk

    if liver is not None:
        region = sitk.Cast(liver > 0, sitk.sitkUInt8)
        region.CopyInformation(image)
        return region
    return sitk.OtsuThreshold(sitk.Cast(image, sitk.sitkFloat32), 0, 1, 200)


def n4(image, region, *, shrink: int = 4, iterations: tuple[int, ...] = (50, 50, 50, 50)):
    """The image divided by its N4 bias field (estimated in ``region`` on a shrunk copy), as float32."""
    import SimpleITK as sitk

    original = sitk.Cast(image, sitk.sitkFloat32)
    offset = float(min(0.0, sitk.GetArrayViewFromImage(original).min())) - 1.0  # N4 needs positive intensities
    positive = original - offset
    factors = [shrink if size >= 4 * shrink else 1 for size in positive.GetSize()]
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(iterations))
    corrector.Execute(sitk.Shrink(positive, factors), sitk.Shrink(region, factors))
    bias = sitk.Exp(corrector.GetLogBiasFieldAsImage(positive))
    return positive / bias + offset


def normalise(image, region, method: str):
    """Intensities rescaled by ``method`` (zscore or percentile) of the voxels in ``region``."""
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(sitk.Cast(image, sitk.sitkFloat32))
    inside = array[sitk.GetArrayViewFromImage(region) > 0]
    if method == "zscore":
        scaled = (array - inside.mean()) / max(float(inside.std()), 1e-6)
    else:
        low, high = np.percentile(inside, [1, 99])
        scaled = (array - low) / max(float(high - low), 1e-6)
    out = sitk.GetImageFromArray(scaled.astype(np.float32))
    out.CopyInformation(image)
    return out


def prepare_phases(
    images: dict[str, Any], masks: dict[str, Any], liver, settings: Preprocessing, *, shared_mask: bool = True
):
    """The phases (and their masks) on the reference phase's grid, bias-corrected and normalised per ``settings``;
    ``shared_mask``: one mask drawn on the first phase (else each phase has its own, moved with its phase).
    Returns (images, masks, liver, resampled phase names)."""
    phases = list(images)
    reference = images[phases[0]]
    resampled = []
    if settings.register_phases:
        import SimpleITK as sitk

        for phase in phases[1:]:
            transform = rigid_transform(images[phase], reference)
            images[phase] = sitk.Resample(
                images[phase], reference, transform, sitk.sitkLinear, 0.0, images[phase].GetPixelID()
            )
            if not shared_mask:
                masks[phase] = sitk.Resample(
                    masks[phase], reference, transform, sitk.sitkNearestNeighbor, 0, masks[phase].GetPixelID()
                )
            resampled.append(phase)
    if settings.resample_phases:
        for phase in phases[1:]:
            if phase not in resampled and not same_geometry(images[phase], reference):
                images[phase] = onto(images[phase], reference)
                resampled.append(phase)
        for phase, mask in masks.items():
            if not same_geometry(mask, reference):
                masks[phase] = onto(mask, reference, mask=True)
        if liver is not None and not same_geometry(liver, reference):
            liver = onto(liver, reference, mask=True)
    for phase in phases:
        if settings.n4 or settings.normalize != "none":
            region = reference_region(images[phase], liver)
            if settings.n4:
                images[phase] = n4(images[phase], region)
            if settings.normalize != "none":
                images[phase] = normalise(images[phase], region, settings.normalize)
    return images, masks, liver, resampled


def preprocessing_text(settings: dict[str, Any], extraction: dict[str, Any] | None = None) -> str:
    """Methods sentences for the preprocessing settings and the extraction preset's voxel resampling ('' when
    nothing is done)."""
    steps = []
    if settings.get("register_phases"):
        steps.append(
            "each phase was aligned to the first by a rigid registration (SimpleITK, Mattes mutual information) and "
            "resampled onto it (linear interpolation for images, nearest neighbour for masks)"
        )
    elif settings.get("resample_phases", True):
        steps.append(
            "phases whose geometry differed from the first phase were resampled onto it (linear interpolation for "
            "images, nearest neighbour for masks; no registration)"
        )
    if settings.get("n4"):
        steps.append(
            "intensity non-uniformity was corrected with N4 (SimpleITK; bias field estimated in the liver mask, or an "
            "Otsu foreground without one, on a 4x shrunk image)"
        )
    normalize = settings.get("normalize", "none")
    if normalize != "none":
        how = "to zero mean and unit SD" if normalize == "zscore" else "from the 1st-99th percentile to 0-1"
        steps.append(f"intensities were normalised {how} within the liver mask (else the Otsu foreground)")
    text = ("Before extraction, " + "; ".join(steps) + ".") if steps else ""
    spacing = (extraction or {}).get("resampledPixelSpacing")
    if spacing:
        interpolator = str((extraction or {}).get("interpolator", "sitkBSpline")).removeprefix("sitk")
        text += (
            f" PyRadiomics resampled images to {' x '.join(f'{v:g}' for v in spacing)} mm voxels ({interpolator} "
            "interpolation; masks nearest neighbour) before computing features."
        )
    return text.strip()
