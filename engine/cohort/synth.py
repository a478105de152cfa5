"""A synthetic HCC cohort: multiphase CT-like (or ultrasound-like) images, tumour masks, a second reader's masks,
clinical variables and outcomes, deterministic per seed. It is the product's embedded demo.

What carries information (tests assert that the pipeline finds it):

- Each patient has three latent traits. ``heterogeneity`` (standard normal) drives the tumour's internal texture
  (amplitude of smooth noise), its shape irregularity and AFP; ``invasiveness`` (standard normal, independent)
  drives arterial hyper-enhancement, portal/delayed washout, the enhancing rim just outside the tumour, tumour
  size and the number of tumours; ``mvi`` (microvascular invasion, present in about 40% of patients,
  independent) shows as a wedge of arterial-phase peritumoral hyper-enhancement 6 to 10 mm outside the tumour
  (a perfusion anomaly), on one side of it.
- What each feature family can see: radiomics of the tumour and a 5 mm ring (the demo's regions) sees
  heterogeneity and invasiveness but not the wedge, which lies beyond the ring; the deep network's crop (the
  tumour plus a 10 mm margin) sees the wedge. So radiomics and deep features carry partly different information
  and fusion helps; a radiomics config with a 10 mm ring (``rings_mm: {ring10: 10}``) sees the wedge too.
- Early recurrence: logit = -1.3 + 1.0 heterogeneity + 1.0 invasiveness + 1.5 mvi + 0.4 cirrhosis
  + 0.3 log10(AFP) - 0.6 (AFP's mean contribution) + noise. Recurrence-free and overall survival: exponential
  times with hazards exp(0.7 heterogeneity + 0.7 invasiveness + 0.8 mvi + 0.3 cirrhosis), administrative
  censoring at 60 months and uniform drop-out.
- Centers differ in intensity offset, noise level and blur, so the external center is harder than internal
  validation.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from engine.errors import ValidationError
from engine.common.parallel import map_patients

SYNTH_VERSION = 4  # bump when the images or tables a seed gives change (the demo regenerates its cohort)

PHASE_BASE = {  # mean HU of liver parenchyma and of the tumour's arterial enhancement, per phase
    "arterial": {"liver": 75.0, "tumour_shift": 35.0, "washout": 0.0},
    "portal": {"liver": 115.0, "tumour_shift": 0.0, "washout": -18.0},
    "delayed": {"liver": 95.0, "tumour_shift": -5.0, "washout": -22.0},
}


@dataclasses.dataclass(frozen=True)
class SynthSpec:
    """Size of the synthetic study. ``shape`` is (z, y, x) voxels, ``spacing`` (x, y, z) in mm."""

    n: int = 300
    centers: int = 3
    center_shares: tuple[float, ...] | None = None  # share of the patients per centre (default: equal)
    phases: tuple[str, ...] = ("arterial", "portal", "delayed")
    modality: str = "ct"
    shape: tuple[int, int, int] = (24, 64, 64)
    spacing: tuple[float, float, float] = (0.8, 0.8, 2.5)
    seed: int = 0
    id_prefix: str = "HCC"  # patient ids: the prefix and a 4-digit number


def _check(spec: SynthSpec) -> None:
    unknown = [p for p in spec.phases if p not in PHASE_BASE]
    if unknown:
        raise ValidationError(f"phases must be among {list(PHASE_BASE)}; got {unknown}.")
    if spec.modality not in ("ct", "us"):
        raise ValidationError(f"modality must be 'ct' or 'us'; got {spec.modality!r}.")
    if spec.center_shares is not None and (len(spec.center_shares) != spec.centers or min(spec.center_shares) <= 0):
        raise ValidationError(
            f"center_shares must give one positive share per centre ({spec.centers}); got {spec.center_shares}."
        )
    if spec.n < 10 or spec.centers < 1:
        raise ValidationError(f"n must be >= 10 and centers >= 1; got n={spec.n}, centers={spec.centers}.")


def clinical_table(spec: SynthSpec) -> pd.DataFrame:
    """Patients, their latent traits, clinical variables and outcomes (no images)."""
    rng = np.random.default_rng([spec.seed, 1])
    n = spec.n
    heterogeneity = rng.normal(size=n)
    invasiveness = rng.normal(size=n)
    cirrhosis = rng.random(n) < 0.75
    hbsag = rng.random(n) < 0.7
    afp = 10 ** np.clip(1.3 + 0.7 * heterogeneity + rng.normal(scale=0.8, size=n), 0.3, 5.0)
    size_mm = np.clip(np.exp(np.log(22) + 0.25 * invasiveness + rng.normal(scale=0.2, size=n)), 10, 45)
    n_tumours = 1 + (rng.random(n) < 1 / (1 + np.exp(-(invasiveness - 1.5)))).astype(int)
    mvi = (np.random.default_rng([spec.seed, 3]).random(n) < 0.4).astype(int)  # own stream: other draws unchanged
    logit = -1.3 + 1.0 * heterogeneity + 1.0 * invasiveness + 1.5 * mvi + 0.4 * cirrhosis + 0.3 * np.log10(afp) - 0.6
    label = (rng.random(n) < 1 / (1 + np.exp(-(logit + rng.normal(scale=0.5, size=n))))).astype(int)
    hazard = np.exp(0.7 * heterogeneity + 0.7 * invasiveness + 0.8 * mvi + 0.3 * cirrhosis)
    dropout = rng.uniform(12, 120, size=n)

    def survival(scale: float) -> tuple[np.ndarray, np.ndarray]:
        event_time = rng.exponential(scale / hazard)
        observed = np.minimum(np.minimum(event_time, dropout), 60.0)
        return np.round(np.maximum(observed, 0.5), 1), (event_time <= np.minimum(dropout, 60.0)).astype(int)

    rfs_time, rfs_event = survival(24.0)
    os_time, os_event = survival(60.0)
    alb = np.round(rng.normal(40 - 3 * cirrhosis, 4), 1)
    table = pd.DataFrame(
        {
            "patient_id": [f"{spec.id_prefix}{i + 1:04d}" for i in range(n)],
            "center": _centers(spec),
            "age": np.round(np.clip(rng.normal(56, 10, n), 25, 85)).astype(int),
            "sex": np.where(rng.random(n) < 0.82, "M", "F"),
            "hbsag": np.where(hbsag, "positive", "negative"),
            "cirrhosis": np.where(cirrhosis, "yes", "no"),
            "afp": np.round(afp, 1),
            "ast": np.round(np.exp(rng.normal(np.log(40) + 0.2 * cirrhosis, 0.4)), 1),
            "alt": np.round(np.exp(rng.normal(np.log(38), 0.45, n)), 1),
            "ggt": np.round(np.exp(rng.normal(np.log(60) + 0.15 * invasiveness, 0.5)), 1),
            "tbil": np.round(np.exp(rng.normal(np.log(15) + 0.2 * cirrhosis, 0.35)), 1),
            "alb": alb,
            "tumour_size_mm": np.round(size_mm, 1),
            "tumour_number": n_tumours,
            "bclc": bclc_stage(size_mm, n_tumours, invasiveness),
            "label": label,
            "rfs_time": rfs_time,
            "rfs_event": rfs_event,
            "os_time": os_time,
            "os_event": os_event,
            "latent_heterogeneity": heterogeneity,
            "latent_invasiveness": invasiveness,
            "latent_mvi": mvi,
        }
    )
    table.insert(
        table.columns.get_loc("bclc") + 1, "albi_grade", albi_grade(table["tbil"].to_numpy(), table["alb"].to_numpy())
    )
    return table


def _centers(spec: SynthSpec) -> list[str]:
    """Centre of each patient, interleaved (patients of every centre spread over the ids): equal shares by default."""
    if spec.centers == 1:
        return ["C1"] * spec.n
    if spec.center_shares is None:
        return [f"C{1 + i % spec.centers}" for i in range(spec.n)]
    bounds = np.cumsum(spec.center_shares) / np.sum(spec.center_shares)
    position = (np.arange(spec.n) * 0.6180339887498949) % 1.0  # golden-ratio sequence: evenly spread, deterministic
    return [f"C{1 + int(k)}" for k in np.minimum(np.searchsorted(bounds, position, side="right"), spec.centers - 1)]


def bclc_stage(size_mm: np.ndarray, n_tumours: np.ndarray, invasiveness: np.ndarray) -> np.ndarray:
    """A BCLC-like stage from tumour burden: C with (latent) vascular invasion (invasiveness > 1.6, about 5%), B for
    multinodular disease, 0 for a single tumour under 20 mm, A otherwise. It sees invasiveness only through size,
    number and the rare C, so it predicts recurrence weakly, as staging systems do in these cohorts."""
    stage = np.where(n_tumours >= 2, "B", np.where(size_mm < 20, "0", "A"))
    return np.where(invasiveness > 1.6, "C", stage)


def albi_grade(bilirubin_umol: np.ndarray, albumin_g: np.ndarray) -> np.ndarray:
    """ALBI grade (Johnson 2015): score = 0.66 log10(bilirubin, umol/L) - 0.085 albumin (g/L); grade 1 at or below
    -2.60, 2 up to -1.39, 3 above. Liver function: related to recurrence only through cirrhosis here."""
    score = 0.66 * np.log10(bilirubin_umol) - 0.085 * albumin_g
    return np.where(score <= -2.60, "1", np.where(score <= -1.39, "2", "3"))


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    from scipy import ndimage  # imported here: the demo's warm start never draws a volume

    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return field / (field.std() + 1e-9)


def _tumour_mask(rng, shape, spacing, centre_mm, radius_mm, irregularity) -> np.ndarray:
    """A lobed ball: radius x (1 + 0.12 irregularity x sum_k a_k cos(k theta + b_k) sin(phi)^k), k = 2, 3, 5.

    Drawn only inside the box that the largest radius the lobes allow can reach: the rest of the volume is
    outside the tumour whatever the angles (same voxels as drawing the whole volume, in a fifth of the time)."""
    lobes = [(k, rng.normal(), rng.uniform(0, 6.3)) for k in (2, 3, 5)]  # per k: amplitude, then phase
    reach = radius_mm * (1 + abs(irregularity) * 0.12 * sum(abs(a) for _, a, _ in lobes))
    steps = (spacing[2], spacing[1], spacing[0])
    box = tuple(
        slice(max(0, int(np.floor((c - reach) / step)) - 1), min(n, int(np.ceil((c + reach) / step)) + 2))
        for c, step, n in zip(centre_mm, steps, shape)
    )
    mask = np.zeros(shape, dtype=bool)
    if any(part.start >= part.stop for part in box):
        return mask
    z, y, x = (np.arange(part.start, part.stop, dtype=float) for part in box)
    dz = (z * spacing[2] - centre_mm[0])[:, None, None]
    dy = (y * spacing[1] - centre_mm[1])[None, :, None]
    dx = (x * spacing[0] - centre_mm[2])[None, None, :]
    distance = np.sqrt(dz**2 + dy**2 + dx**2)
    theta, phi = np.arctan2(dy, dx), np.arccos(np.clip(dz / (distance + 1e-9), -1, 1))
    shape_term = sum(a * np.cos(k * theta + b) * np.sin(phi) ** k for k, a, b in lobes)
    mask[box] = distance <= radius_mm * (1 + irregularity * 0.12 * shape_term)
    return mask


def _perfusion_wedge(rng, tumour: np.ndarray, spacing) -> np.ndarray:
    """Liver 6 to 10 mm outside the tumour, within a 150-degree sector (in-plane) pointing a random way."""
    from scipy import ndimage  # imported here: the demo's warm start never draws a volume

    distance = ndimage.distance_transform_edt(~tumour, sampling=(spacing[2], spacing[1], spacing[0]))
    zs, ys, xs = np.nonzero(tumour)
    _, y, x = np.indices(tumour.shape, dtype=float)
    angle = np.arctan2((y - ys.mean()) * spacing[1], (x - xs.mean()) * spacing[0]) - rng.uniform(-np.pi, np.pi)
    return (distance > 6.0) & (distance <= 10.0) & (np.cos(angle) > np.cos(np.radians(75)))


def patient_volumes(row: pd.Series, spec: SynthSpec, center_index: int) -> dict[str, np.ndarray]:
    """Images (one per phase, int16 HU), the tumour mask, the second reader's mask and the liver mask."""
    from scipy import ndimage  # imported here: the demo's warm start never draws a volume

    rng = np.random.default_rng([spec.seed, 2, int(row["patient_id"][len(spec.id_prefix) :])])
    shape, spacing = spec.shape, spec.spacing
    extent = np.array([shape[0] * spacing[2], shape[1] * spacing[1], shape[2] * spacing[0]])
    z, y, x = np.indices(shape, dtype=float)
    liver = ((z * spacing[2] - extent[0] / 2) / (extent[0] * 0.62)) ** 2 + (
        (y * spacing[1] - extent[1] / 2) / (extent[1] * 0.47)
    ) ** 2 + ((x * spacing[0] - extent[2] / 2) / (extent[2] * 0.47)) ** 2 <= 1
    heterogeneity, invasiveness = row["latent_heterogeneity"], row["latent_invasiveness"]
    radius = min(row["tumour_size_mm"] / 2, extent[1] * 0.3)
    centre = extent / 2 + rng.uniform(-1, 1, 3) * np.array([extent[0] * 0.1, 3, 3])
    tumour = _tumour_mask(rng, shape, spacing, centre, radius, 1 + max(heterogeneity, -1)) & liver
    for _ in range(int(row["tumour_number"]) - 1):
        satellite = centre + rng.choice([-1, 1], 3) * np.array([extent[0] * 0.15, radius * 1.7, radius * 1.7])
        tumour |= _tumour_mask(rng, shape, spacing, satellite, radius * 0.45, 0.5) & liver
    if tumour.sum() < 20:
        tumour = _tumour_mask(rng, shape, spacing, extent / 2, 6.0, 0.0)
    rim = ndimage.binary_dilation(tumour, iterations=2) & ~tumour & liver
    wedge = _perfusion_wedge(rng, tumour, spacing) & liver if row["latent_mvi"] else np.zeros(shape, bool)
    reader2 = ndimage.binary_dilation(tumour) if rng.random() < 0.5 else ndimage.binary_erosion(tumour)
    reader2 = reader2 ^ (ndimage.binary_dilation(tumour) & ~ndimage.binary_erosion(tumour) & (rng.random(shape) < 0.15))
    if reader2.sum() < 10:
        reader2 = tumour.copy()
    cirrhotic = row["cirrhosis"] == "yes"
    parenchyma_texture = _smooth_noise(rng, shape, 1.5 if cirrhotic else 3.0) * (9 if cirrhotic else 4)
    tumour_texture = _smooth_noise(rng, shape, 1.0) * (8 + 7 * np.exp(0.6 * heterogeneity))
    center_offset = [0.0, 12.0, -10.0, 6.0][center_index % 4]
    center_noise = [6.0, 9.0, 14.0, 11.0][center_index % 4]
    center_blur = [0.0, 0.6, 1.1, 0.8][center_index % 4]
    images = {}
    for phase in spec.phases:
        base = PHASE_BASE[phase]
        volume = np.where(liver, base["liver"], 35.0) + parenchyma_texture * liver
        volume = volume + np.where(z < 3, -60.0, 0.0)  # a slab of fat under the liver
        enhancement = base["tumour_shift"] * (1 + 0.45 * invasiveness) + base["washout"] * (1 + 0.5 * invasiveness)
        volume = np.where(tumour, base["liver"] + enhancement + tumour_texture, volume)
        if phase == "arterial":
            volume = volume + rim * (10 + 12 * max(invasiveness, -0.5)) + wedge * 35.0
        if center_blur:
            volume = ndimage.gaussian_filter(volume, center_blur)
        volume = volume + center_offset + rng.normal(scale=center_noise, size=shape)
        if spec.modality == "us":
            volume = np.clip(volume, 1, None) * rng.rayleigh(scale=0.8, size=shape)
        images[phase] = np.clip(np.round(volume), -1024, 3000).astype(np.int16)
    return {
        "images": images,
        "mask": tumour.astype(np.uint8),
        "mask2": reader2.astype(np.uint8),
        "liver": liver.astype(np.uint8),
    }


def _write(array: np.ndarray, path: Path, spacing: tuple[float, float, float]) -> None:
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    sitk.WriteImage(image, str(path), useCompression=True)  # gzip NRRD: ITK reads it 2.5x faster than a .nii.gz


def _write_patient(task) -> dict[str, str]:
    """Draw one patient's volumes (their own random stream) and write them; the manifest's file columns."""
    row, spec, center_index, out = task
    volumes = patient_volumes(row, spec, center_index)
    pid = row["patient_id"]
    entry = {}
    for phase, image in volumes["images"].items():
        entry[f"image_{phase}"] = f"images/{pid}_{phase}.nrrd"
        _write(image, out / entry[f"image_{phase}"], spec.spacing)
    for name in ("mask", "mask2", "liver"):
        entry[name if name != "liver" else "liver_mask"] = f"images/{pid}_{name}.nrrd"
        _write(volumes[name], out / f"images/{pid}_{name}.nrrd", spec.spacing)
    return entry


def synthesize_cohort(out: str | Path, spec: SynthSpec = SynthSpec(), progress=None, *, workers: int = 1) -> Path:
    """Write the cohort under ``out`` (gzip-compressed NRRD images and masks per patient) and return the manifest path.

    The manifest follows DESIGN.md: ``patient_id, center, label, rfs_time, rfs_event, os_time, os_event,
    image_<phase>..., mask, mask2, liver_mask`` and the clinical columns; the latent traits are kept in
    ``truth.csv`` beside it (not in the manifest, so no model can peek). Each patient draws from its own random
    stream, so ``workers`` processes write the same cohort as one.
    """
    _check(spec)
    out = Path(out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    table = clinical_table(spec)
    if spec.modality == "us":
        spec = dataclasses.replace(spec, shape=(1, spec.shape[1], spec.shape[2]), phases=spec.phases[:1])
    centers = sorted(table["center"].unique())
    tasks = {row["patient_id"]: (row, spec, centers.index(row["center"]), out) for _, row in table.iterrows()}
    written = map_patients(_write_patient, tasks, workers=workers, progress=progress)
    failed = {pid: error for pid, error in written.items() if isinstance(error, Exception)}
    if failed:
        pid, error = next(iter(failed.items()))
        raise OSError(f"could not write the synthetic images of {len(failed)} patient(s) under {out}: {pid}: {error}")
    rows = [written[pid] for pid in table["patient_id"]]
    latent = ["latent_heterogeneity", "latent_invasiveness", "latent_mvi"]
    manifest = pd.concat([table.drop(columns=latent), pd.DataFrame(rows)], axis=1)
    manifest.to_csv(out / "manifest.csv", index=False)
    table[["patient_id", *latent]].to_csv(out / "truth.csv", index=False)
    return out / "manifest.csv"


OUTCOMES = ("label", "rfs_time", "rfs_event", "os_time", "os_event")


def new_patients_manifest(cohort_folder: str | Path) -> Path:
    """Where ``synthesize_new_patients`` puts the manifest of a cohort's new patients (beside the cohort)."""
    return Path(cohort_folder) / "new_patients" / "manifest.csv"


def synthesize_new_patients(out: str | Path, spec: SynthSpec, n: int = 12) -> Path:
    """New patients for a run trained on ``spec``'s cohort, as a clinic has them before any outcome: drawn from
    another seed (ids NEW0001...), the same centres, phases and clinical columns, one reader's mask, and no label or
    follow-up. Returns their manifest (the Predict page and ``hcc-study predict --manifest`` score it)."""
    new = dataclasses.replace(spec, n=n, seed=spec.seed + 1, id_prefix="NEW")
    manifest = synthesize_cohort(out, new)
    table = pd.read_csv(manifest)
    table.drop(columns=[*OUTCOMES, "mask2"]).to_csv(manifest, index=False)
    return manifest
