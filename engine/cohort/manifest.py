"""Read and validate a cohort manifest (DESIGN.md): one row per patient with outcomes, image and mask paths.

Every problem is reported in one message, row by row, so a user fixes the manifest once. Only pixel data and
geometry are read from images: no DICOM header field (patient name, ID, dates) is ever copied anywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from engine.cohort.file_index import FileIndex, file_digest
from engine.cohort.images import _header_entry, image_information, read_image
from engine.errors import ValidationError
from engine.common.predictions import is_external
from engine.validation import TableRoles, check_table, raise_problems, read_table_file
from engine.validation.rules import survival_pairs_of

OUTCOME_BINARY = "label"
RESERVED = {"patient_id", "split", "center", "roi", OUTCOME_BINARY}


@dataclasses.dataclass(frozen=True)
class Cohort:
    """A validated manifest. Paths in ``table`` are absolute."""

    root: Path
    table: pd.DataFrame
    phases: tuple[str, ...]
    survival_endpoints: tuple[str, ...]
    clinical: tuple[str, ...]
    resampled: dict[str, int] = dataclasses.field(
        default_factory=dict
    )  # phase -> patients put on the first phase's grid
    excluded: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=["patient_id", "reason"])
    )  # patients left out (load_manifest(exclude_incomplete=True)) with the reason
    listed: int = 0  # patients in the manifest file, before exclusions
    notices: tuple[str, ...] = ()  # what the input checks changed and said (engine.validation)

    def mask_column(self, phase: str) -> str:
        return f"mask_{phase}" if f"mask_{phase}" in self.table else "mask"

    def second_reader_column(self, phase: str) -> str | None:
        for name in (f"mask2_{phase}", "mask2"):
            if name in self.table:
                return name
        return None


def read_table(path: str | Path) -> pd.DataFrame:
    """The manifest's table (engine.validation.reading: sniffed CSV or XLSX, binary and non-UTF-8 files refused)."""
    return read_table_file(path, what="manifest")


PATH_PREFIXES = ("image_", "mask", "liver_mask")  # the manifest's columns that hold file paths


def file_columns(table: pd.DataFrame) -> list[str]:
    """The columns of a manifest table that hold image or mask paths."""
    return [c for c in table.columns if str(c).startswith(PATH_PREFIXES)]


def _resolve(root: Path, value: str) -> Path:
    path = (root / str(value)).resolve()
    return path


def load_manifest(
    path: str | Path,
    *,
    clinical: list[str] | None = None,
    check_images: bool = True,
    roi: str | None = None,
    exclude_incomplete: bool = False,
    files: FileIndex | None = None,
    roles: Callable[[pd.DataFrame], TableRoles] | None = None,
) -> Cohort:
    """Read the manifest at ``path`` and validate it (see the module docstring); returns a ``Cohort``. Mask entries
    that are DICOM-SEG or RTSTRUCT files are rasterised onto their image (engine.cohort.dicom_masks; the ROI from the
    ``roi`` column, else ``roi``). ``exclude_incomplete``: a patient with a missing image or mask (no path, no
    file), an empty mask or a missing outcome is left out with the reason (``Cohort.excluded``, the flowchart's
    exclusions) instead of failing the load; every other problem still fails it. ``files`` remembers what was read
    from each file (engine.cohort.file_index): a warm start reads no image. The table's columns are checked by
    engine.validation: ``roles`` gives their roles from the table (a study's: engine.validation.study_roles), by
    default ``label`` and the survival endpoints found; what the checks changed is in ``Cohort.notices``."""
    path = Path(path).resolve()
    root = path.parent
    table = read_table(path)
    if "patient_id" not in table:
        raise_problems(f"manifest {path.name}", check_table(table, TableRoles("manifest")).problems)
    table["patient_id"] = table["patient_id"].map(lambda v: v if pd.isna(v) else str(v).strip())
    listed = len(table)
    excluded = incomplete_patients(table, root) if exclude_incomplete else {}
    table = table[~table["patient_id"].isin(set(excluded))]
    phases = tuple(c[len("image_") :] for c in table.columns if c.startswith("image_"))
    survival = survival_pairs_of(table)
    wanted = [c if c in table else c.removeprefix("log10_") for c in clinical or []]  # a run's log-transformed names
    given = roles(table) if roles else TableRoles("manifest", binary=(OUTCOME_BINARY,) * (OUTCOME_BINARY in table))
    checked = check_table(
        table, dataclasses.replace(given, survival=given.survival or survival, clinical=tuple(wanted))
    )
    table, problems, notices = checked.table, list(checked.problems), list(checked.notices)
    if not phases:
        problems.append("no image_<phase> column (e.g. image_arterial); a feature-table study needs no manifest")
    mask_columns = [c for c in table.columns if c == "mask" or c.startswith("mask_")]
    if phases and not mask_columns:
        problems.append("no mask column (mask, or mask_<phase> per phase)")
    path_names = file_columns(table)
    for column in path_names:
        resolved = []
        for index, value in table[column].items():
            where = f"row {index + 2} ({table.at[index, 'patient_id']}), {column}"
            if pd.isna(value):
                if not column.startswith("mask2"):
                    problems.append(f"{where}: missing path")
                resolved.append(None)
                continue
            target = _resolve(root, value)
            if root not in target.parents:
                problems.append(f"{where}: path {value!r} leaves the manifest's folder; keep images under {root}")
                resolved.append(None)
                continue
            if not target.exists():
                problems.append(f"{where}: file {value!r} not found (paths are relative to the manifest's folder)")
            resolved.append(str(target))
        table[column] = resolved
    if check_images and not problems:
        problems += _convert_dicom_masks(table, phases, root, roi)
    if check_images and not problems:
        masks = [c for c in table.columns if c.startswith("mask")]
        if files is not None:  # what the checks below and the run's digest read, on the index's worker processes
            files.prefetch(
                _file_entries(table, masks), {"header": _header_entry, "labels": _labels, "sha256": file_digest}
            )
        found, resampled = _check_geometry(table, phases, masks, files or FileIndex(None))
        if exclude_incomplete:
            empty = {p for p, message in found if "the mask is empty" in message}
            excluded.update({p: "empty mask" for p in empty})
            table = table[~table["patient_id"].isin(empty)]
            found = [(p, message) for p, message in found if p not in empty]
        problems += [message for _, message in found]
    raise_problems(f"manifest {path.name}", problems)
    clinical_columns = (
        tuple(clinical)
        if clinical is not None
        else tuple(
            c
            for c in table.columns
            if c not in RESERVED and c not in path_names and not c.endswith(("_time", "_event"))
        )
    )
    return Cohort(
        root=root,
        table=table.reset_index(drop=True),
        phases=phases,
        survival_endpoints=survival,
        clinical=clinical_columns,
        resampled=resampled if check_images else {},
        excluded=pd.DataFrame({"patient_id": list(excluded), "reason": list(excluded.values())}, dtype=object),
        listed=listed,
        notices=tuple(notices),
    )


EXCLUSION_REASONS = ("missing image", "missing mask", "empty mask", "missing outcome")


def incomplete_patients(table: pd.DataFrame, root: Path) -> dict[str, str]:
    """Patients a study may leave out, with the first reason: an image or mask without a path or whose file is
    not there (second-reader masks do not count), or a missing outcome (label, or a survival endpoint's time or
    event). Empty masks are found when the masks are read (load_manifest)."""
    reasons: dict[str, str] = {}
    paths = [c for c in table.columns if c.startswith(("image_", "mask")) and not c.startswith("mask2")]
    outcomes = [OUTCOME_BINARY] if OUTCOME_BINARY in table else []
    outcomes += [c for c in table.columns if c.endswith(("_time", "_event"))]
    for _, row in table.iterrows():
        for column in paths:
            value = row[column]
            if pd.isna(value) or not _resolve(root, value).exists():
                reasons.setdefault(
                    row["patient_id"], "missing image" if column.startswith("image_") else "missing mask"
                )
        if any(pd.isna(row[c]) for c in outcomes):
            reasons.setdefault(row["patient_id"], "missing outcome")
    return reasons


REGRID = "; resample the mask onto the image's grid (or export it from the same series) and load again"


def _convert_dicom_masks(table: pd.DataFrame, phases: tuple[str, ...], root: Path, roi: str | None) -> list[str]:
    """Point every SEG/RTSTRUCT mask entry at its rasterised NIfTI (written once under ``.converted_masks/``)."""
    from engine.cohort.dicom_masks import converted_mask

    problems = []
    for column in [c for c in table.columns if c.startswith("mask")]:
        phase = column.split("_", 1)[1] if "_" in column else phases[0]
        for index in table.index:
            value = table.at[index, column]
            if not isinstance(value, str):
                continue
            wanted = table.at[index, "roi"] if "roi" in table and isinstance(table.at[index, "roi"], str) else roi
            try:
                target = converted_mask(
                    Path(value), Path(table.at[index, f"image_{phase}"]), wanted, root / ".converted_masks"
                )
            except ValidationError as error:
                problems.append(f"row {index + 2} ({table.at[index, 'patient_id']}), {column}: {error}")
                continue
            if target is not None:
                table.at[index, column] = str(target)
    return problems


def _check_geometry(
    table: pd.DataFrame, phases: tuple[str, ...], mask_columns: list[str], files: FileIndex
) -> tuple[list[str], dict[str, int]]:
    """Problems, and per phase the number of patients whose image lies on another grid than the first phase's
    (resampled onto it before extraction, engine.features.preprocess) while the shared mask fits the first phase."""
    problems: list[tuple[str, str]] = []  # (patient_id, message)
    resampled: dict[str, int] = {}
    for index, row in table.iterrows():
        who = f"row {index + 2} ({row['patient_id']})"
        for phase in phases:
            mask_column = f"mask_{phase}" if f"mask_{phase}" in table else "mask"
            try:
                image_info = image_information(Path(row[f"image_{phase}"]), files)
                mask_info = image_information(Path(row[mask_column]), files)
                reference = image_information(Path(row[f"image_{phases[0]}"]), files)
            except Exception as error:  # noqa: BLE001 - any unreadable file is reported with its row
                problems.append((row["patient_id"], f"{who}, {phase}: cannot read image or mask ({error})"))
                continue
            if mask_column == "mask" and phase != phases[0] and _same(mask_info, reference):
                if not _same(image_info, reference):
                    resampled[phase] = resampled.get(phase, 0) + 1
                continue  # the shared mask is drawn on the first phase; this phase is resampled onto it
            if image_info[0] != mask_info[0]:
                problems.append(
                    (
                        row["patient_id"],
                        f"{who}, {phase}: image size {image_info[0]} differs from mask size {mask_info[0]}{REGRID}",
                    )
                )
            elif not np.allclose(image_info[1], mask_info[1], rtol=1e-4):
                problems.append(
                    (
                        row["patient_id"],
                        f"{who}, {phase}: image spacing {image_info[1]} differs from mask spacing "
                        f"{mask_info[1]}{REGRID}",
                    )
                )
            elif not np.allclose(image_info[2], mask_info[2], atol=1e-3):
                problems.append(
                    (
                        row["patient_id"],
                        f"{who}, {phase}: image origin {image_info[2]} differs from mask origin {mask_info[2]}{REGRID}",
                    )
                )
        for column in mask_columns:
            if not isinstance(row[column], str):
                continue
            labels = np.asarray(files.get(row[column], "labels", lambda path=row[column]: _labels(path)))
            if labels.size == 0:
                problems.append(
                    (
                        row["patient_id"],
                        f"{who}, {column}: the mask is empty (no labelled voxel); segment the tumour or leave the "
                        "patient out (cohort.exclude_incomplete: true leaves such patients out, in the flowchart)",
                    )
                )
            elif labels.size > 1:
                problems.append(
                    (
                        row["patient_id"],
                        f"{who}, {column}: the mask has {labels.size} labels {labels[:6].tolist()} and no single "
                        "tumour label; every non-zero voxel is taken as tumour, so save the tumour alone (one label, "
                        "e.g. 1) as the mask and other structures (liver) in their own files",
                    )
                )
    return problems, resampled


def _file_entries(table: pd.DataFrame, mask_columns: list[str]) -> list[tuple[str, str]]:
    """(path, kind) of every file's header, digest and, for a mask, its labels."""
    entries = []
    for column in file_columns(table):
        for value in table[column].dropna().astype(str):
            entries += [(value, "sha256"), (value, "header")]
            if column in mask_columns:
                entries.append((value, "labels"))
    return entries


def _labels(path: str) -> list[float]:
    """The non-zero values of a mask."""
    import SimpleITK as sitk

    mask = sitk.GetArrayFromImage(read_image(path))
    return np.unique(mask[mask > 0]).tolist()


def _same(first, second) -> bool:
    return (
        first[0] == second[0]
        and np.allclose(first[1], second[1], rtol=1e-4)
        and np.allclose(first[2], second[2], atol=1e-3)
    )


def assign_splits(
    cohort: Cohort, *, external_centers: list[str] | None = None, train_fraction: float = 0.7, seed: int = 0
) -> Cohort:
    """Keep a given ``split`` column, or assign one: the patients of each of ``external_centers`` become their own
    cohort ``external_<centre>``; the rest is split ``train``/``internal`` at ``train_fraction``, stratified by
    ``label`` when present. A given split may name any cohorts beginning with ``external``."""
    from sklearn.model_selection import train_test_split

    table = cohort.table.copy()
    if "split" in table and table["split"].notna().all():
        table["split"] = table["split"].astype(str)
        bad = {s for s in table["split"] if s not in ("train", "internal") and not is_external(s)}
        if bad:
            raise ValidationError(
                "split must be train, internal, or a name beginning with external (e.g. external_C2); got "
                f"{sorted(bad)}."
            )
        return dataclasses.replace(cohort, table=table)
    centers = table["center"].astype(str) if "center" in table else pd.Series("", index=table.index)
    wanted = [str(c) for c in external_centers or []]
    if wanted and "center" not in table:
        raise ValidationError(
            f"external_centers {wanted} need a center column in the manifest or feature table; add one."
        )
    absent = [c for c in wanted if c not in set(centers)]
    if absent:
        raise ValidationError(f"external_centers {absent} match no patient; centers are {sorted(centers.unique())}.")
    external = centers.isin(wanted).to_numpy()
    table["split"] = np.where(external, "external_" + centers, "")
    rest = table.index[~external]
    stratify = table.loc[rest, OUTCOME_BINARY] if OUTCOME_BINARY in table else None
    train, internal = train_test_split(rest, train_size=train_fraction, random_state=seed, stratify=stratify)
    table.loc[train, "split"] = "train"
    table.loc[internal, "split"] = "internal"
    return dataclasses.replace(cohort, table=table)
